// Anti-entropy over digest trees on the simulated world: what a round costs
// when nothing differs, and when one key does.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/sim/cluster.h"

namespace kv::sim {
namespace {

Cluster::Options Options(int nodes) {
  Cluster::Options o;
  o.nodes = nodes;
  o.anti_entropy_interval = absl::Seconds(5);
  return o;
}

uint64_t Stat(Cluster& c, const std::string& name) {
  uint64_t sum = 0;
  for (int i = 0; i < c.size(); ++i) {
    for (const auto& [k, v] : c.node(i).Stats()) {
      if (k == name) sum += v;
    }
  }
  return sum;
}

storage::Record At(Cluster& c, const std::string& value) {
  return {.value = value,
          .version = {.timestamp = static_cast<uint64_t>(c.clock().NowMillis() - 1000) << 16,
                      .node_id = c.contact(0).id.ToHex()}};
}

absl::Status Put(Cluster& c, int via, const std::string& key, const std::string& value) {
  std::optional<absl::StatusOr<replication::WriteResult>> put;
  c.node(via).Put({.key = key, .value = value, .consistency = replication::Consistency::kAll},
                  [&](absl::StatusOr<replication::WriteResult> r) { put = r; });
  if (!c.RunUntil([&] { return put.has_value(); })) return absl::DeadlineExceededError("no answer");
  return put->status();
}

TEST(SimRepairTest, RoundsOnAnUnchangedStoreReadNoRecord) {
  Cluster c(Options(6));
  c.RunFor(absl::Seconds(10));
  for (int k = 0; k < 300; ++k) {
    ASSERT_TRUE(Put(c, k % c.size(), absl::StrCat("key", k), "v").ok()) << k;
  }
  c.RunFor(absl::Seconds(15));  // rounds settle what the writes left
  const uint64_t scans = Stat(c, "anti_entropy_scans");
  const uint64_t rounds = Stat(c, "anti_entropy_rounds");
  const uint64_t trees = Stat(c, "anti_entropy_tree_requests");
  c.RunFor(absl::Seconds(30));
  EXPECT_GE(Stat(c, "anti_entropy_rounds"), rounds + 5 * c.size());
  EXPECT_GT(Stat(c, "anti_entropy_tree_requests"), trees) << "replicas were compared";
  EXPECT_EQ(Stat(c, "anti_entropy_scans"), scans) << "no round read the store";
}

TEST(SimRepairTest, OneLostKeyInALargeStoreMovesAFewKilobytes) {
  Cluster c(Options(3));  // 3 replicas: every node owns every key
  c.RunFor(absl::Seconds(10));
  constexpr int kKeys = 100'000;
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = absl::StrCat("key", k);
    const storage::Record rec = At(c, "value");
    for (int i = 0; i < c.size(); ++i) ASSERT_TRUE(c.engine(i).Apply(key, rec).ok());
  }
  c.RunFor(absl::Seconds(10));
  const uint64_t scans = Stat(c, "anti_entropy_scans");
  c.engine(2).TEST_Erase("key4242");
  const uint64_t bytes =
      Stat(c, "anti_entropy_bytes_sent") + Stat(c, "anti_entropy_bytes_received");
  ASSERT_TRUE(c.RunUntil(
      [&] {
        absl::StatusOr<std::optional<storage::Record>> r = c.engine(2).Read("key4242");
        return r.ok() && r->has_value();
      },
      absl::Seconds(20)));
  c.RunFor(absl::Seconds(10));
  const uint64_t moved =
      Stat(c, "anti_entropy_bytes_sent") + Stat(c, "anti_entropy_bytes_received") - bytes;
  std::cerr << "one lost key of " << kKeys << ": " << moved << " bytes exchanged, "
            << Stat(c, "anti_entropy_scans") - scans << " scans\n";
  EXPECT_LE(moved, 64u << 10);
  EXPECT_GT(moved, 0u);
  EXPECT_EQ(Stat(c, "anti_entropy_keys_pulled") + Stat(c, "anti_entropy_keys_pushed"), 1u);
}

// Writes in flight make leaves differ for a moment; the round compares
// them again before it reads the store, so a steady stream of writes to a
// replica that lags (here: its link from the coordinator stalls for 150 ms
// in every 200) does not make every round scan.
TEST(SimRepairTest, WritesInFlightCostNoScan) {
  Cluster::Options o = Options(3);
  o.anti_entropy_interval = absl::Seconds(1);
  Cluster c(o);
  c.RunFor(absl::Seconds(10));
  const uint64_t scans = Stat(c, "anti_entropy_scans");
  const uint64_t rounds = Stat(c, "anti_entropy_rounds");
  int answered = 0;
  constexpr int kWrites = 2000;  // one every 10 ms for 20 s, through node 0
  for (int k = 0; k < kWrites; ++k) {
    c.executor().After(absl::Microseconds(9'973 * k), [&c, &answered, k] {
      c.node(0).Put({.key = absl::StrCat("w", k), .value = "v"},
                    [&answered](absl::StatusOr<replication::WriteResult>) { ++answered; });
    });
  }
  for (int p = 0; p < 100; ++p) {
    c.executor().After(absl::Milliseconds(200 * p), [&c] {
      c.net().Clog(c.contact(0).address, c.contact(2).address,
                   c.clock().Now() + absl::Milliseconds(150));
    });
  }
  ASSERT_TRUE(c.RunUntil([&] { return answered == kWrites; }, absl::Seconds(60)));
  c.RunFor(absl::Seconds(1));
  const uint64_t during = Stat(c, "anti_entropy_rounds") - rounds;
  EXPECT_GE(during, 40u);
  EXPECT_LE(Stat(c, "anti_entropy_scans") - scans, during / 10)
      << "rounds under writes read the store";
}

// A rolling upgrade: a node of the previous release answers SyncTree with
// UNIMPLEMENTED and sends none; both sides then use the 1024-bucket digest,
// and what either lost comes back.
TEST(SimRepairTest, NodesOfThePreviousReleaseRepairWithTheBucketDigest) {
  Cluster c(Options(3));
  c.net().SetPreviousRelease(c.contact(2).address, true);
  c.RunFor(absl::Seconds(10));
  for (int k = 0; k < 50; ++k) ASSERT_TRUE(Put(c, 0, absl::StrCat("key", k), "v").ok()) << k;
  c.RunFor(absl::Seconds(10));
  c.engine(2).TEST_Erase("key7");   // lost on the old node
  c.engine(0).TEST_Erase("key11");  // and on a new one
  auto held = [&](int i, const std::string& key) {
    absl::StatusOr<std::optional<storage::Record>> r = c.engine(i).Read(key);
    return r.ok() && r->has_value();
  };
  ASSERT_TRUE(c.RunUntil([&] { return held(2, "key7") && held(0, "key11"); }, absl::Seconds(30)));
  EXPECT_GT(Stat(c, "anti_entropy_buckets_differing"), 0u) << "the old exchange was used";
  EXPECT_GT(Stat(c, "anti_entropy_tree_requests"), 0u) << "and the new one between new nodes";
}

}  // namespace
}  // namespace kv::sim
