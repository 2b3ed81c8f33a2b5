// Hybrid logical clock: versions that follow wall-clock time but never go
// backwards and order causally related writes across nodes.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/storage/record.h"
#include "src/util/clock.h"

namespace kv::replication {

// Makes a HybridClock's high-water mark survive a restart (CockroachDB's
// persisted upper bound): before Now() returns a timestamp above the bound
// recorded last, it records a new bound `window` ahead through `save` (which
// must make it durable before it returns). A clock started with Restore(the
// last bound saved) then never issues a timestamp at or below one it issued
// before, even with its physical clock set back.
struct HlcPersistence {
  std::function<absl::Status(uint64_t upper_bound)> save;
  absl::Duration window = absl::Seconds(10);
};

// Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014):
// 64-bit timestamps = (physical unix milliseconds << 16) | 16-bit logical
// counter, so plain integer comparison orders them. The physical part covers
// unix milliseconds 0 .. 2^48-1 (about the year 10889). Thread-safe and
// lock-free.
class HybridClock {
 public:
  // Largest physical part a timestamp can hold.
  static constexpr int64_t kMaxPhysicalMillis = (int64_t{1} << 48) - 1;

  // The default bound on how far ahead of this node's clock a peer's clock
  // may run (CockroachDB's default --max-offset).
  static constexpr absl::Duration kDefaultMaxOffset = absl::Milliseconds(500);

  using Persistence = HlcPersistence;

  // `physical` is not owned and must outlive this clock. Update() refuses
  // remote timestamps more than `max_offset` ahead of `physical`.
  explicit HybridClock(const util::Clock* physical, absl::Duration max_offset = kDefaultMaxOffset,
                       Persistence persistence = {});

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
  // exceed it. FAILED_PRECONDITION, saying by how much, when its physical
  // part is more than the max offset ahead of local physical time: such a
  // timestamp is not merged, since no correct peer within the offset could
  // have issued it, and one forged far ahead would otherwise make every
  // later local write lose to it (last writer wins).
  [[nodiscard]] absl::Status Update(uint64_t remote);

  // A version that arrived from another node (replica write, hint,
  // anti-entropy, read): INVALID_ARGUMENT unless its node ID is 40 lowercase
  // hex characters; otherwise Update(v.timestamp).
  [[nodiscard]] absl::Status Admit(const storage::Version& v);

  // Raises the clock so that later Now() values exceed `floor`, without the
  // offset check: for timestamps this node issued itself before a restart.
  void Restore(uint64_t floor);

  absl::Duration max_offset() const { return absl::Milliseconds(max_offset_ms_); }

  static int64_t PhysicalMillis(uint64_t ts) { return static_cast<int64_t>(ts >> 16); }
  static uint16_t Logical(uint64_t ts) { return static_cast<uint16_t>(ts & 0xffff); }

  // The timestamp with the given parts. `physical_ms` is clamped to
  // [0, kMaxPhysicalMillis].
  static uint64_t Make(int64_t physical_ms, uint16_t logical);

 private:
  // Local physical time in unix ms, clamped to [0, kMaxPhysicalMillis].
  int64_t PhysicalNowMillis() const;
  // Records a bound above `ts` unless one is recorded (Persistence).
  void Reserve(uint64_t ts);

  // Const after construction.
  const util::Clock* const physical_;
  const int64_t max_offset_ms_;

  // Highest timestamp returned or observed; only ever raised, by CAS.
  std::atomic<uint64_t> last_{0};

  const Persistence persistence_;
  // The bound recorded last (0: none); raised under reserve_mu_ only.
  std::atomic<uint64_t> reserved_{0};
  absl::Mutex reserve_mu_;
};

}  // namespace kv::replication
