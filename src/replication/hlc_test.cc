#include "src/replication/hlc.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <thread>
#include <vector>

#include "absl/synchronization/barrier.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "src/util/clock.h"

namespace kv::replication {
namespace {

constexpr int64_t kStartMs = 1'700'000'000'000;  // Nov 2023

class HybridClockTest : public testing::Test {
 protected:
  util::ManualClock physical_{absl::FromUnixMillis(kStartMs)};
  HybridClock clock_{&physical_};
};

TEST(HybridClockEncodingTest, MakeAndAccessorsRoundTrip) {
  const uint64_t ts = HybridClock::Make(kStartMs, 42);
  EXPECT_EQ(ts, (static_cast<uint64_t>(kStartMs) << 16) | 42);
  EXPECT_EQ(HybridClock::PhysicalMillis(ts), kStartMs);
  EXPECT_EQ(HybridClock::Logical(ts), 42);
  EXPECT_LT(HybridClock::Make(kStartMs, 0xffff), HybridClock::Make(kStartMs + 1, 0));
}

TEST(HybridClockEncodingTest, MakeClampsOutOfRangePhysicalTime) {
  EXPECT_EQ(HybridClock::Make(-5, 3), HybridClock::Make(0, 3));
  EXPECT_EQ(HybridClock::PhysicalMillis(HybridClock::Make(std::numeric_limits<int64_t>::max(), 0)),
            HybridClock::kMaxPhysicalMillis);
}

TEST_F(HybridClockTest, FollowsPhysicalClockWhenItAdvances) {
  EXPECT_EQ(clock_.Now(), HybridClock::Make(kStartMs, 0));
  physical_.Advance(absl::Milliseconds(5));
  EXPECT_EQ(clock_.Now(), HybridClock::Make(kStartMs + 5, 0));
}

TEST_F(HybridClockTest, StrictlyIncreasesWhilePhysicalClockStandsStill) {
  uint64_t prev = clock_.Now();
  for (int i = 0; i < 1000; ++i) {
    const uint64_t ts = clock_.Now();
    ASSERT_GT(ts, prev);
    prev = ts;
  }
  EXPECT_EQ(HybridClock::PhysicalMillis(prev), kStartMs);
  EXPECT_EQ(HybridClock::Logical(prev), 1000);
}

TEST_F(HybridClockTest, StaysMonotonicWhenPhysicalClockGoesBackwards) {
  physical_.Advance(absl::Seconds(10));
  const uint64_t before = clock_.Now();
  physical_.Set(absl::FromUnixMillis(kStartMs));  // 10 s back
  uint64_t prev = before;
  for (int i = 0; i < 100; ++i) {
    const uint64_t ts = clock_.Now();
    ASSERT_GT(ts, prev);
    prev = ts;
  }
  EXPECT_EQ(HybridClock::PhysicalMillis(prev), kStartMs + 10'000);
}

TEST_F(HybridClockTest, JumpsWithPhysicalClockAndStaysMonotonic) {
  uint64_t prev = 0;
  // Stand still, jump forward, go backwards, jump again: never decreases.
  const int64_t steps_ms[] = {0, 0, 3600'000, 0, -7200'000, 1, 7200'000, 0};
  for (int64_t step : steps_ms) {
    physical_.Advance(absl::Milliseconds(step));
    for (int i = 0; i < 10; ++i) {
      const uint64_t ts = clock_.Now();
      ASSERT_GT(ts, prev);
      ASSERT_GE(ts, HybridClock::Make(physical_.NowMillis(), 0));
      prev = ts;
    }
  }
  EXPECT_EQ(HybridClock::PhysicalMillis(prev), kStartMs + 3600'000 + 1);
}

TEST_F(HybridClockTest, LogicalOverflowCarriesIntoPhysical) {
  uint64_t ts = clock_.Now();
  ASSERT_EQ(ts, HybridClock::Make(kStartMs, 0));
  for (int i = 0; i < 0xffff; ++i) ts = clock_.Now();
  EXPECT_EQ(ts, HybridClock::Make(kStartMs, 0xffff));

  ts = clock_.Now();
  EXPECT_EQ(HybridClock::PhysicalMillis(ts), kStartMs + 1);
  EXPECT_EQ(HybridClock::Logical(ts), 0);

  // Physical time catching up to the borrowed millisecond continues the count.
  physical_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(clock_.Now(), HybridClock::Make(kStartMs + 1, 1));
}

TEST_F(HybridClockTest, UpdateWithRemoteAheadMakesNextNowGreater) {
  const uint64_t remote = HybridClock::Make(kStartMs + 5'000, 7);
  EXPECT_TRUE(clock_.Update(remote));
  const uint64_t ts = clock_.Now();
  EXPECT_GT(ts, remote);
  EXPECT_EQ(ts, HybridClock::Make(kStartMs + 5'000, 8));
}

TEST_F(HybridClockTest, UpdateWithRemoteBehindChangesNothing) {
  const uint64_t local = clock_.Now();
  EXPECT_TRUE(clock_.Update(HybridClock::Make(kStartMs - 1'000, 500)));
  EXPECT_EQ(clock_.Now(), local + 1);
}

TEST_F(HybridClockTest, UpdateMergesButReportsRemoteBeyondMaxDrift) {
  const uint64_t at_limit = HybridClock::Make(kStartMs + 60'000, 0xffff);
  EXPECT_TRUE(clock_.Update(at_limit));

  const uint64_t beyond = HybridClock::Make(kStartMs + 60'001, 0);
  EXPECT_FALSE(clock_.Update(beyond));
  EXPECT_GT(clock_.Now(), beyond);
}

TEST(HybridClockDriftTest, HonoursConfiguredMaxDrift) {
  util::ManualClock physical(absl::FromUnixMillis(kStartMs));
  HybridClock clock(&physical, absl::Seconds(1));
  EXPECT_TRUE(clock.Update(HybridClock::Make(kStartMs + 1'000, 0)));
  EXPECT_FALSE(clock.Update(HybridClock::Make(kStartMs + 1'001, 0)));
}

TEST_F(HybridClockTest, SaturatesInsteadOfWrappingAtLargestTimestamp) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  EXPECT_FALSE(clock_.Update(kMax));
  EXPECT_EQ(clock_.Now(), kMax);
  EXPECT_EQ(clock_.Now(), kMax);
}

TEST_F(HybridClockTest, ConcurrentCallersGetDistinctIncreasingValues) {
  constexpr int kThreads = 4;
  constexpr int kCallsPerThread = 50'000;
  std::vector<std::vector<uint64_t>> got(kThreads);
  for (std::vector<uint64_t>& v : got) v.reserve(kCallsPerThread);
  // Released together so that the threads really overlap.
  absl::Barrier* start = new absl::Barrier(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      if (start->Block()) delete start;
      for (int i = 0; i < kCallsPerThread; ++i) {
        // One thread also moves physical time, forwards and back.
        if (t == 0 && i % 1000 == 0) physical_.Advance(absl::Milliseconds(i % 2000 ? 1 : -3));
        got[t].push_back(clock_.Now());
      }
    });
  }
  for (std::thread& th : threads) th.join();

  std::vector<uint64_t> all;
  for (const std::vector<uint64_t>& per_thread : got) {
    ASSERT_EQ(per_thread.size(), static_cast<size_t>(kCallsPerThread));
    EXPECT_EQ(std::adjacent_find(per_thread.begin(), per_thread.end(), std::greater_equal<>()),
              per_thread.end())
        << "not strictly increasing within a thread";
    all.insert(all.end(), per_thread.begin(), per_thread.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "duplicate timestamp";
}

}  // namespace
}  // namespace kv::replication
