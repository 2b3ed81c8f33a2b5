#include "src/util/executor.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace kv::util {
namespace {

TEST(ManualExecutorTest, RunsNothingUntilAskedThenInDeadlineOrder) {
  ManualClock clock;
  const absl::Time start = clock.Now();
  ManualExecutor ex(&clock);
  std::vector<std::string> ran;
  ex.After(absl::Seconds(2), [&] { ran.push_back("2s"); });
  ex.Schedule([&] { ran.push_back("now-a"); });
  ex.After(absl::Seconds(1), [&] { ran.push_back("1s"); });
  ex.Schedule([&] { ran.push_back("now-b"); });
  EXPECT_TRUE(ran.empty());
  EXPECT_EQ(ex.RunUntilIdle(), 2u);
  EXPECT_EQ(ran, (std::vector<std::string>{"now-a", "now-b"}));
  EXPECT_EQ(clock.Now(), start);
  EXPECT_EQ(ex.RunFor(absl::Milliseconds(1500)), 1u);
  EXPECT_EQ(clock.Now(), start + absl::Milliseconds(1500));
  EXPECT_EQ(ex.RunFor(absl::Seconds(10)), 1u);
  EXPECT_EQ(ran, (std::vector<std::string>{"now-a", "now-b", "1s", "2s"}));
  EXPECT_EQ(clock.Now(), start + absl::Milliseconds(11500));
  EXPECT_EQ(ex.pending(), 0u);
}

TEST(ManualExecutorTest, ClosuresScheduledWhileRunningRunInTheSameCall) {
  ManualClock clock;
  ManualExecutor ex(&clock);
  int depth = 0;
  std::function<void()> again = [&] {
    if (++depth < 5) ex.Schedule(again);
  };
  ex.Schedule(again);
  EXPECT_EQ(ex.RunUntilIdle(), 5u);
  // A timer set by a closure fires at its own deadline, with the clock there.
  absl::Time fired;
  ex.After(absl::Seconds(1), [&] { ex.After(absl::Seconds(1), [&] { fired = clock.Now(); }); });
  const absl::Time start = clock.Now();
  ex.RunFor(absl::Seconds(5));
  EXPECT_EQ(fired, start + absl::Seconds(2));
}

TEST(ThreadExecutorTest, RunsScheduledAndDelayedClosuresOffTheCallersThread) {
  ThreadExecutor ex(1);
  absl::Notification now, later;
  const std::thread::id caller = std::this_thread::get_id();
  std::thread::id ran_on;
  ex.Schedule([&] {
    ran_on = std::this_thread::get_id();
    now.Notify();
  });
  ex.After(absl::Milliseconds(5), [&] { later.Notify(); });
  ASSERT_TRUE(now.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(later.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_NE(ran_on, caller);
}

TEST(ExecutorTest, OnMovesACallbackOntoTheExecutor) {
  ManualClock clock;
  ManualExecutor ex(&clock);
  int got = 0;
  std::function<void(int)> cb = On<int>(&ex, [&](int v) { got = v; });
  cb(7);
  EXPECT_EQ(got, 0);
  ex.RunUntilIdle();
  EXPECT_EQ(got, 7);
}

TEST(AfterAllTest, SchedulesDoneOnceTheLastCallbackRan) {
  ManualClock clock;
  ManualExecutor ex(&clock);
  int done = 0;
  std::function<void()> one = AfterAll(&ex, 3, [&] { ++done; });
  one();
  one();
  ex.RunUntilIdle();
  EXPECT_EQ(done, 0);
  one();
  EXPECT_EQ(done, 0);  // scheduled, not run on the caller's stack
  ex.RunUntilIdle();
  EXPECT_EQ(done, 1);
  AfterAll(&ex, 0, [&] { ++done; });
  ex.RunUntilIdle();
  EXPECT_EQ(done, 2);
}

TEST(SequentiallyTest, RunsStepsInOrderOnTheExecutorAndStopsEarlyWhenAsked) {
  ManualClock clock;
  ManualExecutor ex(&clock);
  std::vector<size_t> steps;
  bool done = false;
  Sequentially(
      &ex, 10,
      [&](size_t i, std::function<void(bool)> next) {
        steps.push_back(i);
        next(i < 3);  // the step of 3 ends it
      },
      [&] { done = true; });
  EXPECT_TRUE(steps.empty());  // nothing on the caller's stack
  ex.RunUntilIdle();
  EXPECT_EQ(steps, (std::vector<size_t>{0, 1, 2, 3}));
  EXPECT_TRUE(done);
  bool empty_done = false;
  Sequentially(
      &ex, 0, [](size_t, std::function<void(bool)>) { FAIL(); }, [&] { empty_done = true; });
  ex.RunUntilIdle();
  EXPECT_TRUE(empty_done);
}

}  // namespace
}  // namespace kv::util
