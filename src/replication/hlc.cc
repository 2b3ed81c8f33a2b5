#include "src/replication/hlc.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace kv::replication {

namespace {

// True for the form every node writes its ID in: 40 lowercase hex digits.
bool IsNodeIdHex(std::string_view id) {
  if (id.size() != 40) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

HybridClock::HybridClock(const util::Clock* physical, absl::Duration max_offset,
                         Persistence persistence)
    : physical_(physical),
      max_offset_ms_(absl::ToInt64Milliseconds(max_offset)),
      persistence_(std::move(persistence)) {}

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
  if (persistence_.save && next > reserved_.load(std::memory_order_acquire)) Reserve(next);
  return next;
}

void HybridClock::Reserve(uint64_t ts) {
  absl::MutexLock l(&reserve_mu_);
  if (ts <= reserved_.load(std::memory_order_relaxed)) return;  // another caller did
  const uint64_t bound =
      Make(PhysicalMillis(ts) + absl::ToInt64Milliseconds(persistence_.window), 0xffff);
  if (absl::Status s = persistence_.save(bound); !s.ok()) {
    // Not fatal for this write; a restart with the clock set back could then
    // issue versions below this one. Tried again on the next Now().
    spdlog::error("could not record the clock's high-water mark: {}", s.ToString());
    return;
  }
  reserved_.store(bound, std::memory_order_release);
}

absl::Status HybridClock::Update(uint64_t remote) {
  const int64_t ahead_ms = PhysicalMillis(remote) - PhysicalNowMillis();
  if (ahead_ms > max_offset_ms_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "version timestamp ", PhysicalMillis(remote), ".", Logical(remote), " is ", ahead_ms,
        " ms ahead of this node's clock; a peer's clock may be at most ", max_offset_ms_,
        " ms ahead (the max clock offset): check the nodes' clocks (NTP)"));
  }
  Restore(remote);
  return absl::OkStatus();
}

absl::Status HybridClock::Admit(const storage::Version& v) {
  if (!IsNodeIdHex(v.node_id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "version node ID has ", v.node_id.size(),
        " characters or a character outside 0-9a-f; it must be 40 lowercase hex digits"));
  }
  return Update(v.timestamp);
}

void HybridClock::Restore(uint64_t floor) {
  uint64_t prev = last_.load(std::memory_order_relaxed);
  while (prev < floor && !last_.compare_exchange_weak(prev, floor, std::memory_order_relaxed)) {
  }
}

}  // namespace kv::replication
