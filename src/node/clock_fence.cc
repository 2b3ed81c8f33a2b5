#include "src/node/clock_fence.h"

#include <utility>

#include "spdlog/spdlog.h"

namespace kv::node {

ClockFence::ClockFence(const membership::Membership* membership, absl::Duration max_offset,
                       bool wait_for_peers, std::function<void(const ClockStatusChange&)> on_change)
    : membership_(membership),
      max_offset_(max_offset),
      wait_for_peers_(wait_for_peers),
      on_change_(std::move(on_change)),
      fenced_(wait_for_peers) {}

ClockStatusChange ClockFence::status() const {
  absl::MutexLock l(&mu_);
  return {.fenced = fenced_.load(), .description = description_};
}

void ClockFence::Update() {
  const membership::ClockOffsets::Verdict v = membership_->JudgeClock(max_offset_);
  absl::MutexLock l(&mu_);
  const bool first = v.peers > 0 && !measured_.exchange(true);
  // A node started with seeds coordinates no write until it has measured a
  // peer's clock: a node restarted with its clock far off would otherwise
  // stamp versions in the future (or the past) before anyone could tell.
  const bool waiting = !measured_.load() && wait_for_peers_;
  description_ = waiting ? "clock not measured yet: no peer's clock measured since start (a "
                           "heartbeat exchange measures one)"
                         : v.Describe(max_offset_);
  const bool fenced = waiting || v.fenced();
  const bool was_fenced = fenced_.exchange(fenced);
  if (first && fenced && !waiting) {
    // Fenced from the start, and now for its clock: say so once.
    spdlog::error("{}: refusing writes until this node's clock agrees with its peers' (check NTP)",
                  description_);
  }
  if (was_fenced == fenced) return;
  if (fenced) {
    spdlog::error("{}: refusing writes until this node's clock agrees with its peers' (check NTP)",
                  description_);
  } else if (first) {
    spdlog::info("{}: accepting writes", description_);
  } else {
    spdlog::warn("{}: accepting writes again", description_);
  }
  if (on_change_) on_change_({fenced, description_});
}

}  // namespace kv::node
