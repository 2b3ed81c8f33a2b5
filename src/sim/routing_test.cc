// Replica sets in a cluster much bigger than a bucket: every coordinator
// must name the same owners as an oracle that sees every node, and find
// them with a few questions instead of a lookup of k candidates.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/sim/cluster.h"

namespace kv::sim {
namespace {

// The `n` node IDs of the cluster closest to `key`, by brute force.
std::vector<dht::NodeId> TrueOwners(Cluster& c, const dht::NodeId& key, size_t n) {
  std::vector<dht::NodeId> ids;
  for (int i = 0; i < c.size(); ++i) ids.push_back(c.contact(i).id);
  std::sort(ids.begin(), ids.end(),
            [&](const dht::NodeId& a, const dht::NodeId& b) { return (a ^ key) < (b ^ key); });
  ids.resize(n);
  return ids;
}

TEST(SimRoutingTest, EveryCoordinatorNamesTheTrueOwnersAfterAFewQuestions) {
  Cluster::Options o;
  o.nodes = 300;
  o.k = 8;  // 300 nodes fill the shallow buckets: most keys need a hop or two
  o.network.seed = 3;
  o.seed = 3;
  Cluster c(o);
  c.RunFor(absl::Seconds(30));

  std::vector<uint64_t> searches;
  uint64_t tag = 1;
  for (int q = 0; q < 25; ++q) {
    const std::string key = absl::StrCat("key", q);
    const std::vector<dht::NodeId> want = TrueOwners(c, dht::NodeId::FromKey(key), 3);
    for (int via = q; via < c.size(); via += 61) {
      SCOPED_TRACE(absl::StrCat(key, " via node ", via));
      c.net().BeginOp(tag);
      c.executor().set_tag({tag, 0});
      std::optional<absl::StatusOr<node::LocateReply>> reply;
      c.node(via).Locate(key, [&](absl::StatusOr<node::LocateReply> r) { reply = std::move(r); });
      c.executor().set_tag({});
      ASSERT_TRUE(c.RunUntil([&] { return reply.has_value(); }));
      ASSERT_TRUE(reply->ok()) << reply->status();
      const Network::OpCost cost = c.net().EndOp(tag++);
      std::vector<dht::NodeId> got;
      for (const node::ReplicaLocation& r : (*reply)->replicas) got.push_back(r.node.id);
      EXPECT_EQ(got, want);
      // Locate reads every replica but itself; the rest found the owners.
      const uint64_t fetches = std::count_if(
          got.begin(), got.end(), [&](const dht::NodeId& id) { return id != c.contact(via).id; });
      ASSERT_GE(cost.calls, fetches);
      const uint64_t search = cost.calls - fetches;
      searches.push_back(search);
    }
  }
  // Most coordinators were not certain themselves, and asking took about
  // log(300 / k) / log(k) questions (plus, now and then, a ping that checks
  // a full bucket's oldest contact).
  std::sort(searches.begin(), searches.end());
  EXPECT_LT(std::count(searches.begin(), searches.end(), 0u), std::ssize(searches) / 2);
  EXPECT_LE(searches[searches.size() / 2], 3u) << "a lookup asks at least k = 8 nodes";
}

}  // namespace
}  // namespace kv::sim
