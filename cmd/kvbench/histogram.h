// A latency histogram with HdrHistogram-style log-linear buckets.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace kv::bench {

// Bucket arithmetic of Histogram. Every value below 256 has its own bucket;
// above that, each power-of-two range [2^k, 2^(k+1)) is split into 128 equal
// buckets, so a bucket is never wider than 1/128 of its lowest value (two
// significant decimal digits, like HdrHistogram with significant_figures = 2).
namespace buckets {

inline constexpr int kHalf = 128;          // buckets per power of two
inline constexpr int kLinear = 2 * kHalf;  // values 0..255 have a bucket each

// The bucket that holds `value`.
constexpr int Index(uint64_t value) {
  if (value < kLinear) return static_cast<int>(value);
  // shift >= 1 puts value >> shift in [128, 256).
  const int shift = std::bit_width(value) - std::bit_width(uint64_t{kHalf});
  return kLinear + (shift - 1) * kHalf + static_cast<int>((value >> shift) - kHalf);
}
// The lowest value bucket `index` holds.
constexpr uint64_t Lowest(int index) {
  if (index < kLinear) return static_cast<uint64_t>(index);
  const int shift = (index - kLinear) / kHalf + 1;
  return static_cast<uint64_t>((index - kLinear) % kHalf + kHalf) << shift;
}
// The highest value bucket `index` holds.
constexpr uint64_t Highest(int index) {
  if (index < kLinear) return static_cast<uint64_t>(index);
  const int shift = (index - kLinear) / kHalf + 1;
  return Lowest(index) + (uint64_t{1} << shift) - 1;
}

}  // namespace buckets

// Records non-negative integer values (kvbench records microseconds).
// Values up to kMaxTrackable (60 s in microseconds) are bucketed; larger ones
// land in the last bucket, while max() still reports them exactly.
//
// Memory is fixed (about 20 KB), recording is O(1) with no allocation, and
// histograms merge by adding counts. Not thread-safe: give each thread its
// own histogram and Merge() them afterwards.
class Histogram {
 public:
  static constexpr uint64_t kMaxTrackable = 60'000'000;
  static constexpr int kBuckets = buckets::Index(kMaxTrackable) + 1;

  void Record(uint64_t value);
  // Adds every value recorded in `other` to this histogram.
  void Merge(const Histogram& other);

  uint64_t count() const { return count_; }
  // Exact extremes of the recorded values; 0 when empty.
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const;

  // The value at or below which `percentile` percent (0..100) of the recorded
  // values lie: the highest value of the bucket that holds that rank, clamped
  // to [min(), max()]; exactly max() for the last rank. So it is never below
  // the exact answer, and above it by less than one bucket width (< 1/128 of
  // the value) for values up to kMaxTrackable. 0 when empty.
  uint64_t ValueAtPercentile(double percentile) const;

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  uint64_t sum_ = 0;
};

}  // namespace kv::bench
