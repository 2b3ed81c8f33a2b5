// Whole nodes on a simulated world: one ManualExecutor and ManualClock for
// all of them, and an in-memory network that delivers every peer call and
// answer as a closure after a fixed latency. Nothing runs on another thread,
// so a run is a pure function of its inputs: the seed of what kvsim will
// grow into (issue 17), and a check that background work (join, heartbeats'
// effects, hint replay, anti-entropy) needs no thread of its own.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/node/node.h"
#include "src/node/test_hooks.h"
#include "src/storage/memory_engine.h"
#include "src/util/executor.h"

namespace kv::node {
namespace {

using replication::PeerTransport;

constexpr absl::Duration kLatency = absl::Milliseconds(1);

// Every node's PeerApi by address, and a running hash of what was
// delivered, in order.
class SimNetwork {
 public:
  SimNetwork(util::ManualExecutor* executor, util::ManualClock* clock)
      : executor_(executor), clock_(clock) {}

  void Attach(const std::string& address, PeerApi* node) { nodes_[address] = node; }
  // A node cut off: calls to it and from it fail.
  void SetDown(const std::string& address, bool down) { down_[address] = down; }
  bool Down(const std::string& address) const {
    auto it = down_.find(address);
    return it != down_.end() && it->second;
  }

  // Runs `call` on the node at `to` after the latency, or fails `fail`.
  void Deliver(const std::string& from, const std::string& to, absl::string_view what,
               std::function<void(PeerApi*)> call, std::function<void()> fail) {
    Record(absl::StrCat(absl::FormatTime(clock_->Now()), " ", from, "->", to, " ", what));
    executor_->After(kLatency, [this, from, to, call = std::move(call), fail = std::move(fail)] {
      auto it = nodes_.find(to);
      if (it == nodes_.end() || Down(to) || Down(from)) return fail();
      call(it->second);
    });
  }
  // Runs `answer` back at the caller after the latency.
  void Answer(std::function<void()> answer) { executor_->After(kLatency, std::move(answer)); }

  util::ManualClock* clock() const { return clock_; }
  uint64_t trace_hash() const { return trace_hash_; }

 private:
  void Record(const std::string& event) {
    // FNV-1a: fixed across runs and processes, unlike absl's hashes.
    for (unsigned char c : event) trace_hash_ = (trace_hash_ ^ c) * 1099511628211ull;
  }

  util::ManualExecutor* const executor_;
  util::ManualClock* const clock_;
  std::map<std::string, PeerApi*> nodes_;
  std::map<std::string, bool> down_;
  uint64_t trace_hash_ = 14695981039346656037ull;
};

absl::Status Unreachable() { return absl::UnavailableError("simulated: node unreachable"); }

// One node's side of the network.
class SimTransport final : public PeerTransport {
 public:
  SimTransport(SimNetwork* net, dht::Contact self) : net_(net), self_(std::move(self)) {}

  void Store(const dht::Contact& to, const std::string& key, const storage::Record& rec,
             StoreCallback done) override {
    net_->Deliver(
        self_.address, to.address, "Store " + key,
        [this, key, rec, done](PeerApi* n) {
          n->HandleStore(self_, key, rec, [this, done](absl::StatusOr<bool> r) {
            net_->Answer([done, s = r.status()] { done(s); });
          });
        },
        [done] { done(Unreachable()); });
  }
  void Fetch(const dht::Contact& to, const std::string& key, FetchCallback done) override {
    net_->Deliver(
        self_.address, to.address, "Fetch " + key,
        [this, key, done](PeerApi* n) {
          net_->Answer([done, r = n->HandleFetch(key)] { done(r); });
        },
        [done] { done(Unreachable()); });
  }
  void FindNode(const dht::Contact& to, const dht::NodeId& target, FindNodeCallback done) override {
    net_->Deliver(
        self_.address, to.address, "FindNode " + target.ShortHex(),
        [this, target, done](PeerApi* n) {
          net_->Answer([done, r = n->HandleFindNode(self_, target)] { done(r); });
        },
        [done] { done(Unreachable()); });
  }
  void Ping(const std::string& address, PingCallback done) override {
    net_->Deliver(
        self_.address, address, "Ping",
        [this, done](PeerApi* n) {
          n->HandlePing(self_);
          net_->Answer([done, c = n->self()] { done(c); });
        },
        [done] { done(Unreachable()); });
  }
  void Join(const std::string& address, JoinCallback done) override {
    net_->Deliver(
        self_.address, address, "Join",
        [this, done](PeerApi* n) {
          JoinAnswer a{.contacts = n->HandleJoin(self_), .seed_clock = net_->clock()->Now()};
          net_->Answer([done, a] { done(a); });
        },
        [done] { done(Unreachable()); });
  }
  void StoreHint(const dht::Contact& to, const dht::NodeId& target, const std::string& key,
                 const storage::Record& rec, StoreCallback done) override {
    net_->Deliver(
        self_.address, to.address, "StoreHint " + key,
        [this, target, key, rec, done](PeerApi* n) {
          n->HandleStoreHint(self_, target, key, rec, [this, done](absl::Status s) {
            net_->Answer([done, s] { done(s); });
          });
        },
        [done] { done(Unreachable()); });
  }
  void SyncDigest(const dht::Contact& to, const replication::Digest& digest, bool root_only,
                  DigestCallback done) override {
    net_->Deliver(
        self_.address, to.address, root_only ? "SyncDigest root" : "SyncDigest",
        [this, digest, root_only, done](PeerApi* n) {
          std::optional<replication::Digest> theirs;
          if (!root_only) theirs = digest;
          n->HandleSyncDigest(self_, replication::DigestRoot(digest), theirs,
                              [this, done](absl::StatusOr<replication::DigestAnswer> r) {
                                net_->Answer([done, r] { done(r); });
                              });
        },
        [done] { done(Unreachable()); });
  }
  void Reconcile(const dht::Contact& to, const std::vector<uint32_t>& buckets,
                 const std::vector<replication::KeyVersion>& keys,
                 ReconcileCallback done) override {
    net_->Deliver(
        self_.address, to.address, "Reconcile",
        [this, buckets, keys, done](PeerApi* n) {
          n->HandleReconcile(self_, buckets, keys,
                             [this, done](absl::StatusOr<replication::ReconcilePlan> r) {
                               net_->Answer([done, r] { done(r); });
                             });
        },
        [done] { done(Unreachable()); });
  }

  // A heartbeat from this node to `to`, measuring no clock offset.
  void Beat(const dht::Contact& to) {
    net_->Deliver(
        self_.address, to.address, "Beat",
        [this](PeerApi* n) {
          const absl::Time t = net_->clock()->Now();
          n->HandleHeartbeat(self_, membership::ClockSample::FromExchange(t, t, t, t), 1);
        },
        [] {});
  }

 private:
  SimNetwork* const net_;
  const dht::Contact self_;
};

struct SimNode {
  storage::MemoryEngine engine;
  std::unique_ptr<SimTransport> transport;
  std::unique_ptr<Node> node;
};

// Three nodes that heartbeat each other every 200 ms of simulated time.
class SimCluster {
 public:
  static constexpr int kNodes = 3;

  SimCluster() : executor_(&clock_), net_(&executor_, &clock_) {
    for (int i = 0; i < kNodes; ++i) {
      auto n = std::make_unique<SimNode>();
      const dht::Contact self{dht::NodeId::FromKey(absl::StrCat("sim-node-", i)),
                              absl::StrCat("sim", i, ":1")};
      n->transport = std::make_unique<SimTransport>(&net_, self);
      NodeOptions o;
      o.self = self;
      o.incarnation = 1;
      if (i > 0) o.seeds = {"sim0:1"};
      o.failure_timeout = absl::Seconds(3);
      o.anti_entropy_interval = absl::Seconds(5);
      o.speculative_read_after = absl::ZeroDuration();  // no timer thread
      o.rng_seed = 1000 + i;
      n->node =
          std::make_unique<Node>(o, &n->engine, n->transport.get(), &clock_, nullptr, &executor_);
      net_.Attach(self.address, n->node.get());
      nodes_.push_back(std::move(n));
    }
    for (auto& n : nodes_) n->node->Start();
    Beats();
  }
  ~SimCluster() {
    for (auto& n : nodes_) n->node->Cancel();
    stopping_ = true;
    executor_.RunFor(absl::Minutes(1));  // every background step ends
    for (auto& n : nodes_) n->node->Stop();
  }

  Node& node(int i) { return *nodes_[i]->node; }
  storage::MemoryEngine& engine(int i) { return nodes_[i]->engine; }
  SimNetwork& net() { return net_; }
  void RunFor(absl::Duration d) { executor_.RunFor(d); }

  // Runs until `done` is set, for at most `limit` of simulated time.
  template <typename T>
  bool RunUntil(const std::optional<T>& done, absl::Duration limit = absl::Seconds(30)) {
    const absl::Time end = clock_.Now() + limit;
    while (!done && clock_.Now() < end) executor_.RunFor(absl::Milliseconds(1));
    return done.has_value();
  }

 private:
  void Beats() {
    if (stopping_) return;
    for (auto& n : nodes_) {
      for (const dht::Contact& c : n->node->HeartbeatTargets(20)) n->transport->Beat(c);
    }
    executor_.After(absl::Milliseconds(200), [this] { Beats(); });
  }

  util::ManualClock clock_;
  util::ManualExecutor executor_;
  SimNetwork net_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  bool stopping_ = false;
};

int AlivePeers(Node& n) {
  int alive = 0;
  for (const auto& p : n.Peers()) alive += p.state == membership::PeerState::kAlive;
  return alive;
}

TEST(NodeSimTest, NodesJoinAndSeeEachOtherAliveOnSimulatedTime) {
  SimCluster c;
  c.RunFor(absl::Seconds(10));
  for (int i = 0; i < SimCluster::kNodes; ++i) {
    EXPECT_TRUE(c.node(i).joined()) << i;
    EXPECT_EQ(AlivePeers(c.node(i)), SimCluster::kNodes - 1) << i;
  }
}

// What a run leaves behind: the trace of every message, and each node's
// copy of the key.
struct Outcome {
  uint64_t trace_hash = 0;
  std::vector<std::string> values;
};

Outcome PutDropAndRepair() {
  SimCluster c;
  c.RunFor(absl::Seconds(10));
  std::optional<absl::StatusOr<replication::WriteResult>> put;
  c.node(1).Put({.key = "k", .value = "v", .consistency = replication::Consistency::kAll},
                [&](absl::StatusOr<replication::WriteResult> r) { put = r; });
  EXPECT_TRUE(c.RunUntil(put));
  EXPECT_TRUE(put && put->ok()) << (put ? put->status().ToString() : "no answer");
  // Node 2 loses the key, as a disk might; anti-entropy brings it back.
  TestHooks hooks(&c.engine(2));
  EXPECT_EQ(*hooks.TEST_DropKeys("k", 0), 1u);
  c.RunFor(absl::Seconds(15));
  Outcome out;
  for (int i = 0; i < SimCluster::kNodes; ++i) {
    absl::StatusOr<std::optional<storage::Record>> r = c.engine(i).Read("k");
    out.values.push_back(r.ok() && *r ? (*r)->value : "<none>");
  }
  out.trace_hash = c.net().trace_hash();
  return out;
}

TEST(NodeSimTest, AntiEntropyRestoresALostReplicaWithoutThreads) {
  const Outcome out = PutDropAndRepair();
  EXPECT_EQ(out.values, (std::vector<std::string>{"v", "v", "v"}));
}

TEST(NodeSimTest, TheSameRunDeliversTheSameMessagesInTheSameOrder) {
  const Outcome a = PutDropAndRepair();
  const Outcome b = PutDropAndRepair();
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.values, b.values);
}

TEST(NodeSimTest, HintsReachAReplicaThatWasCutOff) {
  SimCluster c;
  c.RunFor(absl::Seconds(10));
  c.net().SetDown("sim2:1", true);
  c.RunFor(absl::Seconds(5));  // node 2 is down for the others
  std::optional<absl::StatusOr<replication::WriteResult>> put;
  c.node(0).Put({.key = "h", .value = "hinted"},
                [&](absl::StatusOr<replication::WriteResult> r) { put = r; });
  ASSERT_TRUE(c.RunUntil(put));
  ASSERT_TRUE(put->ok()) << put->status();
  EXPECT_FALSE(*c.engine(2).Read("h"));
  c.net().SetDown("sim2:1", false);
  c.RunFor(absl::Seconds(3));  // heartbeats resume; the hint is replayed
  absl::StatusOr<std::optional<storage::Record>> r = c.engine(2).Read("h");
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ((*r)->value, "hinted");
  uint64_t replayed = 0;
  for (int i = 0; i < 2; ++i) {
    for (const auto& [name, value] : c.node(i).Stats()) {
      if (name == "hints_replayed") replayed += value;
    }
  }
  EXPECT_EQ(replayed, 1u);  // by the hint, not by anti-entropy
}

}  // namespace
}  // namespace kv::node
