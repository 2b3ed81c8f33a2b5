#include "cmd/kvstore/status/recent.h"

#include "gtest/gtest.h"

namespace kv::cmd::status {
namespace {

const std::vector<double> kBounds = {0.001, 0.01, 0.1};

TEST(QuantileTest, InterpolatesWithinTheBucket) {
  // 50 calls up to 1 ms, 49 more up to 10 ms, 1 up to 100 ms: the 99th
  // call is the last of the second bucket.
  EXPECT_DOUBLE_EQ(*Quantile(0.99, kBounds, {50, 99, 100}, 100), 0.01);
  // All 100 in the last bucket: 99 % of the way from 10 to 100 ms.
  EXPECT_DOUBLE_EQ(*Quantile(0.99, kBounds, {0, 0, 100}, 100), 0.01 + 0.09 * 0.99);
  // Half way through the first bucket, which starts at 0.
  EXPECT_DOUBLE_EQ(*Quantile(0.5, kBounds, {100, 100, 100}, 100), 0.0005);
}

TEST(QuantileTest, CallsBeyondTheLastBoundReportIt) {
  EXPECT_DOUBLE_EQ(*Quantile(0.99, kBounds, {0, 0, 0}, 10), 0.1);
}

TEST(QuantileTest, NoCallsNoQuantile) {
  EXPECT_FALSE(Quantile(0.99, kBounds, {0, 0, 0}, 0).has_value());
}

Sample At(absl::Time t, uint64_t requests, uint64_t in_fast_bucket, uint64_t hints) {
  return {.at = t,
          .requests = requests,
          .buckets = {in_fast_bucket, requests, requests},
          .counters = {{"hints_replayed", hints}}};
}

TEST(RecentActivityTest, NothingBeforeTwoSamples) {
  RecentActivity r(kBounds, absl::Minutes(1));
  EXPECT_FALSE(r.Summary().has_value());
  r.Add(At(absl::UnixEpoch(), 0, 0, 0));
  EXPECT_FALSE(r.Summary().has_value());
}

TEST(RecentActivityTest, DifferencesTheLastMinute) {
  RecentActivity r(kBounds, absl::Minutes(1));
  const absl::Time start = absl::UnixEpoch() + absl::Hours(1);
  // 10 requests per 5 s sample for two minutes; in the second minute they
  // all take up to 10 ms, in the first up to 1 ms.
  for (int i = 0; i <= 24; ++i) {
    const uint64_t requests = 10 * i;
    const uint64_t fast = 10 * std::min(i, 12);
    r.Add(At(start + absl::Seconds(5 * i), requests, fast, 3 * i));
  }
  std::optional<RecentSummary> s = r.Summary();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->span, absl::Minutes(1));
  EXPECT_EQ(s->requests, 120u);
  EXPECT_DOUBLE_EQ(s->requests_per_second, 2.0);
  ASSERT_TRUE(s->p99.has_value());
  EXPECT_GT(*s->p99, absl::Milliseconds(1));  // the fast first minute is out of the window
  EXPECT_LE(*s->p99, absl::Milliseconds(10));
  EXPECT_EQ(s->counters.at("hints_replayed"), 36u);
}

TEST(RecentActivityTest, ACounterThatWentDownCountsFromZero) {
  RecentActivity r(kBounds, absl::Minutes(1));
  const absl::Time start = absl::UnixEpoch();
  r.Add(At(start, 500, 500, 40));
  r.Add(At(start + absl::Seconds(10), 20, 20, 5));
  std::optional<RecentSummary> s = r.Summary();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->requests, 20u);
  EXPECT_EQ(s->counters.at("hints_replayed"), 5u);
}

}  // namespace
}  // namespace kv::cmd::status
