#include "src/storage/purge_bounds.h"

#include "src/storage/record.h"

namespace kv::storage {

void PurgeBounds::Lower(std::atomic<int64_t>& bound, int64_t value) {
  int64_t current = bound.load();
  while (value < current && !bound.compare_exchange_weak(current, value)) {
  }
}

void PurgeBounds::Note(bool tombstone, uint64_t timestamp, int64_t expires_at_ms) {
  if (!tombstone) {
    if (expires_at_ms != 0) Lower(expiry_, expires_at_ms);
    return;
  }
  // The death time of PurgeActionFor (record.h): the expiry if any, else the
  // version's physical time (timestamp >> 16 fits an int64_t).
  Lower(death_, expires_at_ms != 0 ? expires_at_ms : static_cast<int64_t>(timestamp >> 16));
}

bool PurgeBounds::MayBeDue(int64_t now_ms, absl::Duration tombstone_grace) const {
  if (now_ms >= expiry_.load()) return true;
  // A tombstone that died at death_, judged by the rule itself so that it
  // saturates alike (expires_at_ms names the death time; 0 with timestamp 0
  // is death time 0 too).
  return PurgeActionFor(/*tombstone=*/true, /*timestamp=*/0, /*expires_at_ms=*/death_.load(),
                        now_ms, tombstone_grace) == PurgeAction::kErase;
}

void PurgeBounds::Raise() {
  expiry_.store(kNever);
  death_.store(kNever);
}

void PurgeBounds::MarkDue() {
  expiry_.store(kDueNow);
  death_.store(kDueNow);
}

}  // namespace kv::storage
