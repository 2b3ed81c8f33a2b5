// A gate counts work in flight and lets shutdown wait for it to drain
// (the same idea as seastar's gate).
#pragma once

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace kv::util {

// Thread-safe.
class Gate {
 public:
  // Registers one unit of work. Returns false once Close() has begun: the
  // caller must then not start the work.
  [[nodiscard]] bool Enter() {
    absl::MutexLock l(&mu_);
    if (closed_) return false;
    ++in_flight_;
    return true;
  }
  // Ends one unit of work registered by a successful Enter().
  void Leave() {
    absl::MutexLock l(&mu_);
    --in_flight_;
  }
  // Refuses new work and waits until all entered work has left, or until
  // `timeout` passes. Returns true if the gate drained.
  bool Close(absl::Duration timeout = absl::InfiniteDuration()) {
    absl::MutexLock l(&mu_);
    closed_ = true;
    auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&drained), timeout);
  }
  bool closed() const {
    absl::MutexLock l(&mu_);
    return closed_;
  }

 private:
  mutable absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kv::util
