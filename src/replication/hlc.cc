#include "src/replication/hlc.h"

#include <algorithm>
#include <atomic>
#include <limits>

namespace kv::replication {

HybridClock::HybridClock(const util::Clock* physical, absl::Duration max_drift)
    : physical_(physical), max_drift_ms_(absl::ToInt64Milliseconds(max_drift)) {}

uint64_t HybridClock::Make(int64_t physical_ms, uint16_t logical) {
  const int64_t clamped = std::clamp<int64_t>(physical_ms, 0, kMaxPhysicalMillis);
  return (static_cast<uint64_t>(clamped) << 16) | logical;
}

int64_t HybridClock::PhysicalNowMillis() const {
  return std::clamp<int64_t>(physical_->NowMillis(), 0, kMaxPhysicalMillis);
}

uint64_t HybridClock::Now() {
  const uint64_t physical = Make(PhysicalNowMillis(), 0);
  uint64_t prev = last_.load(std::memory_order_relaxed);
  uint64_t next;
  do {
    if (physical > prev) {
      next = physical;
    } else if (prev != std::numeric_limits<uint64_t>::max()) {
      // Same or earlier millisecond: bump the logical counter. Its overflow
      // carries into the physical part, i.e. advances it by 1 ms.
      next = prev + 1;
    } else {
      next = prev;  // saturated; see the header
    }
  } while (!last_.compare_exchange_weak(prev, next, std::memory_order_relaxed));
  return next;
}

bool HybridClock::Update(uint64_t remote) {
  const int64_t physical_ms = PhysicalNowMillis();
  uint64_t prev = last_.load(std::memory_order_relaxed);
  while (prev < remote && !last_.compare_exchange_weak(prev, remote, std::memory_order_relaxed)) {
  }
  return PhysicalMillis(remote) - physical_ms <= max_drift_ms_;
}

}  // namespace kv::replication
