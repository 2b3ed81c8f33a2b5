#include "src/util/timer.h"

#include <algorithm>

namespace kv::util {

TimerThread::TimerThread(absl::Duration resolution)
    : resolution_(resolution), thread_([this] { Loop(); }) {}

TimerThread::~TimerThread() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    changed_.Signal();
  }
  thread_.join();
}

void TimerThread::After(absl::Duration delay, std::function<void()> fn) {
  absl::MutexLock l(&mu_);
  auto it = due_.emplace(std::make_pair(absl::Now() + delay, next_seq_++), std::move(fn)).first;
  if (it == due_.begin()) changed_.Signal();
}

void TimerThread::Loop() {
  absl::MutexLock l(&mu_);
  absl::Time last_round = absl::InfinitePast();
  while (!stopping_) {
    if (due_.empty()) {
      changed_.Wait(&mu_);
      continue;
    }
    const absl::Time wake = std::max(due_.begin()->first.first, last_round + resolution_);
    absl::Time now = absl::Now();
    if (now < wake) {
      changed_.WaitWithDeadline(&mu_, wake);
      continue;
    }
    // One round: everything due by now, in deadline order.
    last_round = now;
    while (!stopping_ && !due_.empty() && due_.begin()->first.first <= now) {
      std::function<void()> fn = std::move(due_.begin()->second);
      due_.erase(due_.begin());
      mu_.Unlock();
      fn();
      mu_.Lock();
    }
  }
}

}  // namespace kv::util
