#include "cmd/kvstore/status/ring.h"

#include <random>

#include "gtest/gtest.h"

namespace kv::cmd::status {
namespace {

// An ID whose first byte is `top` and whose other bytes are `rest`.
dht::NodeId Id(uint8_t top, uint8_t rest = 0) {
  std::array<uint8_t, dht::kIdBytes> b;
  b.fill(rest);
  b[0] = top;
  return dht::NodeId(b);
}

TEST(RingTest, PositionIsTheTopBitsAsAFraction) {
  EXPECT_EQ(RingPosition(Id(0x00)), 0.0);
  EXPECT_EQ(RingPosition(Id(0x80)), 0.5);
  EXPECT_EQ(RingPosition(Id(0xc0)), 0.75);
  EXPECT_LT(RingPosition(Id(0xff, 0xff)), 1.0);
}

TEST(RingTest, NoIdsNoArcsAndOneIdOwnsEverything) {
  EXPECT_TRUE(OwnerArcs({}).empty());
  const std::vector<dht::NodeId> one = {Id(0x42, 7)};
  const std::vector<OwnerArc> arcs = OwnerArcs(one);
  ASSERT_EQ(arcs.size(), 1u);
  EXPECT_EQ(arcs[0].owner, 0u);
  EXPECT_EQ(arcs[0].begin, 0.0);
  EXPECT_EQ(arcs[0].end, 1.0);
}

TEST(RingTest, HalvesForIdsThatDifferInTheTopBit) {
  const std::vector<dht::NodeId> ids = {Id(0x90), Id(0x10)};
  const std::vector<OwnerArc> arcs = OwnerArcs(ids);
  ASSERT_EQ(arcs.size(), 2u);
  EXPECT_EQ(arcs[0].owner, 1u);
  EXPECT_EQ(arcs[0].end, 0.5);
  EXPECT_EQ(arcs[1].owner, 0u);
  EXPECT_EQ(arcs[1].begin, 0.5);
}

// Under XOR a node may own arcs that are not neighbours: with 000…, 001… and
// 1…, the ID 010… is closer to 000… (distance 010) than to 001… (011).
TEST(RingTest, XorOwnershipInterleaves) {
  const std::vector<dht::NodeId> ids = {Id(0x00), Id(0x20), Id(0x80)};
  const std::vector<OwnerArc> arcs = OwnerArcs(ids);
  ASSERT_EQ(arcs.size(), 5u);
  const std::vector<std::tuple<size_t, double, double>> want = {
      {0, 0, 0.125}, {1, 0.125, 0.25}, {0, 0.25, 0.375}, {1, 0.375, 0.5}, {2, 0.5, 1}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(arcs[i].owner, std::get<0>(want[i])) << i;
    EXPECT_EQ(arcs[i].begin, std::get<1>(want[i])) << i;
    EXPECT_EQ(arcs[i].end, std::get<2>(want[i])) << i;
  }
}

TEST(RingTest, EqualIdsCountAsOne) {
  const std::vector<dht::NodeId> ids = {Id(0x10), Id(0x10), Id(0x90)};
  const std::vector<OwnerArc> arcs = OwnerArcs(ids);
  ASSERT_EQ(arcs.size(), 2u);
  EXPECT_EQ(arcs[0].owner, 0u);
  EXPECT_EQ(arcs[1].owner, 2u);
}

// Every random target lies in an arc of the node closest to it by XOR, and the
// arcs tile the ring.
TEST(RingTest, ArcsAgreeWithTheClosestNodeForRandomTargets) {
  std::mt19937_64 rng(20261207);
  for (int round = 0; round < 5; ++round) {
    std::vector<dht::NodeId> ids;
    for (int i = 0; i < 3 + 7 * round; ++i) ids.push_back(dht::NodeId::Random(rng));
    const std::vector<OwnerArc> arcs = OwnerArcs(ids);
    ASSERT_FALSE(arcs.empty());
    EXPECT_EQ(arcs.front().begin, 0.0);
    EXPECT_EQ(arcs.back().end, 1.0);
    for (size_t i = 1; i < arcs.size(); ++i) {
      EXPECT_EQ(arcs[i].begin, arcs[i - 1].end);
      EXPECT_NE(arcs[i].owner, arcs[i - 1].owner) << "neighbours of one owner are merged";
    }
    for (int t = 0; t < 2000; ++t) {
      const dht::NodeId target = dht::NodeId::Random(rng);
      size_t closest = 0;
      for (size_t i = 1; i < ids.size(); ++i) {
        if ((ids[i] ^ target) < (ids[closest] ^ target)) closest = i;
      }
      const double p = RingPosition(target);
      auto arc = std::find_if(arcs.begin(), arcs.end(),
                              [p](const OwnerArc& a) { return a.begin <= p && p < a.end; });
      ASSERT_NE(arc, arcs.end());
      EXPECT_EQ(arc->owner, closest) << "target " << target.ToHex();
    }
  }
}

}  // namespace
}  // namespace kv::cmd::status
