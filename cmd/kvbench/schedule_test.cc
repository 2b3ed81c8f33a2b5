#include "cmd/kvbench/schedule.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace kv::bench {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST(ScheduleTest, OneWorkerIsDueEveryPeriodFromTheStart) {
  const Schedule s(1000, 1, 0);
  EXPECT_EQ(s.DueAt(0), nanoseconds(0));
  EXPECT_EQ(s.DueAt(1), milliseconds(1));
  EXPECT_EQ(s.DueAt(1000), seconds(1));
}

TEST(ScheduleTest, WorkersInterleaveAndTogetherHitEverySlotOnce) {
  // 3 workers at 3000 requests/s: every 1/3 ms one of them is due.
  const int workers = 3;
  std::vector<nanoseconds> all;
  for (int w = 0; w < workers; ++w) {
    const Schedule s(3000, workers, w);
    for (uint64_t j = 0; j < 100; ++j) all.push_back(s.DueAt(j));
  }
  std::sort(all.begin(), all.end());
  for (size_t k = 0; k < all.size(); ++k) {
    EXPECT_EQ(all[k], nanoseconds(static_cast<int64_t>((k * 1000000 + 1) / 3))) << k;
  }
  EXPECT_EQ(Schedule(3000, workers, 1).DueAt(0), nanoseconds(333333));
  EXPECT_EQ(Schedule(3000, workers, 2).DueAt(1), nanoseconds(1666667));
}

TEST(ScheduleTest, DueByAgreesWithDueAtAtEveryBoundary) {
  // Periods that are not whole nanoseconds: 1e9/2700 and 1e9/7.
  for (double rate : {2700.0, 7.0, 123456.0}) {
    for (int w = 0; w < 2; ++w) {
      const Schedule s(rate, 2, w);
      for (uint64_t j = 0; j < 5000; j += 7) {
        EXPECT_EQ(s.DueBy(s.DueAt(j)), j + 1) << rate << " " << w << " " << j;
        EXPECT_EQ(s.DueBy(s.DueAt(j) - nanoseconds(1)), j) << rate << " " << w << " " << j;
      }
    }
  }
}

TEST(ScheduleTest, NothingIsDueBeforeTheWorkersFirstSlot) {
  EXPECT_EQ(Schedule(1000, 1, 0).DueBy(nanoseconds(-1)), 0u);
  EXPECT_EQ(Schedule(1000, 1, 0).DueBy(nanoseconds(0)), 1u);
  const Schedule second(1000, 2, 1);  // first due at 1 ms
  EXPECT_EQ(second.DueBy(nanoseconds(999999)), 0u);
  EXPECT_EQ(second.DueBy(milliseconds(1)), 1u);
  EXPECT_EQ(second.DueBy(milliseconds(3)), 2u);
}

TEST(ScheduleTest, AWindowHoldsRateTimesLengthOverAllWorkers) {
  // A 10 s window after a 2 s warm-up, split over 1, 2 and 3 workers.
  for (int workers = 1; workers <= 3; ++workers) {
    uint64_t due = 0;
    for (int w = 0; w < workers; ++w) {
      due += Schedule(2700, workers, w).DueIn(seconds(2), seconds(12));
    }
    EXPECT_EQ(due, 27000u) << workers;
  }
  EXPECT_EQ(Schedule(2700, 1, 0).DueIn(seconds(5), seconds(5)), 0u);
}

TEST(ScheduleTest, LongRunsDoNotDrift) {
  // One hour at 2700/s: request 9,720,000 of the run is due at exactly 3600 s.
  const Schedule s(2700, 2, 0);
  EXPECT_EQ(s.DueAt(4860000), seconds(3600));
  EXPECT_EQ(s.DueBy(seconds(3600)), 4860001u);
}

TEST(ScheduleTest, RatesBelowOnePerSecondWork) {
  const Schedule s(0.5, 1, 0);
  EXPECT_EQ(s.DueAt(1), seconds(2));
  EXPECT_EQ(s.DueBy(milliseconds(3999)), 2u);
}

}  // namespace
}  // namespace kv::bench
