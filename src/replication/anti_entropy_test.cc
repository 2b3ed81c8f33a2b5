#include "src/replication/anti_entropy.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kv::replication {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

storage::Version V(uint64_t ts, std::string node = "a") { return {ts, std::move(node)}; }

storage::Record R(uint64_t ts, std::string value = "v") {
  return storage::Record{.value = std::move(value), .version = V(ts)};
}

TEST(BucketOfTest, UsesTheFirstTenBitsOfTheId) {
  std::array<uint8_t, dht::kIdBytes> b{};
  EXPECT_EQ(BucketOf(dht::NodeId(b)), 0u);
  b[0] = 0xff;
  b[1] = 0xc0;
  EXPECT_EQ(BucketOf(dht::NodeId(b)), kDigestBuckets - 1);
  b[0] = 0x00;
  b[1] = 0x40;  // the tenth bit
  EXPECT_EQ(BucketOf(dht::NodeId(b)), 1u);
  b[1] = 0x20;  // the eleventh bit does not count
  EXPECT_EQ(BucketOf(dht::NodeId(b)), 0u);
}

TEST(RecordHashTest, IsStableAndSeparatesKeysAndVersions) {
  // A fixed value: the hash is exchanged between processes, so it must not
  // depend on the process (absl::Hash would).
  EXPECT_EQ(RecordHash("k", V(1)), RecordHash("k", V(1)));
  EXPECT_EQ(RecordHash("key", V(42, "n")), 0xf36ec2000aa2edfaULL)
      << std::hex << RecordHash("key", V(42, "n"));
  EXPECT_NE(RecordHash("k", V(1)), RecordHash("k", V(2)));
  EXPECT_NE(RecordHash("k", V(1, "a")), RecordHash("k", V(1, "b")));
  EXPECT_NE(RecordHash("k1", V(1)), RecordHash("k", V(1)));
  // Moving bytes between key and node id changes the hash.
  EXPECT_NE(RecordHash("ab", V(1, "c")), RecordHash("a", V(1, "bc")));
}

TEST(DigestTest, XorMakesOrderIrrelevantAndRemovalExact) {
  Digest a{}, b{};
  DigestAdd(a, 3, RecordHash("x", V(1)));
  DigestAdd(a, 7, RecordHash("y", V(1)));
  DigestAdd(b, 7, RecordHash("y", V(1)));
  DigestAdd(b, 3, RecordHash("x", V(1)));
  EXPECT_THAT(DifferingBuckets(a, b), IsEmpty());
  DigestAdd(b, 7, RecordHash("y", V(1)));  // removes y
  DigestAdd(b, 7, RecordHash("y", V(2)));  // a newer y
  EXPECT_THAT(DifferingBuckets(a, b), ElementsAre(7u));
}

TEST(PlanReconcileTest, SendsNewerAndMissingAndAsksForTheRest) {
  std::vector<KeyVersion> theirs = {
      {"same", V(5)}, {"theirs-newer", V(9)}, {"mine-newer", V(1)}, {"only-theirs", V(3)}};
  std::vector<KeyRecord> mine = {
      {"same", R(5)}, {"theirs-newer", R(2)}, {"mine-newer", R(8)}, {"only-mine", R(4)}};
  ReconcilePlan plan = PlanReconcile(theirs, mine, 1 << 20);
  std::vector<std::string> newer;
  for (const auto& r : plan.newer) newer.push_back(r.key);
  EXPECT_THAT(newer, UnorderedElementsAre("mine-newer", "only-mine"));
  EXPECT_THAT(plan.wanted, UnorderedElementsAre("theirs-newer", "only-theirs"));
  EXPECT_FALSE(plan.truncated);
}

TEST(PlanReconcileTest, CutsNewerAtTheByteBudgetButAlwaysSendsOne) {
  std::vector<KeyRecord> mine;
  for (int i = 0; i < 10; ++i) {
    mine.push_back({absl::StrCat("k", i), R(1, std::string(1000, 'x'))});
  }
  ReconcilePlan plan = PlanReconcile({}, mine, 2500);
  EXPECT_EQ(plan.newer.size(), 2u);
  EXPECT_TRUE(plan.truncated);
  plan = PlanReconcile({}, mine, 10);
  EXPECT_EQ(plan.newer.size(), 1u);
  EXPECT_TRUE(plan.truncated);
}

}  // namespace
}  // namespace kv::replication
