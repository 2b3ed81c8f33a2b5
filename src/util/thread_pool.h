// A fixed pool of threads that runs closures: where work that may stall
// (an fsync) goes, so gRPC's callback threads never block on it.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace kv::util {

// Thread-safe. Closures run in FIFO order on one of the pool's threads.
class ThreadPool {
 public:
  // REQUIRES: threads >= 1.
  explicit ThreadPool(size_t threads);
  // Runs every closure already scheduled, then joins the threads.
  ~ThreadPool();

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Queues `fn`. After Shutdown() began, runs it on the calling thread instead,
  // so work is never dropped.
  void Schedule(std::function<void()> fn);
  // Stops accepting work, runs what is queued and joins the threads. Idempotent.
  void Shutdown();

 private:
  void Work();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace kv::util
