#include "cmd/kvbench/schedule.h"

#include <cmath>

namespace kv::bench {

Schedule::Schedule(double requests_per_sec, int workers, int index)
    : period_ns_(1e9 / requests_per_sec),
      workers_(static_cast<uint64_t>(workers)),
      index_(static_cast<uint64_t>(index)) {}

Schedule::Nanos Schedule::DueAt(uint64_t j) const {
  // Computed from j each time, never by adding periods, so rounding does not
  // accumulate over a long run.
  const double k = static_cast<double>(j * workers_ + index_);
  return Nanos(static_cast<int64_t>(std::llround(k * period_ns_)));
}

uint64_t Schedule::DueBy(Nanos elapsed) const {
  if (elapsed < DueAt(0)) return 0;
  // An estimate from the inverse, then corrected against DueAt itself so the
  // two functions agree exactly at every boundary.
  const double k = static_cast<double>(elapsed.count()) / period_ns_;
  const double j = std::floor((k - static_cast<double>(index_)) / static_cast<double>(workers_));
  uint64_t n = j < 0 ? 0 : static_cast<uint64_t>(j) + 1;
  while (n > 0 && DueAt(n - 1) > elapsed) --n;
  while (DueAt(n) <= elapsed) ++n;
  return n;
}

uint64_t Schedule::DueIn(Nanos from, Nanos to) const {
  if (to <= from) return 0;
  return DueBy(to - Nanos(1)) - DueBy(from - Nanos(1));
}

}  // namespace kv::bench
