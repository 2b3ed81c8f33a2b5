#include "src/util/timer.h"

#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace kv::util {
namespace {

TEST(TimerThreadTest, RunsClosuresInDeadlineOrder) {
  TimerThread timer;
  absl::Mutex mu;
  std::vector<int> order;
  absl::Notification all_ran;
  auto record = [&](int i) {
    absl::MutexLock l(&mu);
    order.push_back(i);
    if (order.size() == 3) all_ran.Notify();
  };
  // Added latest-first: each new one becomes the earliest and wakes the thread.
  timer.After(absl::Milliseconds(60), [&] { record(3); });
  timer.After(absl::Milliseconds(30), [&] { record(2); });
  timer.After(absl::ZeroDuration(), [&] { record(1); });
  ASSERT_TRUE(all_ran.WaitForNotificationWithTimeout(absl::Seconds(30)));
  absl::MutexLock l(&mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(TimerThreadTest, RunsNothingBeforeItsDelay) {
  TimerThread timer;
  absl::Notification ran;
  const absl::Time start = absl::Now();
  absl::Time ran_at;
  timer.After(absl::Milliseconds(50), [&] {
    ran_at = absl::Now();
    ran.Notify();
  });
  ASSERT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_GE(ran_at - start, absl::Milliseconds(50));
}

TEST(TimerThreadTest, DestructionDropsClosuresNotYetDue) {
  bool ran = false;
  {
    TimerThread timer;
    timer.After(absl::Hours(1), [&] { ran = true; });
  }  // returns without waiting an hour
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace kv::util
