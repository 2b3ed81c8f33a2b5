// Self-healing on real 5-node clusters (N=3): re-replication after a death,
// hinted handoff and anti-entropy, rebalancing on join, deletes that stay
// deleted, and planned leave under load. docs/guarantees.md cites each test.
#include <signal.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"

namespace kv::testing {
namespace {

namespace v1 = kvstore::v1;

std::string Key(int i) { return absl::StrCat("key-", i); }
std::string Value(int i, size_t size = 32) {
  std::string v = absl::StrCat("value-", i, "-");
  v.resize(std::max(size, v.size()), 'x');
  return v;
}

std::vector<int> All(int n) {
  std::vector<int> v(n);
  for (int i = 0; i < n; ++i) v[i] = i;
  return v;
}

uint64_t Sum(Cluster& c, const std::string& counter, const std::vector<int>& nodes) {
  uint64_t total = 0;
  for (int i : nodes) {
    const auto stats = c.Stats(i);
    if (auto it = stats.find(counter); it != stats.end()) total += it->second;
  }
  return total;
}

class RepairTest : public ClusterFixture {
 protected:
  void StartCluster(Cluster::Options o) {
    o.nodes = o.nodes ? o.nodes : 5;
    cluster_ = std::make_unique<Cluster>(std::move(o));
    ASSERT_TRUE(cluster_->Start()) << "cluster did not form";
  }
  // Writes keys [0, count) through nodes 0..4 in turn.
  void PutAll(int count, size_t value_size = 32) {
    for (int i = 0; i < count; ++i) {
      grpc::Status s = cluster_->Put(i % 5, Key(i), Value(i, value_size));
      ASSERT_TRUE(s.ok()) << Key(i) << ": " << s.error_message();
    }
  }
  // Keys in [0, count) whose live holders are not exactly the 3 closest of
  // `among`.
  int Misplaced(int count, const std::vector<int>& among) {
    int bad = 0;
    for (int i = 0; i < count; ++i) {
      if (cluster_->Holders(Key(i)) != Sorted(cluster_->Closest(Key(i), 3, among))) ++bad;
    }
    return bad;
  }
  static std::vector<int> Sorted(std::vector<int> v) {
    std::sort(v.begin(), v.end());
    return v;
  }
};

// A killed node's keys get 3 live copies again once it is dead (--dead-after).
TEST_F(RepairTest, DeadNodesKeysAreReReplicated) {
  StartCluster(
      {.extra_args = {"--dead-after=3s", "--anti-entropy-interval=1s", "--tombstone-grace=1h"}});
  constexpr int kKeys = 1000;
  PutAll(kKeys);
  cluster_->process(4).Signal(SIGKILL);
  const std::vector<int> live = {0, 1, 2, 3};
  // What `kvctl locate` shows: for every key, 3 reachable replicas that hold it.
  auto live_holders = [&](int i) {
    v1::LocateRequest req;
    req.set_key(Key(i));
    v1::LocateResponse resp;
    if (!cluster_->admin(i % 4).Locate(Context().get(), req, &resp).ok()) return 0;
    int n = 0;
    for (const auto& r : resp.replicas()) n += r.reachable() && r.holds();
    return n;
  };
  int short_keys = kKeys;
  EXPECT_TRUE(WaitFor(
      [&] {
        short_keys = 0;
        for (int i = 0; i < kKeys; ++i) short_keys += live_holders(i) != 3;
        return short_keys == 0;
      },
      absl::Seconds(90)))
      << short_keys << " keys do not have 3 live holders";
  EXPECT_EQ(Misplaced(kKeys, live), 0);
  std::cerr << "anti-entropy pulled " << Sum(*cluster_, "anti_entropy_keys_pulled", live)
            << " and pushed " << Sum(*cluster_, "anti_entropy_keys_pushed", live) << " keys\n";
}

// The keys written while a replica was down reach it when it is back: with
// periodic anti-entropy off (1 h), through hints; with hints off
// (--max-hints-bytes=0), through anti-entropy alone.
class CatchUpTest : public RepairTest, public ::testing::WithParamInterface<bool> {};

TEST_P(CatchUpTest, RestartedReplicaReceivesWhatItMissed) {
  const bool via_hints = GetParam();
  Cluster::Options o{.durable = true};
  if (via_hints) {
    o.extra_args = {"--anti-entropy-interval=1h", "--tombstone-grace=3h", "--dead-after=10m"};
  } else {
    o.extra_args = {"--anti-entropy-interval=1s", "--max-hints-bytes=0", "--dead-after=10m"};
  }
  StartCluster(o);
  constexpr int kTarget = 2;
  cluster_->process(kTarget).Signal(SIGKILL);
  ASSERT_TRUE(
      WaitFor([&] { return cluster_->SeesPeerIn(0, kTarget, v1::DOWN); }, absl::Seconds(20)));
  // 500 keys the stopped node is among the 3 closest for.
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < 500; ++i) {
    const std::string k = Key(i);
    const std::vector<int> owners = cluster_->Closest(k, 3, All(5));
    if (std::find(owners.begin(), owners.end(), kTarget) == owners.end()) continue;
    grpc::Status s = cluster_->Put(i % 2, k, Value(i));
    ASSERT_TRUE(s.ok()) << k << ": " << s.error_message();
    keys.push_back(k);
  }
  ASSERT_TRUE(cluster_->Restart(kTarget, /*join=*/true));
  int missing = 0;
  EXPECT_TRUE(WaitFor(
      [&] {
        missing = 0;
        for (const std::string& k : keys) {
          const std::vector<int> h = cluster_->Holders(k);
          missing += std::find(h.begin(), h.end(), kTarget) == h.end();
        }
        return missing == 0;
      },
      absl::Seconds(60)))
      << missing << " of 500 keys did not reach the restarted node";
  const std::vector<int> others = {0, 1, 3, 4};
  if (via_hints) {
    // Anti-entropy may have delivered the last keys while their hints were
    // still queued: wait for the replay to finish before counting.
    WaitFor([&] { return Sum(*cluster_, "hints_replayed", others) >= 500; }, absl::Seconds(30));
  }
  const uint64_t replayed = Sum(*cluster_, "hints_replayed", others);
  const uint64_t pulled = Sum(*cluster_, "anti_entropy_keys_pulled", {kTarget});
  const uint64_t pushed = Sum(*cluster_, "anti_entropy_keys_pushed", others);
  std::cerr << "delivered by hints: " << replayed << ", by anti-entropy: " << pulled + pushed
            << "\n";
  if (via_hints) {
    // Every key was replayed from a hint. (The restarted node also runs an
    // anti-entropy round soon after it joins, which may deliver some first.)
    EXPECT_GE(replayed, 500u);
  } else {
    EXPECT_EQ(replayed, 0u);
    EXPECT_GE(pulled + pushed, 500u);
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, CatchUpTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Hints" : "AntiEntropy"; });

// Keys one replica lost are restored by anti-entropy, and the bytes exchanged
// are a small fraction of the data.
TEST_F(RepairTest, AntiEntropyRestoresDroppedKeysCheaply) {
  StartCluster({.extra_args = {"--anti-entropy-interval=1s", "--enable-test-hooks"}});
  constexpr int kKeys = 2000;
  constexpr size_t kValue = 1000;
  PutAll(kKeys, kValue);
  const std::vector<int> all = All(5);
  ASSERT_TRUE(WaitFor([&] { return Misplaced(kKeys, all) == 0; }, absl::Seconds(30)));
  const uint64_t sent_before = Sum(*cluster_, "anti_entropy_bytes_sent", all);

  v1::DropKeysRequest req;
  req.set_prefix("key-1");  // key-1, key-10.., key-100.., key-1000..: 1111 of 2000 names
  req.set_limit(100);
  v1::DropKeysResponse resp;
  ASSERT_TRUE(cluster_->admin(1).DropKeys(Context().get(), req, &resp).ok());
  ASSERT_EQ(resp.dropped(), 100u);
  int misplaced = 0;
  EXPECT_TRUE(WaitFor(
      [&] {
        misplaced = Misplaced(kKeys, all);
        return misplaced == 0;
      },
      absl::Seconds(60)))
      << misplaced << " keys still lack a replica";
  const uint64_t exchanged = Sum(*cluster_, "anti_entropy_bytes_sent", all) - sent_before;
  const uint64_t data = uint64_t{kKeys} * (kValue + 8) * 3;
  std::cerr << "anti-entropy sent " << exchanged << " bytes to restore 100 keys; the cluster holds "
            << data << " bytes of keys and values\n";
  EXPECT_LT(exchanged * 10, data) << "anti-entropy cost should follow the difference, not the data";
}

// A sixth node ends up with exactly the keys it is among the 3 closest for,
// old owners drop theirs, and reads never fail during the move.
TEST_F(RepairTest, JoiningNodeGetsItsKeysAndOthersLetGo) {
  StartCluster({.nodes = 6, .extra_args = {"--anti-entropy-interval=1s"}, .initially_running = 5});
  constexpr int kKeys = 1000;
  PutAll(kKeys);
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, failed{0};
  std::string first_failure;
  std::mutex mu;
  std::thread reader([&] {
    std::mt19937 rng(1);
    for (int n = 0; n < 200000 && !stop; ++n) {
      const int i = static_cast<int>(rng() % kKeys);
      v1::GetResponse resp;
      grpc::Status s = cluster_->Get(static_cast<int>(rng() % 5), Key(i), &resp);
      ++reads;
      if (!s.ok() || !resp.found() || resp.value() != Value(i)) {
        ++failed;
        std::lock_guard<std::mutex> l(mu);
        if (first_failure.empty()) {
          first_failure = absl::StrCat(Key(i), ": ", s.error_message(), " found=", resp.found());
        }
      }
    }
  });
  ASSERT_TRUE(cluster_->StartNode(5));
  int misplaced = 0;
  EXPECT_TRUE(WaitFor(
      [&] {
        misplaced = Misplaced(kKeys, All(6));
        return misplaced == 0;
      },
      absl::Seconds(90)))
      << misplaced << " keys are not held by exactly their 3 closest nodes";
  stop = true;
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(failed.load(), 0) << "of " << reads.load() << " reads; first: " << first_failure;
  std::cerr << reads.load() << " reads during the move, " << failed.load() << " failed; "
            << Sum(*cluster_, "handoff_keys_dropped", All(6)) << " copies handed off\n";
}

// A delete made while a replica was down stays a delete once it is back.
TEST_F(RepairTest, DeleteWhileReplicaDownStaysDeleted) {
  StartCluster({.extra_args = {"--anti-entropy-interval=1s"}, .durable = true});
  constexpr int kTarget = 3;
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < 50; ++i) {
    const std::vector<int> owners = cluster_->Closest(Key(i), 3, All(5));
    if (std::find(owners.begin(), owners.end(), kTarget) == owners.end()) continue;
    ASSERT_TRUE(cluster_->Put(0, Key(i), Value(i), v1::ALL).ok());
    keys.push_back(Key(i));
  }
  cluster_->process(kTarget).Signal(SIGKILL);
  ASSERT_TRUE(
      WaitFor([&] { return cluster_->SeesPeerIn(0, kTarget, v1::DOWN); }, absl::Seconds(20)));
  for (const std::string& k : keys) ASSERT_TRUE(cluster_->Delete(1, k).ok()) << k;
  ASSERT_TRUE(cluster_->Restart(kTarget, /*join=*/true));
  // Repaired: no node holds a live copy any more.
  int live = 0;
  EXPECT_TRUE(WaitFor(
      [&] {
        live = 0;
        for (const std::string& k : keys) live += !cluster_->Holders(k).empty();
        return live == 0;
      },
      absl::Seconds(60)))
      << live << " deleted keys still have a live copy";
  // And it stays so through more anti-entropy rounds, read at ALL from every node.
  const uint64_t rounds = Sum(*cluster_, "anti_entropy_rounds", {kTarget});
  ASSERT_TRUE(
      WaitFor([&] { return Sum(*cluster_, "anti_entropy_rounds", {kTarget}) >= rounds + 3; },
              absl::Seconds(30)));
  for (const std::string& k : keys) {
    for (int n = 0; n < 5; ++n) {
      v1::GetResponse resp;
      ASSERT_TRUE(cluster_->Get(n, k, &resp, v1::ALL).ok()) << k;
      EXPECT_FALSE(resp.found()) << k << " came back through node " << n;
    }
  }
}

// Deletes and expired keys are purged from every replica once the tombstone
// grace has passed, not only hidden.
TEST_F(RepairTest, TombstonesAndExpiredKeysArePurged) {
  StartCluster(
      {.extra_args = {"--anti-entropy-interval=1s", "--dead-after=1s", "--tombstone-grace=5s"}});
  for (int i = 0; i < 20; ++i) {
    v1::PutRequest req;
    req.set_key(Key(i));
    req.set_value(Value(i));
    req.set_ttl_seconds(1);
    v1::PutResponse resp;
    ASSERT_TRUE(cluster_->kv(i % 5).Put(Context().get(), req, &resp).ok());
  }
  for (int i = 20; i < 40; ++i) {
    ASSERT_TRUE(cluster_->Put(i % 5, Key(i), Value(i), v1::ALL).ok());
    ASSERT_TRUE(cluster_->Delete(i % 5, Key(i), v1::ALL).ok());
  }
  // Gone from every node's store: Fetch finds no record at all.
  auto stored = [&] {
    int n = 0;
    for (int i = 0; i < 40; ++i) {
      for (int node = 0; node < 5; ++node) {
        v1::FetchRequest req;
        req.set_key(Key(i));
        v1::FetchResponse resp;
        n += cluster_->peer(node).Fetch(Context().get(), req, &resp).ok() && resp.found();
      }
    }
    return n;
  };
  int left = 0;
  EXPECT_TRUE(WaitFor(
      [&] {
        left = stored();
        return left == 0;
      },
      absl::Seconds(60)))
      << left << " records still stored";
  EXPECT_GE(Sum(*cluster_, "purged_expired", All(5)), 60u);  // 20 keys x 3 replicas
  EXPECT_GE(Sum(*cluster_, "purged_tombstones", All(5)), 120u);
}

// `kvctl leave` under write load: no acknowledged write is lost.
TEST_F(RepairTest, LeaveUnderLoadLosesNoAcknowledgedWrite) {
  StartCluster({.extra_args = {"--anti-entropy-interval=1s"}});
  constexpr int kLeaver = 4;
  PutAll(500);
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<int> acked;  // guarded by mu
  std::atomic<size_t> acked_count{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 100000 && !stop; ++i) {
        const int key = 1000 + w * 100000 + i;
        if (!cluster_->Put(w, Key(key), Value(key)).ok()) continue;
        std::lock_guard<std::mutex> l(mu);
        acked.push_back(key);
        ++acked_count;
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] { return acked_count >= 100; }, absl::Seconds(30)));
  CommandResult leave =
      RunCommand(KVCTL_BIN, {"leave", "--addr=" + cluster_->address(kLeaver)}, absl::Seconds(120));
  EXPECT_EQ(leave.exit_code, 0) << leave.output;
  EXPECT_NE(leave.output.find("handoff"), std::string::npos) << leave.output;
  EXPECT_NE(leave.output.find("left the cluster"), std::string::npos) << leave.output;
  EXPECT_EQ(cluster_->process(kLeaver).Wait(absl::Seconds(30)), 0);
  // Keep writing a little after the leave, then stop.
  const size_t at_leave = acked_count;
  WaitFor([&] { return acked_count >= at_leave + 50; }, absl::Seconds(10));
  stop = true;
  for (auto& t : writers) t.join();
  std::vector<int> keys;
  for (int i = 0; i < 500; ++i) keys.push_back(i);
  keys.insert(keys.end(), acked.begin(), acked.end());
  int lost = 0;
  for (int k : keys) {
    v1::GetResponse resp;
    grpc::Status s = cluster_->Get(k % 4, Key(k), &resp);
    if (!s.ok() || !resp.found() || resp.value() != Value(k)) {
      ++lost;
      ADD_FAILURE() << Key(k) << " lost: " << s.error_message();
      if (lost > 10) break;
    }
  }
  std::cerr << keys.size() << " acknowledged writes checked, " << lost << " lost\n" << leave.output;
  EXPECT_EQ(lost, 0);
}

// A node that left and comes back under the same ID is taken back as alive
// by every node, not only by the seed it joins through.
TEST_F(RepairTest, NodeThatLeftIsTakenBackWhenItReturns) {
  StartCluster({.extra_args = {"--anti-entropy-interval=1s"}, .stable_ids = true});
  constexpr int kLeaver = 4;
  CommandResult leave =
      RunCommand(KVCTL_BIN, {"leave", "--addr=" + cluster_->address(kLeaver)}, absl::Seconds(60));
  ASSERT_EQ(leave.exit_code, 0) << leave.output;
  ASSERT_EQ(cluster_->process(kLeaver).Wait(absl::Seconds(30)), 0);
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(
        WaitFor([&] { return cluster_->SeesPeerIn(i, kLeaver, v1::DEAD); }, absl::Seconds(10)))
        << "node " << i << " does not show the leaver as dead";
  }
  ASSERT_TRUE(cluster_->Restart(kLeaver, /*join=*/true));
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(
        WaitFor([&] { return cluster_->SeesPeerIn(i, kLeaver, v1::ALIVE); }, absl::Seconds(20)))
        << "node " << i << " still treats the returning node as gone";
  }
}

// A new node at the address of one that left (new data dir, new id) neither
// learns its predecessor from the seed nor takes writes meant for it.
TEST_F(RepairTest, NodeReplacingALeaverAtItsAddressIgnoresItsPredecessor) {
  StartCluster({.extra_args = {"--anti-entropy-interval=1s"}});
  constexpr int kLeaver = 4;
  const std::string old_id = cluster_->id(kLeaver);
  CommandResult leave =
      RunCommand(KVCTL_BIN, {"leave", "--addr=" + cluster_->address(kLeaver)}, absl::Seconds(60));
  ASSERT_EQ(leave.exit_code, 0) << leave.output;
  ASSERT_EQ(cluster_->process(kLeaver).Wait(absl::Seconds(30)), 0);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(
        WaitFor([&] { return cluster_->SeesPeerIn(i, kLeaver, v1::DEAD); }, absl::Seconds(10)))
        << "node " << i << " does not show the leaver as dead";
  }
  ASSERT_TRUE(cluster_->Restart(kLeaver, /*join=*/true));  // no stable id: a new one
  const std::string new_id = cluster_->id(kLeaver);
  ASSERT_NE(new_id, old_id);

  // The newcomer knows the 4 others, and not the node that left.
  auto peer_ids = [&] {
    std::vector<std::string> ids;
    v1::PeersResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    if (cluster_->admin(kLeaver).Peers(&ctx, v1::PeersRequest(), &resp).ok()) {
      for (const v1::PeerEntry& p : resp.peers()) ids.push_back(p.node().id());
    }
    return ids;
  };
  ASSERT_TRUE(WaitFor([&] { return peer_ids().size() >= 4; }, absl::Seconds(20)));
  const std::vector<std::string> known = peer_ids();
  EXPECT_EQ(std::count(known.begin(), known.end(), old_id), 0)
      << "the newcomer took the departed node for a peer";

  // Calls addressed to the departed node are refused; to the newcomer, served.
  auto store_to = [&](const std::string& to) {
    v1::StoreRequest req;
    req.mutable_from()->set_id(cluster_->id(0));
    req.mutable_from()->set_address(cluster_->address(0));
    req.set_key("addressed");
    req.mutable_record()->set_value("v");
    req.mutable_record()->mutable_version()->set_timestamp(uint64_t{1} << 40);
    req.mutable_record()->mutable_version()->set_node_id(cluster_->id(0));
    req.set_to(to);
    v1::StoreResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    return cluster_->peer(kLeaver).Store(&ctx, req, &resp);
  };
  grpc::Status stale = store_to(old_id);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << stale.error_message();
  EXPECT_NE(stale.error_message().find("stale"), std::string::npos) << stale.error_message();
  EXPECT_TRUE(store_to(new_id).ok());
  v1::FetchRequest fetch;
  fetch.mutable_from()->set_id(cluster_->id(0));
  fetch.mutable_from()->set_address(cluster_->address(0));
  fetch.set_key("addressed");
  fetch.set_to(old_id);
  v1::FetchResponse fetched;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  EXPECT_EQ(cluster_->peer(kLeaver).Fetch(&ctx, fetch, &fetched).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace kv::testing
