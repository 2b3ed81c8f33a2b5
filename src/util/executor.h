// Where a component's background work runs: closures now, and closures
// after a delay. Node code never sleeps or waits for an answer; it hands the
// rest of its work to the executor as a continuation. The real executor
// (ThreadExecutor) runs them on threads and a timer; a simulated one
// (ManualExecutor) runs them one at a time on a ManualClock, so a run
// replays exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/util/clock.h"
#include "src/util/thread_pool.h"
#include "src/util/timer.h"

namespace kv::util {

// Thread-safe.
class Executor : public Timer {
 public:
  // Runs `fn` soon, never on the caller's stack: a continuation scheduled
  // from a transport callback leaves the transport's thread.
  virtual void Schedule(std::function<void()> fn) = 0;
  // (Timer) Runs `fn` once `delay` has passed, as Schedule does.
  void After(absl::Duration delay, std::function<void()> fn) override = 0;
};

// Wraps `done` so that calling the result schedules `done(arg)` on `executor`
// instead of running it on the caller's thread.
template <typename T>
std::function<void(T)> On(Executor* executor, std::function<void(T)> done) {
  return [executor, done = std::move(done)](T arg) mutable {
    executor->Schedule(
        [done = std::move(done), arg = std::move(arg)]() mutable { done(std::move(arg)); });
  };
}

// Runs step(0, next), then step(1, next), ... step(n - 1, next), each once
// the one before has called its `next` (exactly once, from any thread), and
// then `done`. A step that calls next(false) ends the sequence early: `done`
// runs next. Every step and `done` run on `executor`, never on a caller's
// stack, so a long sequence of quick steps does not grow the stack.
void Sequentially(Executor* executor, size_t n,
                  std::function<void(size_t i, std::function<void(bool go_on)> next)> step,
                  std::function<void()> done);

// For work fanned out to `n` calls: returns a function that each call's
// callback runs once (from any thread); the n-th run schedules `done` on
// `executor`. With n == 0, `done` is scheduled at once.
std::function<void()> AfterAll(Executor* executor, size_t n, std::function<void()> done);

// The real executor: a pool of `threads` threads and a timer thread whose
// closures are handed to the pool (so a long closure never delays timers).
class ThreadExecutor final : public Executor {
 public:
  explicit ThreadExecutor(size_t threads = 1);
  // Drops closures whose delay has not passed, runs the rest and joins.
  ~ThreadExecutor() override;

  void Schedule(std::function<void()> fn) override { pool_.Schedule(std::move(fn)); }
  void After(absl::Duration delay, std::function<void()> fn) override;

 private:
  ThreadPool pool_;
  // Destroyed first: no timer closure reaches the pool after it stops.
  std::unique_ptr<TimerThread> timer_;
};

// A single-threaded executor on a ManualClock, for tests and the simulator:
// nothing runs until RunUntilIdle or RunFor is called, and then closures run
// one at a time on the calling thread, in deadline order (equal deadlines in
// the order they were scheduled). Deterministic. Thread-safe to schedule
// into; run it from one thread.
class ManualExecutor final : public Executor {
 public:
  // `clock` is not owned; the executor advances it to each closure's
  // deadline before running it.
  explicit ManualExecutor(ManualClock* clock) : clock_(clock) {}

  void Schedule(std::function<void()> fn) override { After(absl::ZeroDuration(), std::move(fn)); }
  void After(absl::Duration delay, std::function<void()> fn) override;

  // Runs closures due now or earlier (and any they schedule for now) until
  // none is left; the clock does not move. Returns how many ran.
  size_t RunUntilIdle();
  // Runs every closure due within `d` of now, advancing the clock to each
  // one's deadline, then leaves the clock at now + d. Returns how many ran.
  size_t RunFor(absl::Duration d);
  // Closures waiting, due or not.
  size_t pending() const;

  // A tag that follows work across continuations: each closure runs with
  // the tag that was current when it was scheduled (and none between
  // closures). kvsim tags a client request's work with the request to
  // count the messages it caused and how many followed one another.
  struct Tag {
    uint64_t op = 0;     // 0: no request
    uint32_t depth = 0;  // messages in the chain that led here
  };
  Tag tag() const {
    absl::MutexLock l(&mu_);
    return tag_;
  }
  void set_tag(Tag tag) {
    absl::MutexLock l(&mu_);
    tag_ = tag;
  }

 private:
  // Runs the earliest closure if it is due by `limit`; false if none is.
  bool RunOne(absl::Time limit);

  ManualClock* const clock_;
  mutable absl::Mutex mu_;
  struct Entry {
    std::function<void()> fn;
    Tag tag;
  };
  std::map<std::pair<absl::Time, uint64_t>, Entry> due_ ABSL_GUARDED_BY(mu_);
  Tag tag_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kv::util
