#include "src/dht/routing_table.h"

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kv::dht {
namespace {

using ::testing::ElementsAre;
using Outcome = RoutingTable::UpdateOutcome;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

// Contact number `n` (0..255) in bucket `bucket` of a table whose self is all zeros:
// bit `bucket` is set, the last byte is `n`. REQUIRES: bucket < 152.
Contact C(int bucket, uint8_t n) {
  std::array<uint8_t, kIdBytes> b{};
  b[bucket / 8] = static_cast<uint8_t>(0x80u >> (bucket % 8));
  b[kIdBytes - 1] = n;
  return Contact{NodeId(b), absl::StrCat("10.0.", bucket, ".", n, ":7000")};
}

RoutingTable SmallTable(size_t k, size_t cache) {
  return RoutingTable(NodeId(), RoutingTable::Options{.k = k, .replacement_cache_size = cache},
                      kT0);
}

TEST(RoutingTableTest, InsertsNewContactsAtTail) {
  RoutingTable t = SmallTable(3, 3);
  EXPECT_EQ(t.Update(C(0, 1), kT0).outcome, Outcome::kInserted);
  EXPECT_EQ(t.Update(C(0, 2), kT0).outcome, Outcome::kInserted);
  EXPECT_EQ(t.Update(C(5, 1), kT0).outcome, Outcome::kInserted);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_THAT(t.Bucket(0), ElementsAre(C(0, 1), C(0, 2)));
  EXPECT_THAT(t.Bucket(5), ElementsAre(C(5, 1)));
  EXPECT_EQ(t.Find(C(0, 2).id), C(0, 2));
  EXPECT_EQ(t.Find(C(0, 3).id), std::nullopt);
}

TEST(RoutingTableTest, IgnoresSelf) {
  RoutingTable t = SmallTable(3, 3);
  RoutingTable::UpdateResult r = t.Update(Contact{NodeId(), "me:1"}, kT0);
  EXPECT_EQ(r.outcome, Outcome::kIgnoredSelf);
  EXPECT_EQ(r.ping_candidate, std::nullopt);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_TRUE(t.All().empty());
  EXPECT_EQ(t.Find(NodeId()), std::nullopt);
}

TEST(RoutingTableTest, RefreshMovesContactToTailAndUpdatesAddress) {
  RoutingTable t = SmallTable(3, 3);
  t.Update(C(0, 1), kT0);
  t.Update(C(0, 2), kT0);
  t.Update(C(0, 3), kT0);
  Contact moved{C(0, 1).id, "10.9.9.9:7001"};
  EXPECT_EQ(t.Update(moved, kT0).outcome, Outcome::kRefreshed);
  EXPECT_THAT(t.Bucket(0), ElementsAre(C(0, 2), C(0, 3), moved));
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.Find(moved.id)->address, "10.9.9.9:7001");
}

TEST(RoutingTableTest, FullBucketAsksToPingOldestAndCachesNewContact) {
  RoutingTable t = SmallTable(3, 3);
  for (uint8_t n = 1; n <= 3; ++n) t.Update(C(0, n), kT0);
  RoutingTable::UpdateResult r = t.Update(C(0, 4), kT0);
  EXPECT_EQ(r.outcome, Outcome::kBucketFull);
  EXPECT_EQ(r.ping_candidate, C(0, 1));
  EXPECT_THAT(t.ReplacementCache(0), ElementsAre(C(0, 4)));
  EXPECT_EQ(t.Find(C(0, 4).id), std::nullopt);
  EXPECT_EQ(t.size(), 3u);
  // Other buckets still have room.
  EXPECT_EQ(t.Update(C(1, 1), kT0).outcome, Outcome::kInserted);
}

TEST(RoutingTableTest, AlivePingKeepsOldestAsMostRecentlySeen) {
  RoutingTable t = SmallTable(3, 3);
  for (uint8_t n = 1; n <= 4; ++n) t.Update(C(0, n), kT0);
  t.OnPingResult(C(0, 1).id, /*alive=*/true, kT0);
  EXPECT_THAT(t.Bucket(0), ElementsAre(C(0, 2), C(0, 3), C(0, 1)));
  EXPECT_THAT(t.ReplacementCache(0), ElementsAre(C(0, 4)));
  // The next newcomer now names the new oldest.
  EXPECT_EQ(t.Update(C(0, 5), kT0).ping_candidate, C(0, 2));
}

TEST(RoutingTableTest, DeadPingEvictsOldestAndPromotesNewestReplacement) {
  RoutingTable t = SmallTable(3, 3);
  for (uint8_t n = 1; n <= 5; ++n) t.Update(C(0, n), kT0);
  t.OnPingResult(C(0, 1).id, /*alive=*/false, kT0);
  EXPECT_THAT(t.Bucket(0), ElementsAre(C(0, 2), C(0, 3), C(0, 5)));
  EXPECT_THAT(t.ReplacementCache(0), ElementsAre(C(0, 4)));
  EXPECT_EQ(t.size(), 3u);
  // A second report for the same contact is a no-op.
  t.OnPingResult(C(0, 1).id, /*alive=*/false, kT0);
  EXPECT_THAT(t.Bucket(0), ElementsAre(C(0, 2), C(0, 3), C(0, 5)));
}

TEST(RoutingTableTest, RemovePromotesNewestReplacement) {
  RoutingTable t = SmallTable(2, 3);
  for (uint8_t n = 1; n <= 4; ++n) t.Update(C(0, n), kT0);
  t.Remove(C(0, 2).id);
  EXPECT_THAT(t.Bucket(0), ElementsAre(C(0, 1), C(0, 4)));
  EXPECT_THAT(t.ReplacementCache(0), ElementsAre(C(0, 3)));
  t.Remove(C(0, 1).id);
  t.Remove(C(0, 4).id);
  EXPECT_THAT(t.Bucket(0), ElementsAre(C(0, 3)));
  EXPECT_TRUE(t.ReplacementCache(0).empty());
  EXPECT_EQ(t.size(), 1u);
}

TEST(RoutingTableTest, RemoveOfAbsentContactIsNoOpButDropsItFromReplacementCache) {
  RoutingTable t = SmallTable(1, 3);
  t.Update(C(0, 1), kT0);
  t.Update(C(0, 2), kT0);
  t.Remove(C(0, 9).id);
  t.Remove(C(7, 9).id);
  EXPECT_THAT(t.Bucket(0), ElementsAre(C(0, 1)));
  t.Remove(C(0, 2).id);  // only in the replacement cache: never promoted later
  EXPECT_TRUE(t.ReplacementCache(0).empty());
  t.Remove(C(0, 1).id);
  EXPECT_EQ(t.size(), 0u);
}

TEST(RoutingTableTest, ReplacementCacheIsBoundedAndKeepsNewest) {
  RoutingTable t = SmallTable(1, 3);
  for (uint8_t n = 0; n <= 5; ++n) t.Update(C(0, n), kT0);
  EXPECT_THAT(t.ReplacementCache(0), ElementsAre(C(0, 3), C(0, 4), C(0, 5)));
  // Hearing again from a cached candidate makes it the newest, without duplicating it.
  EXPECT_EQ(t.Update(C(0, 3), kT0).outcome, Outcome::kBucketFull);
  EXPECT_THAT(t.ReplacementCache(0), ElementsAre(C(0, 4), C(0, 5), C(0, 3)));
  EXPECT_THAT(t.Bucket(0), ElementsAre(C(0, 0)));
}

TEST(RoutingTableTest, ZeroSizeReplacementCacheKeepsNothing) {
  RoutingTable t = SmallTable(1, 0);
  t.Update(C(0, 1), kT0);
  EXPECT_EQ(t.Update(C(0, 2), kT0).outcome, Outcome::kBucketFull);
  EXPECT_TRUE(t.ReplacementCache(0).empty());
  t.Remove(C(0, 1).id);
  EXPECT_EQ(t.size(), 0u);
}

TEST(RoutingTableTest, BucketIndexIsCommonPrefixLengthWithSelf) {
  RoutingTable t = SmallTable(3, 3);
  EXPECT_EQ(t.BucketIndex(C(0, 1).id), 0);
  EXPECT_EQ(t.BucketIndex(C(9, 1).id), 9);
  EXPECT_EQ(t.BucketIndex(C(151, 0).id), 151);
  std::array<uint8_t, kIdBytes> last{};
  last[kIdBytes - 1] = 1;
  EXPECT_EQ(t.BucketIndex(NodeId(last)), 159);

  std::mt19937_64 rng(7);
  NodeId self = NodeId::Random(rng);
  RoutingTable r(self, {});
  for (int i = 0; i < 100; ++i) {
    NodeId id = NodeId::Random(rng);
    EXPECT_EQ(r.BucketIndex(id), self.CommonPrefixLength(id));
  }
}

TEST(RoutingTableTest, StaleBucketsReportsIdleBucketsUpToDeepestContact) {
  RoutingTable t = SmallTable(3, 3);  // every bucket touched at kT0
  EXPECT_TRUE(t.StaleBuckets(kT0 + absl::Hours(5), absl::Hours(1)).empty()) << "empty table";
  t.Update(C(3, 1), kT0 + absl::Minutes(30));
  t.Update(C(0, 1), kT0 + absl::Minutes(90));
  const absl::Time now = kT0 + absl::Minutes(100);
  EXPECT_THAT(t.StaleBuckets(now, absl::Hours(1)), ElementsAre(1, 2, 3));
  EXPECT_THAT(t.StaleBuckets(now, absl::Minutes(75)), ElementsAre(1, 2));
  EXPECT_TRUE(t.StaleBuckets(now, absl::Hours(2)).empty());
  t.MarkRefreshed(1, now);
  EXPECT_THAT(t.StaleBuckets(now, absl::Hours(1)), ElementsAre(2, 3));
  // A refresh of a known contact and an alive ping also count as touches.
  t.Update(C(3, 1), now);
  EXPECT_THAT(t.StaleBuckets(now, absl::Hours(1)), ElementsAre(2));
  t.Update(C(2, 1), kT0);
  t.OnPingResult(C(2, 1).id, /*alive=*/true, now);
  EXPECT_TRUE(t.StaleBuckets(now, absl::Hours(1)).empty());
  // A newly deepest contact extends the range.
  t.Update(C(6, 1), now);
  EXPECT_THAT(t.StaleBuckets(now, absl::Hours(1)), ElementsAre(4, 5));
}

TEST(RoutingTableTest, RandomIdInBucketLandsInThatBucket) {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 5; ++round) {
    RoutingTable t(NodeId::Random(rng), {});
    for (int i = 0; i < kIdBits; ++i) {
      std::set<NodeId> seen;
      for (int j = 0; j < 4; ++j) {
        NodeId id = t.RandomIdInBucket(i, rng);
        ASSERT_NE(id, t.self());
        EXPECT_EQ(t.BucketIndex(id), i);
        seen.insert(id);
      }
      // The bits after the prefix are random.
      if (i < kIdBits - 8) {
        EXPECT_GT(seen.size(), 1u) << "bucket " << i;
      }
    }
  }
}

// Brute force: every contact of `t` sorted by distance to `target`, first n.
std::vector<Contact> BruteClosest(const RoutingTable& t, const NodeId& target, size_t n) {
  std::vector<Contact> all = t.All();
  std::sort(all.begin(), all.end(),
            [&](const Contact& a, const Contact& b) { return CloserTo(target, a.id, b.id); });
  all.resize(std::min(n, all.size()));
  return all;
}

void ExpectInvariants(const RoutingTable& t) {
  std::vector<Contact> all = t.All();
  ASSERT_EQ(all.size(), t.size());
  std::set<NodeId> ids;
  std::array<size_t, kIdBits> per_bucket{};
  for (const Contact& c : all) {
    ASSERT_NE(c.id, t.self());
    ASSERT_TRUE(ids.insert(c.id).second) << "duplicate " << c;
    ASSERT_LE(++per_bucket[t.BucketIndex(c.id)], t.options().k) << "bucket overflow";
  }
}

TEST(RoutingTableTest, ClosestMatchesBruteForceAcrossRandomTables) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    std::mt19937_64 rng(seed);
    const size_t ks[] = {1, 2, 3, 5, 8, 20};
    RoutingTable::Options options{.k = ks[seed % 6], .replacement_cache_size = seed % 4};
    RoutingTable t(NodeId::Random(rng), options, kT0);
    std::vector<Contact> heard;
    for (int i = 0; i < 3000; ++i) {
      Contact c;
      const int kind = static_cast<int>(rng() % 10);
      if (kind < 5 || heard.empty()) {
        c.id = NodeId::Random(rng);  // mostly lands in the shallow buckets
      } else if (kind < 8) {
        c.id = t.RandomIdInBucket(static_cast<int>(rng() % 24), rng);  // deeper buckets
      } else {
        c.id = heard[rng() % heard.size()].id;  // hear again from a known node
      }
      c.address = absl::StrCat("h", i, ":1");
      heard.push_back(c);
      RoutingTable::UpdateResult r = t.Update(c, kT0 + absl::Seconds(i));
      if (r.outcome == Outcome::kBucketFull) {
        ASSERT_TRUE(r.ping_candidate.has_value());
        ASSERT_EQ(t.BucketIndex(r.ping_candidate->id), t.BucketIndex(c.id));
        t.OnPingResult(r.ping_candidate->id, rng() % 2 == 0, kT0 + absl::Seconds(i));
      } else {
        ASSERT_FALSE(r.ping_candidate.has_value());
      }
      if (rng() % 50 == 0) t.Remove(heard[rng() % heard.size()].id);
      if (i % 500 == 0) {
        ASSERT_NO_FATAL_FAILURE(ExpectInvariants(t));
      }
    }
    ASSERT_NO_FATAL_FAILURE(ExpectInvariants(t));
    ASSERT_GT(t.size(), options.k);
    for (int q = 0; q < 20; ++q) {
      NodeId target = q == 0   ? t.self()
                      : q == 1 ? t.All()[rng() % t.size()].id
                               : NodeId::Random(rng);
      for (size_t n : {size_t{0}, size_t{1}, size_t{3}, size_t{20}, size_t{10'000}}) {
        ASSERT_EQ(t.Closest(target, n), BruteClosest(t, target, n)) << "n=" << n;
      }
    }
  }
}

// Complete, recomputed from the contacts: the region around self made of
// the IDs sharing at least min(depth, cpl(self, target)) bits with self
// holds fewer than k contacts, and no bucket overlapping it has a waiting
// replacement.
bool BruteComplete(const RoutingTable& t, const NodeId& target, int depth) {
  const int d = std::min(depth, t.self().CommonPrefixLength(target));
  size_t held = 0;
  for (const Contact& c : t.All()) held += t.self().CommonPrefixLength(c.id) >= d;
  for (int i = d; i < kIdBits; ++i) {
    if (!t.ReplacementCache(i).empty()) return false;
  }
  return held < t.options().k;
}

TEST(RoutingTableTest, CompleteHoldsEveryHeardNodeOfTheRegion) {
  int complete = 0;
  int incomplete = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    std::mt19937_64 rng(seed);
    RoutingTable t(NodeId::Random(rng), {.k = 8, .replacement_cache_size = 2}, kT0);
    // Every ping answers, so nothing heard is ever dropped from the table
    // except into a full bucket's replacement cache.
    std::vector<NodeId> heard;
    for (int i = 0; i < 30; ++i) {
      const NodeId id =
          rng() % 2 ? NodeId::Random(rng) : t.RandomIdInBucket(static_cast<int>(rng() % 10), rng);
      heard.push_back(id);
      RoutingTable::UpdateResult r = t.Update({id, absl::StrCat("h", i, ":1")}, kT0);
      if (r.ping_candidate) t.OnPingResult(r.ping_candidate->id, true, kT0);
    }
    for (int q = 0; q < 200; ++q) {
      const NodeId target = q % 3 == 0 ? heard[rng() % heard.size()] : NodeId::Random(rng);
      const int depth = static_cast<int>(rng() % 14);
      const bool c = t.Complete(target, depth);
      ASSERT_EQ(c, BruteComplete(t, target, depth)) << "depth " << depth;
      (c ? complete : incomplete)++;
      if (!c) continue;
      for (const NodeId& id : heard) {
        if (id.CommonPrefixLength(target) >= depth && id != t.self()) {
          ASSERT_TRUE(t.Find(id).has_value()) << id << " is in the region but not the table";
        }
      }
    }
    EXPECT_TRUE(t.Complete(t.self(), kIdBits));
  }
  // Both answers occur, so the checks above ran on both sides.
  EXPECT_GT(complete, 100);
  EXPECT_GT(incomplete, 100);
}

}  // namespace
}  // namespace kv::dht
