#include "src/dht/node_id.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/hash/hash_testing.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "gtest/gtest.h"

namespace kv::dht {
namespace {

// An ID whose bytes are all zero except bytes[i] = v for each (i, v).
NodeId Make(std::initializer_list<std::pair<size_t, uint8_t>> set) {
  std::array<uint8_t, kIdBytes> b{};
  for (auto [i, v] : set) b[i] = v;
  return NodeId(b);
}

NodeId MustHex(std::string_view hex) {
  absl::StatusOr<NodeId> id = NodeId::FromHex(hex);
  EXPECT_TRUE(id.ok()) << id.status();
  return id.ok() ? *id : NodeId();
}

TEST(NodeIdTest, DefaultIsAllZero) {
  constexpr NodeId zero;
  EXPECT_EQ(zero.ToHex(), std::string(40, '0'));
  EXPECT_EQ(zero.CommonPrefixLength(zero), kIdBits);
}

TEST(NodeIdTest, XorDistanceToSelfIsZeroAndSymmetric) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 100; ++i) {
    NodeId a = NodeId::Random(rng);
    NodeId b = NodeId::Random(rng);
    EXPECT_EQ(a ^ a, NodeId());
    EXPECT_EQ(a ^ b, b ^ a);
    EXPECT_EQ((a ^ b) ^ b, a);
    if (a != b) {
      EXPECT_NE(a ^ b, NodeId());
    }
  }
}

TEST(NodeIdTest, XorDistanceIsAMetricWithStrictOrdering) {
  std::mt19937_64 rng(2);
  const NodeId zero;
  for (int i = 0; i < 200; ++i) {
    NodeId a = NodeId::Random(rng), b = NodeId::Random(rng), c = NodeId::Random(rng);
    // d(a,c) = d(a,b) ^ d(b,c), so d(a,c) has its leading one bit no higher than the
    // larger of the two legs: d(a,c) < 2 * max(d(a,b), d(b,c)) (triangle inequality).
    EXPECT_EQ(a ^ c, (a ^ b) ^ (b ^ c));
    EXPECT_GE((a ^ c).CommonPrefixLength(zero),
              std::min((a ^ b).CommonPrefixLength(zero), (b ^ c).CommonPrefixLength(zero)));
    // For a fixed target, distinct IDs have distinct distances: exactly one is closer.
    EXPECT_NE(CloserTo(a, b, c), CloserTo(a, c, b));
    // CloserTo is transitive.
    NodeId t = NodeId::Random(rng);
    if (CloserTo(t, a, b) && CloserTo(t, b, c)) {
      EXPECT_TRUE(CloserTo(t, a, c));
    }
  }
}

TEST(NodeIdTest, CloserToComparesXorDistance) {
  NodeId target = Make({{0, 0b1010'0000}});
  NodeId near = Make({{0, 0b1010'0001}});    // distance 0x01...
  NodeId far = Make({{0, 0b0010'0000}});     // distance 0x80...
  NodeId middle = Make({{0, 0b1000'0000}});  // distance 0x20...
  EXPECT_TRUE(CloserTo(target, near, middle));
  EXPECT_TRUE(CloserTo(target, middle, far));
  EXPECT_FALSE(CloserTo(target, far, near));
  EXPECT_FALSE(CloserTo(target, near, near));
  EXPECT_TRUE(CloserTo(target, target, near));
}

TEST(NodeIdTest, CommonPrefixLengthOnHandMadeIds) {
  NodeId zero;
  EXPECT_EQ(zero.CommonPrefixLength(Make({{0, 0x80}})), 0);
  EXPECT_EQ(zero.CommonPrefixLength(Make({{0, 0x40}})), 1);
  EXPECT_EQ(zero.CommonPrefixLength(Make({{0, 0x01}})), 7);
  EXPECT_EQ(zero.CommonPrefixLength(Make({{1, 0x80}})), 8);
  EXPECT_EQ(zero.CommonPrefixLength(Make({{2, 0x10}, {5, 0xff}})), 19);
  EXPECT_EQ(zero.CommonPrefixLength(Make({{19, 0x01}})), 159);
  NodeId a = Make({{0, 0xff}, {3, 0x0f}});
  EXPECT_EQ(a.CommonPrefixLength(Make({{0, 0xff}, {3, 0x0e}})), 31);
  EXPECT_EQ(a.CommonPrefixLength(a), 160);
  static_assert(NodeId().CommonPrefixLength(NodeId()) == kIdBits, "constexpr");
}

TEST(NodeIdTest, BitZeroIsMostSignificant) {
  NodeId id = Make({{0, 0x80}, {1, 0x01}, {19, 0x01}});
  EXPECT_TRUE(id.Bit(0));
  EXPECT_FALSE(id.Bit(1));
  EXPECT_FALSE(id.Bit(14));
  EXPECT_TRUE(id.Bit(15));
  EXPECT_FALSE(id.Bit(158));
  EXPECT_TRUE(id.Bit(159));
  int set = 0;
  for (int i = 0; i < kIdBits; ++i) set += id.Bit(i);
  EXPECT_EQ(set, 3);
}

TEST(NodeIdTest, OrderingIsNumericOrder) {
  EXPECT_LT(Make({{19, 0xff}}), Make({{18, 0x01}}));
  EXPECT_LT(Make({{1, 0xff}}), Make({{0, 0x01}}));
  EXPECT_LT(NodeId(), Make({{19, 0x01}}));
  EXPECT_GT(MustHex("8000000000000000000000000000000000000000"),
            MustHex("7fffffffffffffffffffffffffffffffffffffff"));
  // Numeric order agrees with the first differing bit.
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200; ++i) {
    NodeId a = NodeId::Random(rng), b = NodeId::Random(rng);
    if (a == b) continue;
    const int cpl = a.CommonPrefixLength(b);
    EXPECT_EQ(a < b, !a.Bit(cpl) && b.Bit(cpl));
  }
}

TEST(NodeIdTest, HexRoundTrip) {
  std::mt19937_64 rng(4);
  for (int i = 0; i < 100; ++i) {
    NodeId id = NodeId::Random(rng);
    std::string hex = id.ToHex();
    ASSERT_EQ(hex.size(), 40u);
    EXPECT_EQ(hex, absl::AsciiStrToLower(hex));
    EXPECT_EQ(MustHex(hex), id);
    EXPECT_EQ(id.ShortHex(), hex.substr(0, 8));
  }
  EXPECT_EQ(MustHex("0123456789ABCDEFabcdef0123456789abcdefAB").ToHex(),
            "0123456789abcdefabcdef0123456789abcdefab");
}

TEST(NodeIdTest, FromHexRejectsWrongLength) {
  for (std::string bad : {std::string(39, 'a'), std::string(41, 'a'), std::string()}) {
    absl::StatusOr<NodeId> id = NodeId::FromHex(bad);
    ASSERT_FALSE(id.ok()) << bad;
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(id.status().message().find("40"), std::string::npos) << id.status();
  }
}

TEST(NodeIdTest, FromHexRejectsNonHexCharacters) {
  for (std::string bad :
       {"g" + std::string(39, '0'), std::string(39, '0') + "z", "0x" + std::string(38, '0'),
        std::string(19, '0') + " " + std::string(20, '0')}) {
    absl::StatusOr<NodeId> id = NodeId::FromHex(bad);
    ASSERT_FALSE(id.ok()) << bad;
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(id.status().message().find("non-hex"), std::string::npos) << id.status();
  }
}

TEST(NodeIdTest, FromKeyIsSha1) {
  EXPECT_EQ(NodeId::FromKey("abc").ToHex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(NodeId::FromKey("").ToHex(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST(NodeIdTest, RandomIsDeterministicPerSeedAndVaries) {
  std::mt19937_64 r1(42), r2(42);
  NodeId a = NodeId::Random(r1);
  EXPECT_EQ(a, NodeId::Random(r2));
  EXPECT_NE(a, NodeId::Random(r1));
  // Every byte position gets randomized (the last 4 bytes come from a partial word).
  std::array<bool, kIdBytes> nonzero{};
  for (int i = 0; i < 64; ++i) {
    NodeId id = NodeId::Random(r1);
    for (size_t j = 0; j < kIdBytes; ++j) nonzero[j] |= id.bytes()[j] != 0;
  }
  EXPECT_TRUE(std::all_of(nonzero.begin(), nonzero.end(), [](bool b) { return b; }));
}

TEST(NodeIdTest, AbslHashDistinguishesIds) {
  std::mt19937_64 rng(5);
  NodeId a = NodeId::Random(rng);
  NodeId b = a;
  EXPECT_EQ(absl::Hash<NodeId>()(a), absl::Hash<NodeId>()(b));
  EXPECT_NE(absl::Hash<NodeId>()(a), absl::Hash<NodeId>()(NodeId::Random(rng)));
  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly({NodeId(), a, NodeId::Random(rng)}));
}

TEST(ClosestAmongTest, MatchesABruteForceSort) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 50; ++round) {
    std::vector<Contact> nodes;
    for (int i = 0; i < 30; ++i) nodes.push_back({NodeId::Random(rng), "a"});
    const NodeId target = NodeId::Random(rng);
    std::vector<Contact> sorted = nodes;
    std::sort(sorted.begin(), sorted.end(),
              [&](const auto& a, const auto& b) { return (a.id ^ target) < (b.id ^ target); });
    std::vector<Contact> got = ClosestAmong(nodes, target, 3);
    ASSERT_EQ(got.size(), 3u);
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(got[i].id, sorted[i].id);
    EXPECT_TRUE(ContainsNode(got, sorted[0].id));
    EXPECT_FALSE(ContainsNode(got, sorted[3].id));
  }
  EXPECT_EQ(ClosestAmong({}, NodeId(), 3).size(), 0u);
}

}  // namespace
}  // namespace kv::dht
