// When Engine::Purge can skip its scan: a lower bound of the earliest time
// any stored record could need purge work. Internal to the engines.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>

#include "absl/time/time.h"

namespace kv::storage {

// Two lower bounds, each an atomic min: the earliest expiry of a live record
// (when Purge would turn it into a tombstone) and the earliest death time of
// a tombstone (PurgeActionFor in record.h; Purge erases it once the grace,
// an argument of Purge, has passed since). Writers lower them after storing
// a record; Purge raises them to kNever before it scans and lowers them
// again for every record it keeps, so a write racing with the scan either
// lowers them after the raise or is seen by the scan. Thread-safe.
class PurgeBounds {
 public:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
  static constexpr int64_t kDueNow = std::numeric_limits<int64_t>::min();

  // Both bounds at `initial` (kNever for an empty store).
  explicit PurgeBounds(int64_t initial = kNever) : expiry_(initial), death_(initial) {}

  PurgeBounds(const PurgeBounds&) = delete;
  PurgeBounds& operator=(const PurgeBounds&) = delete;

  // Lowers the bounds for a record now stored, given the fields
  // PurgeActionFor reads. Call after the record is visible to Purge's scan.
  void Note(bool tombstone, uint64_t timestamp, int64_t expires_at_ms);

  // False if no record stored (or noted) since the last Raise can need work
  // from Purge(now_ms, tombstone_grace). Saturates as PurgeActionFor does.
  bool MayBeDue(int64_t now_ms, absl::Duration tombstone_grace) const;

  // Raises both bounds to kNever. Call before the scan starts.
  void Raise();

  // Lowers both bounds to kDueNow, so the next Purge scans (after a scan
  // that failed before noting every record).
  void MarkDue();

 private:
  static void Lower(std::atomic<int64_t>& bound, int64_t value);

  std::atomic<int64_t> expiry_;  // earliest expires_at_ms of a live record
  std::atomic<int64_t> death_;   // earliest death time of a tombstone
};

}  // namespace kv::storage
