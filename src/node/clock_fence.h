// The write fence: a node whose clock is off from most of the peers it
// measures, or (for a node started with seeds) that has measured no peer's
// clock yet, coordinates no write, since its versions could be misordered.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/membership/membership.h"

namespace kv::node {

// What ClockFence's change callback is told.
struct ClockStatusChange {
  bool fenced = false;
  std::string description;
};

// Thread-safe. `membership` is not owned and must outlive the fence.
class ClockFence {
 public:
  // `wait_for_peers`: fenced until a first peer's clock is measured (a node
  // started with seeds). `on_change` (optional) is called, on the thread of
  // the Update that made it, whenever the fence goes up or down.
  ClockFence(const membership::Membership* membership, absl::Duration max_offset,
             bool wait_for_peers, std::function<void(const ClockStatusChange&)> on_change);

  // Judges this node's clock against its peers' and raises or lowers the
  // fence, logging the change.
  void Update();
  // A heartbeat measured a peer's clock: the first measurement may lift the
  // start-up fence at once.
  void Measured() {
    if (!measured_.load(std::memory_order_relaxed)) Update();
  }

  bool fenced() const { return fenced_.load(std::memory_order_relaxed); }
  ClockStatusChange status() const;

 private:
  const membership::Membership* const membership_;
  const absl::Duration max_offset_;
  const bool wait_for_peers_;
  const std::function<void(const ClockStatusChange&)> on_change_;

  std::atomic<bool> fenced_;
  std::atomic<bool> measured_{false};  // some peer's clock was measured
  mutable absl::Mutex mu_;
  std::string description_ ABSL_GUARDED_BY(mu_) = "clock not measured yet";
};

}  // namespace kv::node
