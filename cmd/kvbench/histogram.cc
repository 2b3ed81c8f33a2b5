#include "cmd/kvbench/histogram.h"

#include <algorithm>
#include <cmath>

namespace kv::bench {

static_assert(buckets::Index(255) == 255 && buckets::Index(256) == 256);
static_assert(buckets::Highest(Histogram::kBuckets - 1) >= Histogram::kMaxTrackable);

void Histogram::Record(uint64_t value) {
  const int index = buckets::Index(std::min(value, kMaxTrackable));
  ++counts_[index];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += value;
}

void Histogram::Merge(const Histogram& other) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

double Histogram::mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
}

uint64_t Histogram::ValueAtPercentile(double percentile) const {
  if (count_ == 0) return 0;
  const double p = std::clamp(percentile, 0.0, 100.0);
  // The rank (1-based) of the value asked for; at least the first value.
  uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  if (rank == count_) return max();
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(buckets::Highest(i), min(), max());
  }
  return max();
}

}  // namespace kv::bench
