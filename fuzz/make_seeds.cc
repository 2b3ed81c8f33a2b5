// Writes the binary seed inputs of fuzz/corpus/ (the text ones are written
// by hand): `fuzz_make_seeds DIR` fills DIR/<target>/ for record_codec,
// compaction_filter, hint_codec, data_dir and rpc_handlers. Run it again
// after a change to proto/kv.proto or to a target's input layout, then
// commit what changed (fuzz/README.md).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuzz/fake_peers.h"
#include "proto/kv.pb.h"
#include "src/dht/node_id.h"
#include "src/replication/hint_store.h"
#include "src/replication/ownership.h"
#include "src/storage/record_codec.h"

namespace {

namespace v1 = kvstore::v1;
using kv::storage::Record;

std::string g_root;

void Write(const std::string& target, const std::string& name, const std::string& bytes) {
  const std::filesystem::path dir = std::filesystem::path(g_root) / target;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

// Builds input for FuzzedDataProvider: strings are read from the front,
// integers from the back (most significant byte first).
class FdpInput {
 public:
  // A value of `bytes` bytes as ConsumeIntegralInRange reads it (`raw` is
  // the value minus the range's minimum).
  FdpInput& Int(uint64_t raw, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) back_.push_back(static_cast<char>(raw >> (8 * i)));
    return *this;
  }
  FdpInput& Int64(int64_t v) { return Int(static_cast<uint64_t>(v) ^ (uint64_t{1} << 63), 8); }
  // ConsumeRandomLengthString: a backslash is doubled, "\\" + other ends it.
  FdpInput& Str(const std::string& s) {
    for (char c : s) {
      front_.push_back(c);
      if (c == '\\') front_.push_back('\\');
    }
    front_ += "\\.";
    return *this;
  }
  std::string Bytes() const { return front_ + std::string(back_.rbegin(), back_.rend()); }

 private:
  std::string front_, back_;
};

const int64_t kNowMs = 1'765'000'000'000;  // December 2025
const std::string kWriter = kv::dht::NodeId::FromKey("fuzz-peer-1").ToHex();

uint64_t Hlc(int64_t ms, uint16_t logical = 0) {
  return (static_cast<uint64_t>(ms) << 16) | logical;
}

std::vector<std::pair<std::string, Record>> Records() {
  return {
      {"live", {.value = "hello", .version = {Hlc(kNowMs), kWriter}}},
      {"tombstone", {.version = {Hlc(kNowMs - 7'200'000, 3), kWriter}, .tombstone = true}},
      {"expiring",
       {.value = "bye", .version = {Hlc(kNowMs - 5000), kWriter}, .expires_at_ms = kNowMs - 1}},
      {"empty", {}},
  };
}

void Codecs() {
  for (const auto& [name, rec] : Records()) {
    const std::string encoded = kv::storage::EncodeRecord(rec);
    Write("record_codec", name, encoded);
    // compaction_filter: now, then the grace (1 h), then the value.
    Write("compaction_filter", name,
          FdpInput().Int64(kNowMs).Int(3'600'000, 8).Bytes().insert(0, encoded));
    Write("hint_codec", name,
          kv::replication::EncodeHint(kv::dht::NodeId::FromKey("fuzz-peer-2"), "key-" + name, rec));
  }
}

void DataDir() {
  const auto records = Records();
  FdpInput good;
  good.Int64(kNowMs).Int(3'600'000, 8);
  for (const auto& [name, rec] : records) {
    good.Int(0, 1).Str(name).Str(kv::storage::EncodeRecord(rec));  // data
  }
  good.Int(0, 1).Str("damaged").Str("\x01\x00short");
  good.Int(1, 1).Int(1, 1).Int(0, 1).Str(kWriter);  // meta node_id
  good.Int(1, 1).Int(1, 1).Int(1, 1).Str(absl::StrCat(kWriter, " 10.0.0.1:7000\n"));
  good.Int(1, 1).Int(1, 1).Int(2, 1).Str("123456789");  // hlc_upper_bound
  good.Int(2, 1).Int(1, 1).Int(42, 8).Str(kv::replication::EncodeHint(
      kv::dht::NodeId::FromKey("fuzz-peer-2"), "hinted", records[0].second));
  Write("data_dir", "mixed", good.Bytes());

  FdpInput bad;
  bad.Int64(kNowMs).Int(0, 8);
  bad.Int(1, 1).Int(1, 1).Int(0, 1).Str("not an id");
  bad.Int(1, 1).Int(1, 1).Int(1, 1).Str("no-address-here\n");
  bad.Int(1, 1).Int(1, 1).Int(2, 1).Str("-1");
  bad.Int(2, 1).Int(0, 1).Str("seven").Str("short hint");
  Write("data_dir", "damaged_meta", bad.Bytes());
}

// rpc_handlers: the method's index (rpc_handlers_fuzzer.cc), then the request.
void Rpc(const std::string& name, int method, const google::protobuf::Message& m) {
  Write("rpc_handlers", name, std::string(1, static_cast<char>(method)) + m.SerializeAsString());
}

void RpcHandlers() {
  const kv::dht::Contact peer = kv::fuzz::FakePeers::Contacts()[0];
  v1::NodeInfo from;
  from.set_id(peer.id.ToHex());
  from.set_address(peer.address);
  v1::Record record;
  record.set_value("v");
  record.mutable_version()->set_timestamp(Hlc(kNowMs));
  record.mutable_version()->set_node_id(peer.id.ToHex());

  v1::PutRequest put;
  put.set_key("k");
  put.set_value("v");
  Rpc("put", 0, put);
  put.set_consistency(v1::ALL);
  put.set_ttl_seconds(60);
  Rpc("put_all_ttl", 0, put);
  v1::GetRequest get;
  get.set_key("k");
  Rpc("get", 1, get);
  v1::DeleteRequest del;
  del.set_key("k");
  del.set_consistency(v1::ONE);
  Rpc("delete", 2, del);
  v1::BatchRequest batch;
  *batch.add_ops()->mutable_put() = put;
  *batch.add_ops()->mutable_get() = get;
  *batch.add_ops()->mutable_delete_() = del;
  batch.add_ops();
  Rpc("batch", 3, batch);
  v1::JoinRequest join;
  *join.mutable_node() = from;
  Rpc("join", 4, join);
  v1::PingRequest ping;
  Rpc("ping", 5, ping);
  *ping.mutable_from() = from;
  Rpc("ping_from", 5, ping);
  // Heartbeat: length-prefixed beats, the second with a clock echo.
  v1::HeartbeatMessage beat;
  *beat.mutable_from() = from;
  beat.set_sequence(1);
  beat.set_sent_unix_micros(kNowMs * 1000);
  std::string beats;
  std::string one = beat.SerializeAsString();
  beats += static_cast<char>(one.size()) + one;
  beat.set_sequence(2);
  beat.set_echo_sent_unix_micros(kNowMs * 1000 - 500);
  beat.set_echo_received_unix_micros(kNowMs * 1000 - 200);
  one = beat.SerializeAsString();
  beats += static_cast<char>(one.size()) + one;
  Write("rpc_handlers", "heartbeat", std::string(1, 6) + beats);
  Rpc("peers", 7, v1::PeersRequest());
  Rpc("stats", 8, v1::StatsRequest());
  v1::DropKeysRequest drop;
  drop.set_prefix("k");
  drop.set_limit(2);
  Rpc("drop_keys", 9, drop);
  v1::LocateRequest locate;
  locate.set_key("k");
  Rpc("locate", 10, locate);
  v1::SnapshotRequest snapshot;
  snapshot.set_name("nightly-1");
  Rpc("snapshot", 11, snapshot);
  snapshot.set_name("../etc");
  Rpc("snapshot_escape", 11, snapshot);
  v1::FindNodeRequest find;
  *find.mutable_from() = from;
  find.set_target(kv::dht::NodeId::FromKey("k").ToHex());
  Rpc("find_node", 12, find);
  v1::StoreRequest store;
  *store.mutable_from() = from;
  store.set_key("k");
  *store.mutable_record() = record;
  Rpc("store", 13, store);
  store.set_hint_for(kv::fuzz::FakePeers::Contacts()[1].id.ToHex());
  Rpc("store_hint", 13, store);
  v1::StoreBatchRequest store_batch;
  *store_batch.mutable_from() = from;
  v1::StoreItem* item = store_batch.add_items();
  item->set_key("k2");
  *item->mutable_record() = record;
  item = store_batch.add_items();
  item->set_key("k3");
  *item->mutable_record() = record;
  item->mutable_record()->set_tombstone(true);
  Rpc("store_batch", 14, store_batch);
  v1::FetchRequest fetch;
  *fetch.mutable_from() = from;
  fetch.set_key("k");
  Rpc("fetch", 15, fetch);
  v1::FetchBatchRequest fetch_batch;
  *fetch_batch.mutable_from() = from;
  fetch_batch.add_keys("k");
  fetch_batch.add_keys("k2");
  Rpc("fetch_batch", 16, fetch_batch);
  v1::DigestRequest digest;
  *digest.mutable_from() = from;
  digest.set_root(12345);
  Rpc("sync_digest_root", 17, digest);
  for (int i = 0; i < 1024; ++i) digest.add_buckets(i == 7 ? 99 : 0);
  Rpc("sync_digest_full", 17, digest);
  v1::ReconcileRequest reconcile;
  *reconcile.mutable_from() = from;
  reconcile.add_buckets(kv::replication::BucketOf(kv::dht::NodeId::FromKey("k")));
  v1::KeyVersion* kv_version = reconcile.add_keys();
  kv_version->set_key("k");
  *kv_version->mutable_version() = record.version();
  Rpc("reconcile", 18, reconcile);
  v1::LeaveNotice leaving;
  *leaving.mutable_from() = from;
  Rpc("leaving", 19, leaving);
  v1::GossipRequest gossip;
  *gossip.mutable_from() = from;
  gossip.set_epoch(1);
  v1::Rumour* rumour = gossip.add_rumours();
  rumour->set_id(peer.id.ToHex());
  rumour->set_down(true);
  rumour->set_epoch(1);
  Rpc("gossip", 20, gossip);
  v1::TreeRequest tree;
  *tree.mutable_from() = from;
  for (uint32_t p = 0; p < 16; ++p) {
    v1::TreeRange* range = tree.add_ranges();
    range->set_prefix(p);
    range->set_depth(4);
    range->set_hash(p == 3 ? 42 : 0);
  }
  Rpc("sync_tree", 21, tree);
  reconcile.clear_buckets();
  reconcile.add_leaves(kv::replication::LeafOfId(kv::dht::NodeId::FromKey("k")));
  Rpc("reconcile_leaves", 18, reconcile);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR (fuzz/corpus)\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  Codecs();
  DataDir();
  RpcHandlers();
  return 0;
}
