// A data dir written by someone else (a damaged disk, an older or newer
// build, a hostile copy): raw keys and values in the three column families
// of RocksDbEngine (src/storage/rocksdb_engine.h), then everything a node
// reads from them at start and while it serves: the records (Read, ForEach,
// Size, Apply, EraseIf, Purge, and the compaction filter through
// CompactAll), the meta column family (src/node/durable_state.h: node ID,
// contacts, clock bound) and the hints (HintStore::Open over ForEachHint).
// RocksDB runs on an in-memory Env, so no file is written.
//
// Input (FuzzedDataProvider): the time and tombstone grace the engine
// judges records at, then up to 32 entries of column family, key and value.
// Checks each reader against the codec's verdict on the raw bytes.
#include <fuzzer/FuzzedDataProvider.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/time/time.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/quiet_logs.h"
#include "src/dht/node_id.h"
#include "src/node/durable_state.h"
#include "src/replication/hint_store.h"
#include "src/storage/record_codec.h"
#include "src/storage/rocksdb_engine.h"
#include "src/util/clock.h"

namespace {

constexpr char kDir[] = "/fuzz/data-dir";
constexpr const char* kMetaKeys[] = {"node_id", "contacts", "hlc_upper_bound"};

rocksdb::Env* MemEnv() {
  static rocksdb::Env* const env = rocksdb::NewMemEnv(rocksdb::Env::Default());
  return env;
}

rocksdb::Options DbOptions() {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.env = MemEnv();
  return o;
}

// What the input writes: the last value of each key, per column family.
struct Written {
  std::map<std::string, std::string> data, meta, hints;
};

Written WriteRaw(FuzzedDataProvider& in) {
  Written w;
  const rocksdb::Options options = DbOptions();
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {"default", options}, {"meta", options}, {"hints", options}};
  FUZZ_CHECK(rocksdb::DB::Open(options, kDir, families, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  for (int i = 0; i < 32 && in.remaining_bytes() > 0; ++i) {
    const int cf = in.ConsumeIntegralInRange(0, 2);
    std::string key;
    if (cf == 1 && in.ConsumeBool()) {
      key = kMetaKeys[in.ConsumeIntegralInRange<size_t>(0, std::size(kMetaKeys) - 1)];
    } else if (cf == 2 && in.ConsumeBool()) {
      const uint64_t seq = in.ConsumeIntegral<uint64_t>();
      for (int b = 7; b >= 0; --b) key.push_back(static_cast<char>(seq >> (8 * b)));
    } else {
      key = in.ConsumeRandomLengthString(64);
    }
    const std::string value = in.ConsumeRandomLengthString(512);
    FUZZ_CHECK(db->Put(rocksdb::WriteOptions(), handles[cf], key, value).ok());
    (cf == 0 ? w.data : cf == 1 ? w.meta : w.hints)[key] = value;
  }
  for (rocksdb::ColumnFamilyHandle* h : handles) FUZZ_CHECK(db->DestroyColumnFamilyHandle(h).ok());
  FUZZ_CHECK(db->Close().ok());
  return w;
}

void CheckRecords(kv::storage::RocksDbEngine& engine, const Written& w) {
  FUZZ_CHECK(engine.Size() == w.data.size());
  size_t decodable = 0;
  for (const auto& [key, raw] : w.data) {
    absl::StatusOr<kv::storage::Record> want = kv::storage::DecodeRecord(raw);
    absl::StatusOr<std::optional<kv::storage::Record>> got = engine.Read(key);
    if (!want.ok()) {
      FUZZ_CHECK(got.status().code() == absl::StatusCode::kDataLoss);
      continue;
    }
    ++decodable;
    FUZZ_CHECK(got.ok() && got->has_value());
    FUZZ_CHECK((*got)->value == want->value && (*got)->version == want->version);
  }
  size_t visited = 0;
  engine.ForEach([&](std::string_view key, const kv::storage::Record&) {
    FUZZ_CHECK(w.data.contains(std::string(key)));
    ++visited;
  });
  FUZZ_CHECK(visited == decodable);
}

void WriteOver(kv::storage::RocksDbEngine& engine, const Written& w) {
  const kv::storage::Record newer{
      .value = "v", .version = {.timestamp = UINT64_MAX, .node_id = std::string(40, 'f')}};
  for (const auto& [key, raw] : w.data) {
    const bool decodes = kv::storage::DecodeRecord(raw).ok();
    absl::StatusOr<bool> applied = engine.Apply(key, newer);
    absl::StatusOr<bool> erased = engine.EraseIf(key, newer.version);
    if (!decodes) {
      // A record that does not decode is never overwritten or erased.
      FUZZ_CHECK(applied.status().code() == absl::StatusCode::kDataLoss);
      FUZZ_CHECK(erased.status().code() == absl::StatusCode::kDataLoss);
      continue;
    }
    FUZZ_CHECK(applied.ok() && erased.ok());
    FUZZ_CHECK(!engine.Read(key)->has_value() || !*erased);
  }
}

void CheckMeta(kv::storage::RocksDbEngine& engine, const Written& w) {
  absl::StatusOr<std::vector<kv::dht::Contact>> contacts = kv::node::LoadContacts(engine);
  if (contacts.ok()) {
    // What loads saves and loads back the same.
    FUZZ_CHECK(kv::node::SaveContacts(engine, *contacts).ok());
    absl::StatusOr<std::vector<kv::dht::Contact>> again = kv::node::LoadContacts(engine);
    FUZZ_CHECK(again.ok() && *again == *contacts);
  } else {
    FUZZ_CHECK(contacts.status().code() == absl::StatusCode::kDataLoss);
  }
  absl::StatusOr<uint64_t> bound = kv::node::LoadHlcUpperBound(engine);
  FUZZ_CHECK(bound.ok() || bound.status().code() == absl::StatusCode::kDataLoss);
  if (!w.meta.contains("hlc_upper_bound")) FUZZ_CHECK(bound.ok() && *bound == 0);

  const kv::dht::NodeId fresh = kv::dht::NodeId::FromKey("fresh");
  absl::StatusOr<kv::dht::NodeId> id = kv::node::LoadOrCreateNodeId(engine, std::nullopt, fresh);
  if (!w.meta.contains("node_id")) {
    FUZZ_CHECK(id.ok() && *id == fresh);
  } else if (id.ok()) {
    FUZZ_CHECK(id->ToHex() == absl::AsciiStrToLower(w.meta.at("node_id")));
  } else {
    FUZZ_CHECK(id.status().code() == absl::StatusCode::kDataLoss);
  }
}

void CheckHints(kv::storage::RocksDbEngine& engine, const Written& w) {
  kv::replication::HintStore::Log log{
      .put = [&](uint64_t seq, std::string_view b) { return engine.PutHint(seq, b); },
      .erase = [&](uint64_t seq) { return engine.DeleteHint(seq); },
      .for_each = [&](const auto& fn) { engine.ForEachHint(fn); }};
  absl::StatusOr<std::unique_ptr<kv::replication::HintStore>> hints =
      kv::replication::HintStore::Open({.max_bytes = 1 << 20}, std::move(log));
  FUZZ_CHECK(hints.ok());
  // Only 8-byte keys are hints, and Open erased every one that did not decode.
  size_t kept = 0;
  engine.ForEachHint([&](uint64_t seq, std::string_view bytes) {
    FUZZ_CHECK(kv::replication::DecodeHint(seq, bytes).ok());
    ++kept;
  });
  FUZZ_CHECK(kept == (*hints)->stats().hints);
  FUZZ_CHECK(kept <= w.hints.size());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  kv::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const int64_t now_ms = in.ConsumeIntegral<int64_t>();
  const int64_t grace_ms = in.ConsumeIntegralInRange<int64_t>(0, INT64_MAX);
  FUZZ_CHECK(rocksdb::DestroyDB(kDir, DbOptions()).ok());
  const Written written = WriteRaw(in);
  kv::util::ManualClock clock(absl::FromUnixMillis(now_ms));
  absl::StatusOr<std::unique_ptr<kv::storage::RocksDbEngine>> engine =
      kv::storage::RocksDbEngine::Open(kDir, {.sync = kv::storage::SyncPolicy::kNone,
                                              .clock = &clock,
                                              .tombstone_grace = absl::Milliseconds(grace_ms),
                                              .env = MemEnv()});
  FUZZ_CHECK(engine.ok());
  CheckRecords(**engine, written);
  CheckMeta(**engine, written);
  CheckHints(**engine, written);
  absl::StatusOr<kv::storage::PurgeStats> purged =
      (*engine)->Purge(now_ms, absl::Milliseconds(grace_ms));
  FUZZ_CHECK(purged.ok());
  FUZZ_CHECK((*engine)->CompactAll().ok());
  CheckRecords(**engine, [&] {
    // Purge and compaction may have turned records into tombstones or erased
    // them; what is left must still agree with the codec.
    Written left;
    (*engine)->ForEach([&](std::string_view key, const kv::storage::Record& rec) {
      left.data[std::string(key)] = kv::storage::EncodeRecord(rec);
    });
    for (const auto& [key, raw] : written.data) {
      if (!kv::storage::DecodeRecord(raw).ok()) left.data[key] = raw;
    }
    return left;
  }());
  WriteOver(**engine, written);
  return 0;
}
