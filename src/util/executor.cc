#include "src/util/executor.h"

#include <algorithm>
#include <atomic>

namespace kv::util {

namespace {

struct SequenceState {
  Executor* executor;
  size_t n;
  std::function<void(size_t, std::function<void(bool)>)> step;
  std::function<void()> done;
};

void RunStep(const std::shared_ptr<SequenceState>& st, size_t i) {
  if (i >= st->n) return st->done();
  st->step(i, [st, i](bool go_on) {
    st->executor->Schedule([st, i, go_on] {
      if (go_on) {
        RunStep(st, i + 1);
      } else {
        st->done();
      }
    });
  });
}

}  // namespace

std::function<void()> AfterAll(Executor* executor, size_t n, std::function<void()> done) {
  if (n == 0) {
    executor->Schedule(std::move(done));
    return [] {};
  }
  auto left = std::make_shared<std::atomic<size_t>>(n);
  auto then = std::make_shared<std::function<void()>>(std::move(done));
  return [executor, left, then] {
    if (--*left == 0) executor->Schedule(std::move(*then));
  };
}

void Sequentially(Executor* executor, size_t n,
                  std::function<void(size_t i, std::function<void(bool go_on)> next)> step,
                  std::function<void()> done) {
  auto st =
      std::make_shared<SequenceState>(SequenceState{executor, n, std::move(step), std::move(done)});
  executor->Schedule([st] { RunStep(st, 0); });
}

ThreadExecutor::ThreadExecutor(size_t threads)
    : pool_(threads), timer_(std::make_unique<TimerThread>()) {}

ThreadExecutor::~ThreadExecutor() {
  timer_.reset();
  pool_.Shutdown();
}

void ThreadExecutor::After(absl::Duration delay, std::function<void()> fn) {
  timer_->After(delay, [this, fn = std::move(fn)]() mutable { pool_.Schedule(std::move(fn)); });
}

void ManualExecutor::After(absl::Duration delay, std::function<void()> fn) {
  absl::MutexLock l(&mu_);
  due_.emplace(std::make_pair(clock_->Now() + std::max(delay, absl::ZeroDuration()), next_seq_++),
               Entry{std::move(fn), tag_});
}

bool ManualExecutor::RunOne(absl::Time limit) {
  std::function<void()> fn;
  {
    absl::MutexLock l(&mu_);
    if (due_.empty() || due_.begin()->first.first > limit) return false;
    const absl::Time at = due_.begin()->first.first;
    if (at > clock_->Now()) clock_->Set(at);
    fn = std::move(due_.begin()->second.fn);
    tag_ = due_.begin()->second.tag;
    due_.erase(due_.begin());
  }
  fn();
  absl::MutexLock l(&mu_);
  tag_ = Tag{};
  return true;
}

size_t ManualExecutor::RunUntilIdle() {
  size_t ran = 0;
  while (RunOne(clock_->Now())) ++ran;
  return ran;
}

size_t ManualExecutor::RunFor(absl::Duration d) {
  const absl::Time end = clock_->Now() + d;
  size_t ran = 0;
  while (RunOne(end)) ++ran;
  if (clock_->Now() < end) clock_->Set(end);
  return ran;
}

size_t ManualExecutor::pending() const {
  absl::MutexLock l(&mu_);
  return due_.size();
}

}  // namespace kv::util
