// Whole nodes on the simulated world (src/sim): nothing runs on another
// thread, so a run is a pure function of its seed and inputs.
#include "src/sim/cluster.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/node/test_hooks.h"

namespace kv::sim {
namespace {

Cluster::Options Small(uint64_t seed = 1) {
  Cluster::Options o;
  o.nodes = 3;
  o.anti_entropy_interval = absl::Seconds(5);
  o.network.seed = seed;
  o.seed = seed;
  return o;
}

int AlivePeers(node::Node& n) {
  int alive = 0;
  for (const auto& p : n.Peers()) alive += p.state == membership::PeerState::kAlive;
  return alive;
}

std::optional<std::string> ValueOn(Cluster& c, int i, const std::string& key) {
  absl::StatusOr<std::optional<storage::Record>> r = c.engine(i).Read(key);
  if (!r.ok() || !*r || (*r)->tombstone) return std::nullopt;
  return (*r)->value;
}

absl::Status Put(Cluster& c, int via, const std::string& key, const std::string& value,
                 replication::Consistency consistency = replication::Consistency::kQuorum) {
  std::optional<absl::StatusOr<replication::WriteResult>> put;
  c.node(via).Put({.key = key, .value = value, .consistency = consistency},
                  [&](absl::StatusOr<replication::WriteResult> r) { put = r; });
  if (!c.RunUntil([&] { return put.has_value(); })) return absl::DeadlineExceededError("no answer");
  return put->status();
}

TEST(SimClusterTest, NodesJoinAndSeeEachOtherAliveOnSimulatedTime) {
  Cluster c(Small());
  c.RunFor(absl::Seconds(10));
  for (int i = 0; i < c.size(); ++i) {
    EXPECT_TRUE(c.node(i).joined()) << i;
    EXPECT_EQ(AlivePeers(c.node(i)), c.size() - 1) << i;
  }
}

// What a run leaves behind: the trace of every message, and each node's
// copy of the key.
struct Outcome {
  uint64_t trace_hash = 0;
  uint64_t messages = 0;
  std::vector<std::optional<std::string>> values;
};

Outcome PutDropAndRepair(uint64_t seed) {
  Cluster c(Small(seed));
  c.RunFor(absl::Seconds(10));
  EXPECT_TRUE(Put(c, 1, "k", "v", replication::Consistency::kAll).ok());
  // Node 2 loses the key, as a disk might; anti-entropy brings it back.
  node::TestHooks hooks(&c.engine(2));
  EXPECT_EQ(*hooks.TEST_DropKeys("k", 0), 1u);
  c.RunFor(absl::Seconds(15));
  Outcome out;
  for (int i = 0; i < c.size(); ++i) out.values.push_back(ValueOn(c, i, "k"));
  out.trace_hash = c.net().trace_hash();
  out.messages = c.net().messages();
  return out;
}

TEST(SimClusterTest, AntiEntropyRestoresALostReplica) {
  const Outcome out = PutDropAndRepair(1);
  for (const auto& v : out.values) EXPECT_EQ(v, "v");
}

TEST(SimClusterTest, TheSameSeedDeliversTheSameMessagesInTheSameOrder) {
  const Outcome a = PutDropAndRepair(1);
  const Outcome b = PutDropAndRepair(1);
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.messages, b.messages);
  EXPECT_EQ(a.values, b.values);
  // Another seed draws other latencies: another trace, the same outcome.
  const Outcome other = PutDropAndRepair(2);
  EXPECT_NE(other.trace_hash, a.trace_hash);
  EXPECT_EQ(other.values, a.values);
}

TEST(SimClusterTest, HintsReachAReplicaThatWasCutOff) {
  Cluster c(Small());
  c.RunFor(absl::Seconds(10));
  c.net().Isolate(c.contact(2).address, true);
  c.RunFor(absl::Seconds(5));  // node 2 is down for the others
  ASSERT_TRUE(Put(c, 0, "h", "hinted").ok());
  EXPECT_EQ(ValueOn(c, 2, "h"), std::nullopt);
  c.net().Isolate(c.contact(2).address, false);
  c.RunFor(absl::Seconds(3));  // heartbeats resume; the hint is replayed
  EXPECT_EQ(ValueOn(c, 2, "h"), "hinted");
  uint64_t replayed = 0;
  for (int i = 0; i < 2; ++i) {
    for (const auto& [name, value] : c.node(i).Stats()) {
      if (name == "hints_replayed") replayed += value;
    }
  }
  EXPECT_EQ(replayed, 1u);  // by the hint, not by anti-entropy
}

TEST(SimClusterTest, ACrashedNodeRestartsEmptyAndIsRefilled) {
  Cluster c(Small());
  c.RunFor(absl::Seconds(10));
  for (int k = 0; k < 20; ++k) {
    ASSERT_TRUE(Put(c, k % 3, absl::StrCat("key", k), absl::StrCat("v", k)).ok()) << k;
  }
  c.Crash(2);
  c.RunFor(absl::Seconds(5));
  // Writes go on with two of three replicas.
  ASSERT_TRUE(Put(c, 0, "during", "crash").ok());
  c.Restart(2);
  EXPECT_EQ(c.engine(2).Size(), 0u);
  c.RunFor(absl::Seconds(30));  // rejoin, then anti-entropy
  EXPECT_TRUE(c.node(2).joined());
  for (int k = 0; k < 20; ++k) {
    EXPECT_EQ(ValueOn(c, 2, absl::StrCat("key", k)), absl::StrCat("v", k)) << k;
  }
  EXPECT_EQ(ValueOn(c, 2, "during"), "crash");
}

absl::StatusOr<std::optional<std::string>> Get(Cluster& c, int via, const std::string& key) {
  std::optional<absl::StatusOr<node::GetReply>> got;
  c.node(via).Get(key, replication::Consistency::kQuorum,
                  [&](absl::StatusOr<node::GetReply> r) { got = std::move(r); });
  if (!c.RunUntil([&] { return got.has_value(); })) return absl::DeadlineExceededError("no answer");
  if (!got->ok()) return got->status();
  if (!(*got)->found) return std::nullopt;
  return (*got)->value;
}

// Cassandra's pending ranges: a node that restarted empty takes writes at
// once but answers no read until it has its data, so a QUORUM read never
// pairs it with the one replica that missed a write acknowledged before.
TEST(SimClusterTest, ARestartedNodeAnswersNoReadUntilItHasItsData) {
  Cluster c(Small(4));
  c.RunFor(absl::Seconds(10));
  ASSERT_TRUE(Put(c, 0, "k", "v1", replication::Consistency::kAll).ok());
  // v2 reaches nodes 1 and 2 only.
  c.net().Isolate(c.contact(0).address, true);
  c.RunFor(absl::Seconds(5));
  ASSERT_TRUE(Put(c, 1, "k", "v2").ok());
  // Node 1 loses it in a crash and restarts empty (joining through node 0);
  // node 2, which has it, is cut off; node 0 comes back without it (its
  // hint was on node 1 or 2).
  c.Crash(1);
  c.net().Isolate(c.contact(2).address, true);
  c.net().Isolate(c.contact(0).address, false);
  c.Restart(1);
  c.RunFor(absl::Seconds(8));
  ASSERT_TRUE(c.node(1).joined());
  EXPECT_EQ(ValueOn(c, 0, "k"), "v1");
  EXPECT_EQ(c.node(1).HandleFetch("k").status().code(), absl::StatusCode::kFailedPrecondition);
  // Nodes 0 and 1 make a quorum, but 1 has nothing to say yet: no read
  // answers v1, whichever node coordinates it.
  for (int via : {0, 1}) {
    absl::StatusOr<std::optional<std::string>> got = Get(c, via, "k");
    EXPECT_FALSE(got.ok() && *got == "v1") << "stale read via node " << via;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << via;
  }
  // Writes go on meanwhile.
  ASSERT_TRUE(Put(c, 0, "w", "during").ok());
  // Node 2 is back: node 1 receives its data, then serves reads.
  c.net().Isolate(c.contact(2).address, false);
  ASSERT_TRUE(c.RunUntil([&] { return c.node(1).ServesReads().ok(); }, absl::Seconds(30)));
  EXPECT_EQ(ValueOn(c, 1, "k"), "v2");
  for (int via = 0; via < 3; ++via) EXPECT_EQ(Get(c, via, "k").value_or(std::nullopt), "v2") << via;
}

TEST(SimClusterTest, APausedNodeFallsBehindThenCatchesUpWhatWaitedForIt) {
  Cluster c(Small());
  c.RunFor(absl::Seconds(10));
  c.Pause(2);
  EXPECT_TRUE(c.paused(2));
  c.RunFor(absl::Seconds(5));  // longer than the failure timeout: down for the others
  ASSERT_TRUE(Put(c, 0, "p", "while-paused").ok());
  // The store that was sent to it waits in its "socket": not applied yet.
  EXPECT_EQ(ValueOn(c, 2, "p"), std::nullopt);
  // A client request to it waits too.
  bool served = false;
  c.Submit(
      2, [&](node::Node&) { served = true; }, [] {});
  c.RunFor(absl::Seconds(1));
  EXPECT_FALSE(served);
  c.Resume(2);
  c.RunFor(absl::Seconds(5));
  EXPECT_TRUE(served);
  EXPECT_EQ(ValueOn(c, 2, "p"), "while-paused");
  EXPECT_EQ(AlivePeers(c.node(2)), 2);
}

TEST(SimClusterTest, AClogDelaysALinkWithoutLosingItsMessages) {
  Cluster c(Small());
  c.RunFor(absl::Seconds(10));
  const absl::Time until = c.clock().Now() + absl::Seconds(2);
  for (int i : {1, 2}) c.net().Clog(c.contact(0).address, c.contact(i).address, until);
  std::optional<absl::StatusOr<replication::WriteResult>> put;
  c.node(0).Put({.key = "c", .value = "slow", .consistency = replication::Consistency::kAll},
                [&](absl::StatusOr<replication::WriteResult> r) { put = r; });
  c.RunFor(absl::Seconds(1));
  EXPECT_FALSE(put.has_value()) << "an ALL write through clogged links answered early";
  EXPECT_EQ(ValueOn(c, 1, "c"), std::nullopt);
  ASSERT_TRUE(c.RunUntil([&] { return put.has_value(); }, absl::Seconds(5)));
  EXPECT_TRUE(put->ok()) << put->status();
  EXPECT_GE(c.clock().Now(), until);
  EXPECT_EQ(ValueOn(c, 1, "c"), "slow");
}

TEST(SimClusterTest, ADurableNodeKeepsItsDataAcrossACrash) {
  Cluster::Options o = Small();
  o.durable = true;
  Cluster c(o);
  c.RunFor(absl::Seconds(10));
  ASSERT_TRUE(Put(c, 0, "d", "kept", replication::Consistency::kAll).ok());
  c.Crash(2);
  c.Restart(2);
  EXPECT_EQ(ValueOn(c, 2, "d"), "kept");  // before any repair could bring it
  c.RunFor(absl::Seconds(10));
  EXPECT_TRUE(c.node(2).joined());
}

TEST(SimClusterTest, HeartbeatsMeasureASkewedClockAndTheFenceStopsItsWrites) {
  Cluster c(Small());
  c.RunFor(absl::Seconds(10));
  c.Crash(2);
  c.Restart(2, absl::Seconds(30));  // far beyond the 500 ms max clock offset
  EXPECT_EQ(c.skew(2), absl::Seconds(30));
  c.RunFor(absl::Seconds(10));
  bool measured = false;
  for (const auto& p : c.node(0).Peers()) {
    if (p.contact.id == c.contact(2).id && p.clock) {
      measured = true;
      EXPECT_NEAR(absl::ToDoubleSeconds(p.clock->offset), 30, 0.01);
    }
  }
  EXPECT_TRUE(measured);
  EXPECT_TRUE(c.node(2).clock_status().fenced) << c.node(2).clock_status().description;
  EXPECT_FALSE(c.node(0).clock_status().fenced) << c.node(0).clock_status().description;
  EXPECT_FALSE(Put(c, 2, "skewed", "v").ok());
  EXPECT_TRUE(Put(c, 0, "fine", "v").ok());
}

TEST(SimClusterTest, ARequestsTaggedWorkCountsItsCallsAndRoundTrips) {
  Cluster c(Small());
  c.RunFor(absl::Seconds(10));
  c.net().BeginOp(7);
  c.executor().set_tag({7, 0});
  std::optional<absl::StatusOr<replication::WriteResult>> put;
  c.node(0).Put({.key = "t", .value = "v", .consistency = replication::Consistency::kAll},
                [&](absl::StatusOr<replication::WriteResult> r) { put = r; });
  c.executor().set_tag({});
  ASSERT_TRUE(c.RunUntil([&] { return put.has_value(); }));
  ASSERT_TRUE(put->ok());
  const Network::OpCost cost = c.net().EndOp(7);
  // Node 0 is one of the 3 replicas: it stores locally and sends one Store
  // to each other replica; the answers make a chain of 2 messages.
  EXPECT_EQ(cost.calls, 2u);
  EXPECT_EQ(cost.depth, 2u);
  // Heartbeats and background work are nobody's request.
  c.RunFor(absl::Seconds(5));
  EXPECT_EQ(c.net().EndOp(7).calls, 0u);
}

}  // namespace
}  // namespace kv::sim
