#include "src/storage/digest_tree.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/dht/node_id.h"

namespace kv::storage {
namespace {

// The leaf of `key` as the DHT places it: the first 16 bits of its ID.
uint32_t DhtLeaf(std::string_view key) {
  const dht::NodeId id = dht::NodeId::FromKey(key);
  return (uint32_t{id.bytes()[0]} << 8) | id.bytes()[1];
}

// Every node's hash at `depth`, by prefix.
std::vector<uint64_t> Level(const DigestTree& tree, int depth) {
  std::vector<uint64_t> hashes(size_t{1} << depth);
  for (uint32_t p = 0; p < hashes.size(); ++p) hashes[p] = tree.Hash(p, depth);
  return hashes;
}

struct KeyVersion {
  std::string key;
  Version version;
};

std::vector<KeyVersion> RandomRecords(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<KeyVersion> records;
  for (size_t i = 0; i < n; ++i) {
    records.push_back({absl::StrCat("key-", i, "-", rng()),
                       Version{rng(), std::string(40, static_cast<char>('a' + rng() % 26))}});
  }
  return records;
}

constexpr int kAllDepths[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 15, 16};

TEST(LeafOfTest, IsTheFirstSixteenBitsOfTheKeysDhtId) {
  EXPECT_EQ(LeafOf("abc"), 0xa999u);  // SHA-1("abc") = a9993e36...
  EXPECT_EQ(LeafOf(""), 0xda39u);     // SHA-1("") = da39a3ee...
  for (int i = 0; i < 1000; ++i) {
    const std::string key = absl::StrCat("key", i);
    ASSERT_EQ(LeafOf(key), DhtLeaf(key)) << key;
    ASSERT_LT(LeafOf(key), kTreeLeaves);
  }
}

// Values computed with kv::replication::RecordHash (anti_entropy.cc) before
// the function moved here: anti-entropy exchanges these hashes between
// processes of different builds, so they must never change.
TEST(RecordHashTest, EqualsTheReplicationLayersHashBitForBit) {
  EXPECT_EQ(RecordHash("key", Version{42, "n"}), 0xf36ec2000aa2edfaULL);
  EXPECT_EQ(RecordHash("", Version{}), 0x478d727e8c0ede75ULL);
  EXPECT_EQ(RecordHash("user:1234", Version{(uint64_t{1700000000000} << 16) | 3,
                                            "0123456789abcdef0123456789abcdef01234567"}),
            0x45565adfbb72c02dULL);
  EXPECT_EQ(RecordHash("k", Version{0xffffffffffffffffULL, "z"}), 0xe4b7203412f99006ULL);
}

TEST(RecordHashTest, SeparatesKeysAndVersions) {
  EXPECT_NE(RecordHash("k", Version{1, "a"}), RecordHash("k", Version{2, "a"}));
  EXPECT_NE(RecordHash("k", Version{1, "a"}), RecordHash("k", Version{1, "b"}));
  EXPECT_NE(RecordHash("k1", Version{1, "a"}), RecordHash("k", Version{1, "a"}));
  // The key ends where the version starts.
  EXPECT_NE(RecordHash("ab", Version{1, "c"}), RecordHash("a", Version{1, "bc"}));
}

TEST(DigestTreeTest, EmptyTreeHashesEveryNodeToZero) {
  DigestTree tree;
  for (int depth : kAllDepths) {
    const std::vector<uint64_t> level = Level(tree, depth);
    EXPECT_TRUE(std::all_of(level.begin(), level.end(), [](uint64_t h) { return h == 0; }))
        << depth;
  }
  EXPECT_TRUE(tree.NonEmptyLeaves().empty());
}

TEST(DigestTreeTest, HashAtEveryDepthIsTheXorOfTheRecordsUnderIt) {
  const std::vector<KeyVersion> records = RandomRecords(5000, 1);
  DigestTree tree;
  for (const KeyVersion& r : records) tree.Replace(r.key, nullptr, &r.version);

  std::vector<uint32_t> leaves;
  for (int depth : kAllDepths) {
    std::vector<uint64_t> want(size_t{1} << depth, 0);
    for (const KeyVersion& r : records) {
      want[DhtLeaf(r.key) >> (kTreeDepth - depth)] ^= RecordHash(r.key, r.version);
    }
    ASSERT_EQ(Level(tree, depth), want) << "depth " << depth;
  }
  for (const KeyVersion& r : records) leaves.push_back(DhtLeaf(r.key));
  std::sort(leaves.begin(), leaves.end());
  leaves.erase(std::unique(leaves.begin(), leaves.end()), leaves.end());
  EXPECT_EQ(tree.NonEmptyLeaves(), leaves);
  EXPECT_NE(tree.Hash(0, 0), 0u);
}

TEST(DigestTreeTest, ReplaceOfBeforeByAfterEqualsRemovingThenAdding) {
  const std::vector<KeyVersion> records = RandomRecords(2000, 2);
  DigestTree replaced;
  DigestTree removed_then_added;
  for (const KeyVersion& r : records) {
    replaced.Replace(r.key, nullptr, &r.version);
    removed_then_added.Replace(r.key, nullptr, &r.version);
  }
  for (size_t i = 0; i < records.size(); i += 2) {
    const KeyVersion& r = records[i];
    const Version newer{r.version.timestamp + 1, r.version.node_id};
    replaced.Replace(r.key, &r.version, &newer);
    removed_then_added.Replace(r.key, &r.version, nullptr);
    removed_then_added.Replace(r.key, nullptr, &newer);
  }
  EXPECT_NE(replaced.Hash(0, 0), 0u);
  for (int depth : {0, 4, 10, 16}) {
    EXPECT_EQ(Level(replaced, depth), Level(removed_then_added, depth)) << depth;
  }
  EXPECT_EQ(replaced.NonEmptyLeaves(), removed_then_added.NonEmptyLeaves());
}

TEST(DigestTreeTest, ReplaceOfEqualVersionsOrOfNothingChangesNothing) {
  DigestTree tree;
  const Version v{7, "node"};
  tree.Replace("k", nullptr, &v);
  const uint64_t root = tree.Hash(0, 0);
  const Version same = v;
  tree.Replace("k", &v, &same);
  tree.Replace("other", nullptr, nullptr);
  EXPECT_EQ(tree.Hash(0, 0), root);
  EXPECT_EQ(tree.Hash(LeafOf("k"), kTreeDepth), RecordHash("k", v));
  EXPECT_EQ(tree.NonEmptyLeaves(), std::vector<uint32_t>{LeafOf("k")});
}

TEST(DigestTreeTest, RemovingEveryRecordReturnsEveryNodeToZero) {
  const std::vector<KeyVersion> records = RandomRecords(3000, 3);
  DigestTree tree;
  for (const KeyVersion& r : records) tree.Replace(r.key, nullptr, &r.version);
  ASSERT_FALSE(tree.NonEmptyLeaves().empty());
  for (const KeyVersion& r : records) tree.Replace(r.key, &r.version, nullptr);
  for (int depth = 0; depth <= kTreeDepth; ++depth) {
    const std::vector<uint64_t> level = Level(tree, depth);
    ASSERT_TRUE(std::all_of(level.begin(), level.end(), [](uint64_t h) { return h == 0; }))
        << depth;
  }
  EXPECT_TRUE(tree.NonEmptyLeaves().empty());
}

TEST(DigestTreeTest, HashOutOfRangeIsZero) {
  DigestTree tree;
  const Version v{1, "n"};
  tree.Replace("k", nullptr, &v);
  EXPECT_EQ(tree.Hash(0, -1), 0u);
  EXPECT_EQ(tree.Hash(0, kTreeDepth + 1), 0u);
  EXPECT_EQ(tree.Hash(2, 1), 0u);
  EXPECT_EQ(tree.Hash(kTreeLeaves, kTreeDepth), 0u);
}

// Two threads write, overwrite and remove distinct keys (whose leaves share
// shards and nodes); the tree ends as if one thread had made every change.
TEST(DigestTreeTest, ConcurrentReplacesOfDistinctKeysEqualSequentialOnes) {
  constexpr int kThreads = 2;
  const std::vector<KeyVersion> records = RandomRecords(20000, 4);
  auto run = [&](DigestTree& tree, int part) {
    for (size_t i = part; i < records.size(); i += kThreads) {
      const KeyVersion& r = records[i];
      const Version newer{r.version.timestamp ^ 1, r.version.node_id};
      tree.Replace(r.key, nullptr, &r.version);
      tree.Replace(r.key, &r.version, &newer);
      if (i % 3 == 0) tree.Replace(r.key, &newer, nullptr);
    }
  };
  DigestTree sequential;
  for (int part = 0; part < kThreads; ++part) run(sequential, part);
  DigestTree concurrent;
  std::vector<std::thread> threads;
  for (int part = 0; part < kThreads; ++part)
    threads.emplace_back([&, part] { run(concurrent, part); });
  for (std::thread& t : threads) t.join();

  EXPECT_NE(sequential.Hash(0, 0), 0u);
  for (int depth : {0, 4, 8, 12, 16}) {
    EXPECT_EQ(Level(concurrent, depth), Level(sequential, depth)) << depth;
  }
  EXPECT_EQ(concurrent.NonEmptyLeaves(), sequential.NonEmptyLeaves());
}

}  // namespace
}  // namespace kv::storage
