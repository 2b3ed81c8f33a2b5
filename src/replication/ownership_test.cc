#include "src/replication/ownership.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kv::replication {
namespace {

std::vector<dht::Contact> Nodes(std::mt19937_64& rng, size_t count) {
  std::vector<dht::Contact> nodes;
  for (size_t i = 0; i < count; ++i) {
    nodes.push_back({dht::NodeId::Random(rng), absl::StrCat("127.0.0.1:", 1000 + i)});
  }
  return nodes;
}

// A node whose ID shares its first `bits` bits with `near`.
dht::Contact Near(std::mt19937_64& rng, const dht::NodeId& near, int bits, int i) {
  std::array<uint8_t, dht::kIdBytes> b = dht::NodeId::Random(rng).bytes();
  for (int bit = 0; bit < bits; ++bit) {
    const uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
    b[bit / 8] = static_cast<uint8_t>((b[bit / 8] & ~mask) | (near.bytes()[bit / 8] & mask));
  }
  return {dht::NodeId(b), absl::StrCat("127.0.0.2:", i)};
}

const OwnedRange* RangeOf(const std::vector<OwnedRange>& ranges, uint32_t leaf) {
  for (const OwnedRange& r : ranges) {
    if (leaf >= r.first_leaf() && leaf < r.end_leaf()) return &r;
  }
  return nullptr;
}

std::vector<dht::NodeId> Sorted(std::vector<dht::NodeId> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Every key's owners, found by brute force, agree with the ranges: a key
// is in a listed range iff `self` owns it, and a range that is not partial
// names exactly its owners (a partial one names a superset).
void ExpectRangesMatchBruteForce(const std::vector<dht::Contact>& nodes, size_t n,
                                 std::mt19937_64& rng, int keys) {
  for (const dht::Contact& self : nodes) {
    const std::vector<OwnedRange> ranges = RangesOwnedBy(nodes, self.id, n);
    for (size_t i = 1; i < ranges.size(); ++i) {
      ASSERT_LE(ranges[i - 1].end_leaf(), ranges[i].first_leaf()) << "ascending, disjoint";
    }
    for (int k = 0; k < keys; ++k) {
      const dht::NodeId key = dht::NodeId::Random(rng);
      std::vector<dht::NodeId> owners;
      for (const dht::Contact& c : dht::ClosestAmong(nodes, key, n)) owners.push_back(c.id);
      const bool mine = std::find(owners.begin(), owners.end(), self.id) != owners.end();
      const OwnedRange* r = RangeOf(ranges, LeafOfId(key));
      if (r == nullptr) {
        ASSERT_FALSE(mine) << "a key self owns lies outside every range";
        continue;
      }
      if (!r->partial) {
        ASSERT_TRUE(mine);
        ASSERT_EQ(Sorted(r->owners), Sorted(owners));
      } else {
        for (const dht::NodeId& o : owners) {
          ASSERT_NE(std::find(r->owners.begin(), r->owners.end(), o), r->owners.end());
        }
      }
    }
  }
}

TEST(RangesOwnedByTest, MatchTheClosestNodesOfEveryKey) {
  std::mt19937_64 rng(7);
  for (size_t count : {1, 2, 3, 5, 40}) {
    const std::vector<dht::Contact> nodes = Nodes(rng, count);
    ExpectRangesMatchBruteForce(nodes, 3, rng, 300);
  }
}

TEST(RangesOwnedByTest, CutLeavesWhereNodeIdsShareMoreThanTheTreesDepth) {
  std::mt19937_64 rng(8);
  std::vector<dht::Contact> nodes = Nodes(rng, 20);
  const dht::NodeId hub = nodes[0].id;
  for (int i = 0; i < 4; ++i) nodes.push_back(Near(rng, hub, 20, i));
  const std::vector<OwnedRange> ranges = RangesOwnedBy(nodes, hub, 3);
  EXPECT_TRUE(
      std::any_of(ranges.begin(), ranges.end(), [](const OwnedRange& r) { return r.partial; }));
  ExpectRangesMatchBruteForce(nodes, 3, rng, 200);
  // Keys right next to the hub, where the owners vary inside one leaf.
  for (int k = 0; k < 200; ++k) {
    const dht::NodeId key = Near(rng, hub, 18, k).id;
    std::vector<dht::NodeId> owners;
    for (const dht::Contact& c : dht::ClosestAmong(nodes, key, 3)) owners.push_back(c.id);
    for (const dht::NodeId& o : owners) {
      const OwnedRange* r = RangeOf(RangesOwnedBy(nodes, o, 3), LeafOfId(key));
      ASSERT_NE(r, nullptr) << "every owner lists the key's leaf";
    }
  }
}

TEST(RangesOwnedByTest, EveryoneOwnsEverythingWithFewerNodesThanReplicas) {
  std::mt19937_64 rng(9);
  const std::vector<dht::Contact> nodes = Nodes(rng, 2);
  const std::vector<OwnedRange> ranges = RangesOwnedBy(nodes, nodes[1].id, 3);
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0].depth, 0);
  EXPECT_EQ(ranges[0].owners.size(), 2u);
  EXPECT_TRUE(RangesOwnedBy(nodes, nodes[1].id, 0).empty());
}

TEST(RangesOwnedByTest, CoverAboutTheNodesShareOfTheKeySpace) {
  std::mt19937_64 rng(10);
  const std::vector<dht::Contact> nodes = Nodes(rng, 200);
  uint64_t leaves = 0;
  for (const dht::Contact& self : nodes) {
    for (const OwnedRange& r : RangesOwnedBy(nodes, self.id, 3)) {
      leaves += r.end_leaf() - r.first_leaf();
    }
  }
  // Each leaf is owned by 3 nodes (partial leaves by a few more).
  EXPECT_GE(leaves, 3u * storage::kTreeLeaves);
  EXPECT_LE(leaves, 3u * storage::kTreeLeaves + 3000);
}

}  // namespace
}  // namespace kv::replication
