// Delayed closures: what a component needs to act when an answer is late
// (a speculative read). An interface, so tests fire the closures themselves.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace kv::util {

// Thread-safe.
class Timer {
 public:
  virtual ~Timer() = default;
  // Runs `fn` once, about `delay` from now, on a thread of the timer's own.
  // `fn` must not block: later closures wait for it.
  virtual void After(absl::Duration delay, std::function<void()> fn) = 0;
};

// A Timer with one thread and closures kept in deadline order. The thread
// wakes at most once per `resolution`, running every closure due by then:
// under a steady stream of short delays (one per read) it would otherwise
// wake for each one. A closure runs at most about `resolution` late.
class TimerThread final : public Timer {
 public:
  explicit TimerThread(absl::Duration resolution = absl::Milliseconds(1));
  // Joins the thread; closures not yet due are dropped without running.
  ~TimerThread() override;

  TimerThread(const TimerThread&) = delete;
  TimerThread& operator=(const TimerThread&) = delete;

  void After(absl::Duration delay, std::function<void()> fn) override;

 private:
  void Loop();

  const absl::Duration resolution_;
  absl::Mutex mu_;
  absl::CondVar changed_;  // signalled on a new earliest closure and on stop
  // Keyed by (deadline, sequence number): equal deadlines run in call order.
  std::map<std::pair<absl::Time, uint64_t>, std::function<void()>> due_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts after the fields above exist
};

}  // namespace kv::util
