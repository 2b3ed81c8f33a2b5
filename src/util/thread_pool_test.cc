#include "src/util/thread_pool.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace kv::util {
namespace {

TEST(ThreadPoolTest, RunsEveryClosureBeforeShutdownReturns) {
  std::atomic<int> ran{0};
  {
    ThreadPool pool(4);
    for (int i = 0; i < 1000; ++i) pool.Schedule([&] { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 1000);
}

TEST(ThreadPoolTest, RunsOnPoolThreadsNotTheCaller) {
  ThreadPool pool(2);
  absl::Notification done;
  std::thread::id worker;
  pool.Schedule([&] {
    worker = std::this_thread::get_id();
    done.Notify();
  });
  done.WaitForNotification();
  EXPECT_NE(worker, std::this_thread::get_id());
}

TEST(ThreadPoolTest, WorkScheduledAfterShutdownRunsInline) {
  ThreadPool pool(1);
  pool.Shutdown();
  bool ran = false;
  pool.Schedule([&] { ran = true; });
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace kv::util
