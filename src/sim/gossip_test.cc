// Failures everyone hears of (node/gossiper.h): in a cluster far bigger than
// a node's watch list, a crash must reach every node within seconds, and a
// node that comes back, restarted or from behind a partition, must be alive
// again everywhere.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/sim/cluster.h"

namespace kv::sim {
namespace {

Cluster::Options Big(uint64_t seed) {
  Cluster::Options o;
  o.nodes = 120;
  o.k = 8;  // each node watches its 8 nearest: most never watch a given node
  o.network.seed = seed;
  o.seed = seed;
  return o;
}

// How many up nodes other than `subject` see it down.
int SeenDownBy(Cluster& c, int subject) {
  int n = 0;
  for (int i = 0; i < c.size(); ++i) {
    if (i == subject || !c.up(i)) continue;
    n += c.node(i).membership().State(c.contact(subject).id) == membership::PeerState::kDown;
  }
  return n;
}

int UpNodes(Cluster& c) {
  int n = 0;
  for (int i = 0; i < c.size(); ++i) n += c.up(i);
  return n;
}

TEST(SimGossipTest, ACrashReachesEveryNodeWithinSeconds) {
  Cluster c(Big(5));
  c.RunFor(absl::Seconds(30));
  const int victim = 17;
  c.Crash(victim);
  // About k nodes watch it; everyone else can only have heard.
  ASSERT_TRUE(c.RunUntil([&] { return SeenDownBy(c, victim) == UpNodes(c); }, absl::Seconds(10)))
      << SeenDownBy(c, victim) << " of " << UpNodes(c) << " nodes see the crashed node down";
  uint64_t gossips = c.gossips();
  // Restarted under the same ID (a later epoch): alive everywhere again.
  c.Restart(victim);
  ASSERT_TRUE(c.RunUntil([&] { return SeenDownBy(c, victim) == 0; }, absl::Seconds(15)))
      << SeenDownBy(c, victim) << " nodes still see the restarted node down";
  // And a quiet cluster is quiet: about one pull per node per 5 s.
  c.RunFor(absl::Seconds(10));
  gossips = c.gossips();
  c.RunFor(absl::Seconds(20));
  EXPECT_LE(c.gossips() - gossips, static_cast<uint64_t>(c.size()) * 20 / 5 * 2);
}

TEST(SimGossipTest, ANodeBackFromAPartitionRefutesItsDeath) {
  Cluster c(Big(6));
  c.RunFor(absl::Seconds(30));
  const int cut = 42;
  c.net().Isolate(c.contact(cut).address, true);
  ASSERT_TRUE(c.RunUntil([&] { return SeenDownBy(c, cut) == UpNodes(c) - 1; }, absl::Seconds(10)))
      << SeenDownBy(c, cut) << " of " << UpNodes(c) - 1 << " see the isolated node down";
  const uint64_t epoch = c.node(cut).epoch();
  // Same process, same epoch: only the node itself can clear the word.
  c.net().Isolate(c.contact(cut).address, false);
  ASSERT_TRUE(c.RunUntil([&] { return SeenDownBy(c, cut) == 0; }, absl::Seconds(15)))
      << SeenDownBy(c, cut) << " nodes still see the healed node down";
  EXPECT_GT(c.node(cut).epoch(), epoch) << "it refuted at a later epoch";
}

}  // namespace
}  // namespace kv::sim
