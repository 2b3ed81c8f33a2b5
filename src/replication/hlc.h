// Hybrid logical clock: versions that follow wall-clock time but never go
// backwards and order causally related writes across nodes.
#pragma once

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"
#include "src/util/clock.h"

namespace kv::replication {

// Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014):
// 64-bit timestamps = (physical unix milliseconds << 16) | 16-bit logical
// counter, so plain integer comparison orders them. The physical part covers
// unix milliseconds 0 .. 2^48-1 (about the year 10889). Thread-safe and
// lock-free.
class HybridClock {
 public:
  // Largest physical part a timestamp can hold.
  static constexpr int64_t kMaxPhysicalMillis = (int64_t{1} << 48) - 1;

  // `physical` is not owned and must outlive this clock. Update() reports
  // remote timestamps more than `max_drift` ahead of `physical`.
  explicit HybridClock(const util::Clock* physical, absl::Duration max_drift = absl::Minutes(1));

  HybridClock(const HybridClock&) = delete;
  HybridClock& operator=(const HybridClock&) = delete;

  // A timestamp strictly greater than every timestamp this clock has returned
  // or observed via Update(), and >= the physical clock (Make(now_ms, 0)).
  // When the logical counter would overflow, the physical part is advanced by
  // 1 ms. The one exception to "strictly greater": once the clock has reached
  // the largest representable timestamp (only possible by merging an absurd
  // remote value), it stays there instead of wrapping around.
  uint64_t Now();

  // Merges a timestamp received from another node, so later Now() values
  // exceed it. Returns true if `remote` is within `max_drift` of local
  // physical time or behind it; false if its physical part is more than
  // `max_drift` ahead. It is merged either way; false lets the caller log it.
  bool Update(uint64_t remote);

  static int64_t PhysicalMillis(uint64_t ts) { return static_cast<int64_t>(ts >> 16); }
  static uint16_t Logical(uint64_t ts) { return static_cast<uint16_t>(ts & 0xffff); }

  // The timestamp with the given parts. `physical_ms` is clamped to
  // [0, kMaxPhysicalMillis].
  static uint64_t Make(int64_t physical_ms, uint16_t logical);

 private:
  // Local physical time in unix ms, clamped to [0, kMaxPhysicalMillis].
  int64_t PhysicalNowMillis() const;

  // Const after construction.
  const util::Clock* const physical_;
  const int64_t max_drift_ms_;

  // Highest timestamp returned or observed; only ever raised, by CAS.
  std::atomic<uint64_t> last_{0};
};

}  // namespace kv::replication
