// The KV, Admin and Peer handlers (src/rpc/services.cc, peer_data.cc,
// heartbeat.cc), fed through gRPC from a client on 127.0.0.1 to one
// in-process node: a Node on a MemoryEngine whose peers are fuzz::FakePeers,
// served by rpc::Server, both made once per process; the node's maintenance
// thread runs beside the inputs. Loopback makes the caller an admin, so every
// Admin call is served too.
//
// Input: the first byte picks the method (kMethods below, modulo their
// number); the rest is that method's request message, or for Heartbeat a
// stream of beats, each one length byte then that many bytes. Inputs that do
// not parse are rejected (-1), so they do not enter the corpus.
//
// Checks: every call ends well before its deadline (a handler that never
// finishes its reactor hangs the call), none ends INTERNAL or UNKNOWN (a
// response the client cannot read, an exception), and each answer has the
// shape its request asks for (one result per batch item, versions of this
// node's writes stamped by this node, snapshot names confined to one path
// component).
//
// Admin.Leave is left out: a leave that completes leaves the node out of
// the cluster for good (Node has no way back from kDone), so every later
// input would meet a different node.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuzz/fake_peers.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/quiet_logs.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/grpcpp.h"
#include "proto/kv.grpc.pb.h"
#include "src/node/node.h"
#include "src/node/test_hooks.h"
#include "src/rpc/server.h"
#include "src/storage/memory_engine.h"
#include "src/util/clock.h"

namespace kv::fuzz {
namespace {

namespace v1 = kvstore::v1;

// Far more than any call takes; a call that reaches it never got an answer.
constexpr auto kDeadline = std::chrono::seconds(10);

// A port nothing listens on now (the kernel's pick for port 0).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  FUZZ_CHECK(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  FUZZ_CHECK(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  FUZZ_CHECK(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

// True for a name Node::Snapshot may pass to NodeOptions::snapshot: one path
// component that is neither "." nor "..".
bool PlainName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string_view("/\0", 2)) == std::string::npos;
}

// One node and its server, for the whole process (never destroyed: libFuzzer
// ends the process with exit(), while gRPC's and the node's threads run).
struct Harness {
  storage::MemoryEngine engine{storage::MemoryEngineOptions{.max_bytes = 16u << 20}};
  FakePeers peers;
  std::unique_ptr<node::Node> node;
  node::TestHooks hooks{&engine};  // serves Admin.DropKeys
  std::unique_ptr<rpc::Server> server;
  std::unique_ptr<v1::KV::Stub> kv;
  std::unique_ptr<v1::Admin::Stub> admin;
  std::unique_ptr<v1::Peer::Stub> peer;

  Harness() {
    std::string address;
    for (int attempt = 0; !server; ++attempt) {
      FUZZ_CHECK(attempt < 20);
      address = absl::StrCat("127.0.0.1:", FreePort());
      server.reset();
      node = std::make_unique<node::Node>(Options(address), &engine, &peers,
                                          util::SystemClock::Default());
      server = std::make_unique<rpc::Server>(node->apis(), &hooks, address, 4 << 20);
      if (!server->Start().ok()) server.reset();
    }
    // The fake peers answer pings, so they enter the routing table.
    for (const dht::Contact& c : FakePeers::Contacts()) node->HandlePing(c);
    FUZZ_CHECK(node->Peers().size() == FakePeers::kPeers);
    // The maintenance thread replays the hints inputs left, repairs after a
    // peer joins or leaves (handing keys to their owners, purging) and
    // judges the clock fence again every tick, so a forged heartbeat fences
    // writes only until its sample is stale (30 s), not for the whole run.
    node->Start();
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    kv = v1::KV::NewStub(channel);
    admin = v1::Admin::NewStub(channel);
    peer = v1::Peer::NewStub(channel);
  }

  static node::NodeOptions Options(const std::string& address) {
    node::NodeOptions o;
    o.self = {dht::NodeId::FromKey("fuzz-self"), address};
    // No fake peer goes down or dead (they send no heartbeats) and repairs
    // run only after a peer joins or leaves: each input meets the same
    // cluster.
    o.failure_timeout = absl::Hours(24);
    o.dead_after = absl::Hours(48);
    o.anti_entropy_interval = absl::Hours(24);
    o.max_hints_bytes = 1 << 20;
    o.snapshot = [](const std::string& name) -> absl::StatusOr<std::string> {
      FUZZ_CHECK(PlainName(name));
      return absl::StrCat("/fuzz/backups/", name);
    };
    return o;
  }
};

Harness& H() {
  static Harness* const h = new Harness;
  return *h;
}

void CheckStatus(const grpc::Status& s) {
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
      s.error_code() == grpc::StatusCode::INTERNAL || s.error_code() == grpc::StatusCode::UNKNOWN) {
    std::fprintf(stderr, "call ended %d: %s\n", s.error_code(), s.error_message().c_str());
    FUZZ_CHECK(false);
  }
}

// Parses `body` as Req, calls `call`, checks the status, then `check`.
template <typename Req, typename Resp, typename Call, typename Check>
int Unary(std::string_view body, Call call, Check check) {
  Req req;
  if (!req.ParseFromArray(body.data(), static_cast<int>(body.size()))) return -1;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kDeadline);
  Resp resp;
  const grpc::Status s = call(&ctx, req, &resp);
  CheckStatus(s);
  if (s.ok()) check(req, resp);
  return 0;
}

template <typename Req, typename Resp, typename Call>
int Unary(std::string_view body, Call call) {
  return Unary<Req, Resp>(body, call, [](const Req&, const Resp&) {});
}

// Heartbeat: the beats, written in order on one stream, then half-close.
int Heartbeat(std::string_view body) {
  std::vector<v1::HeartbeatMessage> beats;
  while (!body.empty()) {
    const size_t len = static_cast<uint8_t>(body[0]);
    if (len + 1 > body.size()) return -1;
    if (!beats.emplace_back().ParseFromArray(body.data() + 1, static_cast<int>(len))) return -1;
    body.remove_prefix(len + 1);
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kDeadline);
  std::unique_ptr<grpc::ClientReaderWriter<v1::HeartbeatMessage, v1::HeartbeatMessage>> stream =
      H().kv->Heartbeat(&ctx);
  for (const v1::HeartbeatMessage& b : beats) {
    if (!stream->Write(b)) break;  // the node ended the stream (a bad beat)
  }
  stream->WritesDone();
  v1::HeartbeatMessage in;
  while (stream->Read(&in)) {
  }
  CheckStatus(stream->Finish());
  return 0;
}

bool StampedHere(const v1::Version& v) {
  return v.node_id() == H().node->self().id.ToHex() && v.timestamp() != 0;
}

enum Method : uint8_t {
  kPut,
  kGet,
  kDelete,
  kBatch,
  kJoin,
  kPing,
  kHeartbeat,
  kPeers,
  kStats,
  kDropKeys,
  kLocate,
  kSnapshot,
  kFindNode,
  kStore,
  kStoreBatch,
  kFetch,
  kFetchBatch,
  kSyncDigest,
  kReconcile,
  kLeaving,
  kGossip,
  kSyncTree,
  kMethods,
};

int Call(Method method, std::string_view body) {
  Harness& h = H();
  using grpc::ClientContext;
  switch (method) {
    case kPut:
      return Unary<v1::PutRequest, v1::PutResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.kv->Put(c, q, r); },
          [](auto&, auto& r) { FUZZ_CHECK(StampedHere(r.version()) && r.acks() >= 1); });
    case kGet:
      return Unary<v1::GetRequest, v1::GetResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.kv->Get(c, q, r); },
          [](auto&, auto& r) { FUZZ_CHECK(r.found() || r.value().empty()); });
    case kDelete:
      return Unary<v1::DeleteRequest, v1::DeleteResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.kv->Delete(c, q, r); },
          [](auto&, auto& r) { FUZZ_CHECK(StampedHere(r.version()) && r.acks() >= 1); });
    case kBatch:
      return Unary<v1::BatchRequest, v1::BatchResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.kv->Batch(c, q, r); },
          [](auto& q, auto& r) {
            FUZZ_CHECK(r.results_size() == q.ops_size());
            for (int i = 0; i < q.ops_size(); ++i) {
              const v1::BatchResult& res = r.results(i);
              if (res.code() != 0) continue;
              switch (q.ops(i).op_case()) {
                case v1::BatchOp::kPut:
                  FUZZ_CHECK(res.has_put() && StampedHere(res.put().version()));
                  break;
                case v1::BatchOp::kGet:
                  FUZZ_CHECK(res.has_get());
                  break;
                case v1::BatchOp::kDelete:
                  FUZZ_CHECK(res.has_delete_() && StampedHere(res.delete_().version()));
                  break;
                case v1::BatchOp::OP_NOT_SET:
                  FUZZ_CHECK(false);  // an empty op is an error
              }
            }
          });
    case kJoin:
      return Unary<v1::JoinRequest, v1::JoinResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.kv->Join(c, q, r); },
          [&](auto&, auto& r) { FUZZ_CHECK(r.node().id() == h.node->self().id.ToHex()); });
    case kPing:
      return Unary<v1::PingRequest, v1::PingResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.kv->Ping(c, q, r); },
          [&](auto&, auto& r) { FUZZ_CHECK(r.node().id() == h.node->self().id.ToHex()); });
    case kHeartbeat:
      return Heartbeat(body);
    case kPeers:
      return Unary<v1::PeersRequest, v1::PeersResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.admin->Peers(c, q, r); });
    case kStats:
      return Unary<v1::StatsRequest, v1::StatsResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.admin->Stats(c, q, r); },
          [](auto&, auto& r) { FUZZ_CHECK(r.counters().contains("keys")); });
    case kDropKeys:
      return Unary<v1::DropKeysRequest, v1::DropKeysResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.admin->DropKeys(c, q, r); },
          [](auto& q, auto& r) { FUZZ_CHECK(q.limit() == 0 || r.dropped() <= q.limit()); });
    case kLocate:
      return Unary<v1::LocateRequest, v1::LocateResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.admin->Locate(c, q, r); },
          [](auto& q, auto& r) {
            FUZZ_CHECK(r.key_id() == dht::NodeId::FromKey(q.key()).ToHex());
          });
    case kSnapshot:
      return Unary<v1::SnapshotRequest, v1::SnapshotResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.admin->Snapshot(c, q, r); },
          [](auto& q, auto& r) { FUZZ_CHECK(r.dir() == "/fuzz/backups/" + q.name()); });
    case kFindNode:
      return Unary<v1::FindNodeRequest, v1::FindNodeResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.peer->FindNode(c, q, r); },
          [&](auto&, auto& r) {
            FUZZ_CHECK(r.closest_size() <= static_cast<int>(h.node->options().k));
          });
    case kStore:
      return Unary<v1::StoreRequest, v1::StoreResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.peer->Store(c, q, r); });
    case kStoreBatch:
      return Unary<v1::StoreBatchRequest, v1::StoreBatchResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.peer->StoreBatch(c, q, r); },
          [](auto& q, auto& r) { FUZZ_CHECK(r.results_size() == q.items_size()); });
    case kFetch:
      return Unary<v1::FetchRequest, v1::FetchResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.peer->Fetch(c, q, r); },
          [](auto&, auto& r) { FUZZ_CHECK(r.found() || !r.has_record()); });
    case kFetchBatch:
      return Unary<v1::FetchBatchRequest, v1::FetchBatchResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.peer->FetchBatch(c, q, r); },
          [](auto& q, auto& r) { FUZZ_CHECK(r.results_size() == q.keys_size()); });
    case kSyncDigest:
      return Unary<v1::DigestRequest, v1::DigestResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.peer->SyncDigest(c, q, r); },
          [](auto&, auto& r) {
            for (uint32_t b : r.differing()) FUZZ_CHECK(b < replication::kDigestBuckets);
          });
    case kReconcile:
      return Unary<v1::ReconcileRequest, v1::ReconcileResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.peer->Reconcile(c, q, r); });
    case kLeaving:
      return Unary<v1::LeaveNotice, v1::LeaveNoticeResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.peer->Leaving(c, q, r); });
    case kGossip:
      return Unary<v1::GossipRequest, v1::GossipResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.peer->Gossip(c, q, r); },
          [](auto&, auto& r) { FUZZ_CHECK(r.epoch() > 0 && r.rumours_size() <= 17); });
    case kSyncTree:
      return Unary<v1::TreeRequest, v1::TreeResponse>(
          body, [&](ClientContext* c, auto& q, auto* r) { return h.peer->SyncTree(c, q, r); },
          [](auto& q, auto& r) {
            FUZZ_CHECK(r.differing_size() == r.hashes_size());
            for (uint32_t i : r.differing()) FUZZ_CHECK(i < static_cast<uint32_t>(q.ranges_size()));
          });
    case kMethods:
      break;
  }
  return -1;
}

}  // namespace
}  // namespace kv::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  kv::fuzz::QuietLogs();
  // Protobuf logs every string field that is not UTF-8; the input is
  // rejected all the same.
  if (std::getenv("KV_FUZZ_LOG") == nullptr) google::protobuf::SetLogHandler(nullptr);
  kv::fuzz::H();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return -1;
  const auto method = static_cast<kv::fuzz::Method>(data[0] % kv::fuzz::kMethods);
  return kv::fuzz::Call(method,
                        std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
}
