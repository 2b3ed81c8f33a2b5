#include "cmd/kvbench/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace kv::bench {
namespace {

// The exact value of rank ceil(p/100 * n) in sorted `values`.
uint64_t ExactPercentile(const std::vector<uint64_t>& sorted, double p) {
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  if (rank == 0) rank = 1;
  return sorted[rank - 1];
}

// The answer may be above the exact value by less than one bucket width.
void ExpectWithinBucket(uint64_t got, uint64_t exact) {
  EXPECT_GE(got, exact);
  EXPECT_LE(got, exact + exact / 128) << "exact " << exact;
}

TEST(HistogramBucketsTest, EveryValueLiesInItsBucketAndBucketsAreNarrow) {
  int last_index = -1;
  for (uint64_t v = 0; v < Histogram::kMaxTrackable; v = v < 4096 ? v + 1 : v + v / 1000) {
    const int i = buckets::Index(v);
    EXPECT_LE(buckets::Lowest(i), v);
    EXPECT_GE(buckets::Highest(i), v);
    EXPECT_LE(buckets::Highest(i) - buckets::Lowest(i), buckets::Lowest(i) / 128) << v;
    EXPECT_GE(i, last_index);  // monotonic
    last_index = i;
  }
  EXPECT_EQ(buckets::Index(Histogram::kMaxTrackable), Histogram::kBuckets - 1);
  // Adjacent buckets tile the value range with no gap.
  for (int i = 1; i < Histogram::kBuckets; ++i) {
    ASSERT_EQ(buckets::Lowest(i), buckets::Highest(i - 1) + 1) << i;
  }
}

TEST(LatencyHistogramTest, EmptyReportsZeros) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.ValueAtPercentile(50), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 1; v <= 200; ++v) h.Record(v);
  EXPECT_EQ(h.ValueAtPercentile(50), 100u);
  EXPECT_EQ(h.ValueAtPercentile(90), 180u);
  EXPECT_EQ(h.ValueAtPercentile(99), 198u);
  EXPECT_EQ(h.ValueAtPercentile(100), 200u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_DOUBLE_EQ(h.mean(), 100.5);
}

TEST(LatencyHistogramTest, PercentilesWithinBucketPrecisionOfExactValues) {
  // A log-spread set from 1 µs to 30 s, in a scrambled order.
  std::vector<uint64_t> values;
  uint64_t x = 12345;
  for (int i = 0; i < 100000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const double exponent = static_cast<double>(x >> 11) * 0x1.0p-53 * 7.5;  // 10^0 .. 10^7.5
    values.push_back(static_cast<uint64_t>(std::pow(10.0, exponent)));
  }
  Histogram h;
  for (uint64_t v : values) h.Record(v);
  std::sort(values.begin(), values.end());
  for (double p : {1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99}) {
    SCOPED_TRACE(p);
    ExpectWithinBucket(h.ValueAtPercentile(p), ExactPercentile(values, p));
  }
  EXPECT_EQ(h.ValueAtPercentile(100), values.back());
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.count(), values.size());
}

TEST(LatencyHistogramTest, TailPercentilesSeeRareSlowValues) {
  Histogram h;
  for (int i = 0; i < 990; ++i) h.Record(100);
  for (int i = 0; i < 10; ++i) h.Record(50000);
  EXPECT_EQ(h.ValueAtPercentile(50), 100u);
  EXPECT_EQ(h.ValueAtPercentile(99), 100u);
  ExpectWithinBucket(h.ValueAtPercentile(99.9), 50000);
  EXPECT_EQ(h.max(), 50000u);
}

TEST(LatencyHistogramTest, MaxIsExactEvenBeyondTheTrackableRange) {
  Histogram h;
  h.Record(10);
  h.Record(123'456'789);  // two minutes in µs: past the last bucket
  EXPECT_EQ(h.max(), 123'456'789u);
  EXPECT_EQ(h.ValueAtPercentile(100), 123'456'789u);
  EXPECT_EQ(h.ValueAtPercentile(50), 10u);
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverythingInOne) {
  Histogram a, b, all;
  for (uint64_t v = 1; v < 300000; v += 7) {
    (v % 3 == 0 ? a : b).Record(v);
    all.Record(v);
  }
  b.Record(9'999'999);
  all.Record(9'999'999);
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), 9'999'999u);
  EXPECT_DOUBLE_EQ(a.mean(), all.mean());
  for (double p : {0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
    EXPECT_EQ(a.ValueAtPercentile(p), all.ValueAtPercentile(p)) << p;
  }
}

TEST(LatencyHistogramTest, MergeIntoEmptyKeepsMinimum) {
  Histogram empty, h;
  h.Record(500);
  h.Record(700);
  empty.Merge(h);
  EXPECT_EQ(empty.min(), 500u);
  EXPECT_EQ(empty.max(), 700u);
  EXPECT_EQ(empty.count(), 2u);
}

}  // namespace
}  // namespace kv::bench
