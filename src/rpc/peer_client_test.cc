// GrpcPeerTransport's Store path against real gRPC servers on loopback:
// per-peer batching, per-item results, and the fallback for peers that do
// not know Peer.StoreBatch.
#include "src/rpc/peer_client.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace kv::rpc {
namespace {

namespace v1 = kvstore::v1;

// A peer that answers Store (and StoreBatch when `batch` is set), failing
// keys that start with "bad" and recording what it received.
class FakePeer final : public v1::Peer::CallbackService {
 public:
  explicit FakePeer(bool batch) : batch_(batch) {}

  grpc::ServerUnaryReactor* Store(grpc::CallbackServerContext* ctx, const v1::StoreRequest* req,
                                  v1::StoreResponse* resp) override {
    absl::Status s = Answer(req->key(), req->hint_for());
    {
      absl::MutexLock l(&mu_);
      ++store_calls_;
    }
    resp->set_applied(s.ok());
    grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
    r->Finish(s.ok()
                  ? grpc::Status::OK
                  : grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, std::string(s.message())));
    return r;
  }

  grpc::ServerUnaryReactor* StoreBatch(grpc::CallbackServerContext* ctx,
                                       const v1::StoreBatchRequest* req,
                                       v1::StoreBatchResponse* resp) override {
    grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
    if (!batch_) {
      r->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, ""));
      return r;
    }
    {
      absl::MutexLock l(&mu_);
      ++batch_calls_;
      max_batch_ = std::max(max_batch_, req->items_size());
    }
    for (const v1::StoreItem& item : req->items()) {
      absl::Status s = Answer(item.key(), item.hint_for());
      v1::StoreResult* out = resp->add_results();
      out->set_applied(s.ok());
      out->set_code(static_cast<int>(s.code()));
      out->set_message(std::string(s.message()));
    }
    r->Finish(grpc::Status::OK);
    return r;
  }

  grpc::ServerUnaryReactor* Fetch(grpc::CallbackServerContext* ctx, const v1::FetchRequest* req,
                                  v1::FetchResponse* resp) override {
    {
      absl::MutexLock l(&mu_);
      ++fetch_calls_;
    }
    grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
    if (req->key().starts_with("bad")) {
      r->Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "bad key " + req->key()));
      return r;
    }
    if (req->key().starts_with("k")) {
      resp->set_found(true);
      resp->mutable_record()->set_value("value of " + req->key());
    }
    r->Finish(grpc::Status::OK);
    return r;
  }

  grpc::ServerUnaryReactor* FetchBatch(grpc::CallbackServerContext* ctx,
                                       const v1::FetchBatchRequest* req,
                                       v1::FetchBatchResponse* resp) override {
    grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
    if (!batch_) {
      r->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, ""));
      return r;
    }
    {
      absl::MutexLock l(&mu_);
      ++batch_calls_;
    }
    for (const std::string& key : req->keys()) {
      v1::FetchResult* out = resp->add_results();
      if (key.starts_with("bad")) {
        out->set_code(static_cast<int>(absl::StatusCode::kFailedPrecondition));
        out->set_message("bad key " + key);
      } else if (key.starts_with("k")) {
        out->set_found(true);
        out->mutable_record()->set_value("value of " + key);
      }
    }
    r->Finish(grpc::Status::OK);
    return r;
  }

  int fetch_calls() const {
    absl::MutexLock l(&mu_);
    return fetch_calls_;
  }
  int store_calls() const {
    absl::MutexLock l(&mu_);
    return store_calls_;
  }
  int batch_calls() const {
    absl::MutexLock l(&mu_);
    return batch_calls_;
  }
  std::vector<std::string> hints() const {
    absl::MutexLock l(&mu_);
    return hints_;
  }

 private:
  absl::Status Answer(const std::string& key, const std::string& hint_for) {
    absl::MutexLock l(&mu_);
    if (!hint_for.empty()) hints_.push_back(key + "->" + hint_for);
    if (key.starts_with("bad")) return absl::FailedPreconditionError("bad key " + key);
    return absl::OkStatus();
  }

  const bool batch_;
  mutable absl::Mutex mu_;
  int store_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int fetch_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int batch_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int max_batch_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> hints_ ABSL_GUARDED_BY(mu_);
};

struct Server {
  explicit Server(bool batch) : service(batch) {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&service);
    server = b.BuildAndStart();
  }
  ~Server() { server->Shutdown(); }
  dht::Contact contact() const {
    return {dht::NodeId::FromKey("peer"), "127.0.0.1:" + std::to_string(port)};
  }
  FakePeer service;
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

// Starts `n` calls at once, `start(i, done)` each, and waits (30 s at most)
// for them all; their results in order ("no answer" for one that never ended).
template <typename Result>
std::vector<Result> CallAll(size_t n,
                            const std::function<void(size_t, std::function<void(Result)>)>& start) {
  absl::Mutex mu;
  std::vector<Result> out(n, absl::UnknownError("no answer"));
  size_t pending = n;
  for (size_t i = 0; i < n; ++i) {
    start(i, [&, i](Result r) {
      absl::MutexLock l(&mu);
      out[i] = std::move(r);
      --pending;
    });
  }
  absl::MutexLock l(&mu);
  mu.AwaitWithTimeout(absl::Condition(
                          +[](size_t* p) { return *p == 0; }, &pending),
                      absl::Seconds(30));
  return out;
}

// Sends `keys` as concurrent Stores (hints for `hint` when given) and
// returns each one's status, in the order of `keys`.
std::vector<absl::Status> StoreAll(GrpcPeerTransport& t, const dht::Contact& to,
                                   const std::vector<std::string>& keys,
                                   const dht::NodeId* hint = nullptr) {
  storage::Record rec{.value = "v", .version = {.timestamp = 1, .node_id = "n"}};
  return CallAll<absl::Status>(keys.size(), [&](size_t i, std::function<void(absl::Status)> done) {
    if (hint) {
      t.StoreHint(to, *hint, keys[i], rec, std::move(done));
    } else {
      t.Store(to, keys[i], rec, std::move(done));
    }
  });
}

GrpcPeerTransport::Options TransportOptions(size_t window) {
  return {.self = {dht::NodeId::FromKey("self"), "127.0.0.1:1"},
          .rpc_timeout = absl::Seconds(10),
          .batch_window = window};
}

std::vector<std::string> Keys(int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) keys.push_back((i % 10 == 3 ? "bad" : "k") + std::to_string(i));
  return keys;
}

void ExpectPerKeyResults(const std::vector<std::string>& keys,
                         const std::vector<absl::Status>& got) {
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].starts_with("bad")) {
      EXPECT_EQ(got[i].code(), absl::StatusCode::kFailedPrecondition) << keys[i];
      EXPECT_EQ(got[i].message(), "bad key " + keys[i]);
    } else {
      EXPECT_TRUE(got[i].ok()) << keys[i] << ": " << got[i];
    }
  }
}

TEST(GrpcPeerTransportTest, ConcurrentStoresShareCallsAndKeepTheirOwnResults) {
  Server server(/*batch=*/true);
  GrpcPeerTransport t(TransportOptions(/*window=*/1));
  std::vector<std::string> keys = Keys(200);
  ExpectPerKeyResults(keys, StoreAll(t, server.contact(), keys));
  EXPECT_EQ(server.service.store_calls(), 0);
  // 200 Stores issued at once with one call in flight: the first goes alone,
  // the rest leave together behind it.
  EXPECT_GE(server.service.batch_calls(), 2);
  EXPECT_LT(server.service.batch_calls(), 200);
  t.Shutdown();
}

TEST(GrpcPeerTransportTest, HintsCarryTheirTargetInABatch) {
  Server server(/*batch=*/true);
  GrpcPeerTransport t(TransportOptions(/*window=*/2));
  dht::NodeId target = dht::NodeId::FromKey("down replica");
  std::vector<absl::Status> got = StoreAll(t, server.contact(), {"h1", "h2"}, &target);
  EXPECT_TRUE(got[0].ok());
  EXPECT_TRUE(got[1].ok());
  std::vector<std::string> hints = server.service.hints();
  std::sort(hints.begin(), hints.end());
  EXPECT_EQ(hints, (std::vector<std::string>{"h1->" + target.ToHex(), "h2->" + target.ToHex()}));
  t.Shutdown();
}

TEST(GrpcPeerTransportTest, PeerWithoutStoreBatchGetsOneStorePerCall) {
  Server server(/*batch=*/false);
  GrpcPeerTransport t(TransportOptions(/*window=*/2));
  std::vector<std::string> keys = Keys(50);
  ExpectPerKeyResults(keys, StoreAll(t, server.contact(), keys));
  // Every Store arrived alone, the ones first sent in a refused batch too.
  EXPECT_EQ(server.service.store_calls(), 50);
  // And later Stores skip the batch call.
  ExpectPerKeyResults({"k1"}, StoreAll(t, server.contact(), {"k1"}));
  EXPECT_EQ(server.service.store_calls(), 51);
  t.Shutdown();
}

TEST(GrpcPeerTransportTest, WindowZeroSendsEachStoreAlone) {
  Server server(/*batch=*/true);
  GrpcPeerTransport t(TransportOptions(/*window=*/0));
  std::vector<std::string> keys = Keys(20);
  ExpectPerKeyResults(keys, StoreAll(t, server.contact(), keys));
  EXPECT_EQ(server.service.store_calls(), 20);
  EXPECT_EQ(server.service.batch_calls(), 0);
  t.Shutdown();
}

// Fetches `keys` concurrently; each one's result, in the order of `keys`.
std::vector<FetchItem::Result> FetchAll(GrpcPeerTransport& t, const dht::Contact& to,
                                        const std::vector<std::string>& keys) {
  return CallAll<FetchItem::Result>(keys.size(),
                                    [&](size_t i, std::function<void(FetchItem::Result)> done) {
                                      t.Fetch(to, keys[i], std::move(done));
                                    });
}

// Keys that exist ("k..."), fail ("bad..") or are missing ("none...").
void ExpectFetched(const std::vector<std::string>& keys,
                   const std::vector<FetchItem::Result>& got) {
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].starts_with("bad")) {
      EXPECT_EQ(got[i].status().code(), absl::StatusCode::kFailedPrecondition) << keys[i];
    } else if (keys[i].starts_with("k")) {
      ASSERT_TRUE(got[i].ok() && got[i]->has_value()) << keys[i] << ": " << got[i].status();
      EXPECT_EQ((*got[i])->value, "value of " + keys[i]);
    } else {
      ASSERT_TRUE(got[i].ok()) << keys[i] << ": " << got[i].status();
      EXPECT_FALSE(got[i]->has_value()) << keys[i];
    }
  }
}

std::vector<std::string> FetchKeys(int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) {
    keys.push_back((i % 3 == 0 ? "k" : i % 3 == 1 ? "none" : "bad") + std::to_string(i));
  }
  return keys;
}

TEST(GrpcPeerTransportTest, ConcurrentFetchesShareCallsAndGetTheirOwnRecords) {
  Server server(/*batch=*/true);
  GrpcPeerTransport t(TransportOptions(/*window=*/1));
  std::vector<std::string> keys = FetchKeys(150);
  ExpectFetched(keys, FetchAll(t, server.contact(), keys));
  EXPECT_EQ(server.service.fetch_calls(), 0);
  EXPECT_GE(server.service.batch_calls(), 2);
  EXPECT_LT(server.service.batch_calls(), 150);
  t.Shutdown();
}

TEST(GrpcPeerTransportTest, PeerWithoutFetchBatchGetsOneFetchPerCall) {
  Server server(/*batch=*/false);
  GrpcPeerTransport t(TransportOptions(/*window=*/2));
  std::vector<std::string> keys = FetchKeys(30);
  ExpectFetched(keys, FetchAll(t, server.contact(), keys));
  EXPECT_EQ(server.service.fetch_calls(), 30);
  t.Shutdown();
}

// Once Shutdown() returns, no call may still hold its channel (why: the
// comment in GrpcPeerTransport::Call).
TEST(GrpcPeerTransportTest, ShutdownReturnsOnlyOnceNoCallHoldsItsChannel) {
  Server server(/*batch=*/false);
  for (int round = 0; round < 20; ++round) {
    GrpcPeerTransport t(TransportOptions(/*window=*/0));
    const long idle = t.Channel(server.contact().address).use_count();
    std::vector<std::string> keys = FetchKeys(30);
    ExpectFetched(keys, FetchAll(t, server.contact(), keys));
    t.Shutdown();
    ASSERT_EQ(t.Channel(server.contact().address).use_count(), idle) << "round " << round;
  }
}

TEST(GrpcPeerTransportTest, StoresAfterShutdownFailAtOnce) {
  Server server(/*batch=*/true);
  GrpcPeerTransport t(TransportOptions(/*window=*/1));
  t.Shutdown();
  std::vector<absl::Status> got = StoreAll(t, server.contact(), {"a", "b", "c"});
  for (const absl::Status& s : got) EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
}

}  // namespace
}  // namespace kv::rpc
