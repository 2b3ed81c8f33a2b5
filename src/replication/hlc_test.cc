#include "src/replication/hlc.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/barrier.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
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
  const uint64_t remote = HybridClock::Make(kStartMs + 400, 7);
  EXPECT_TRUE(clock_.Update(remote).ok());
  const uint64_t ts = clock_.Now();
  EXPECT_GT(ts, remote);
  EXPECT_EQ(ts, HybridClock::Make(kStartMs + 400, 8));
}

TEST_F(HybridClockTest, UpdateWithRemoteBehindChangesNothing) {
  const uint64_t local = clock_.Now();
  EXPECT_TRUE(clock_.Update(HybridClock::Make(kStartMs - 1'000, 500)).ok());
  EXPECT_EQ(clock_.Now(), local + 1);
}

TEST_F(HybridClockTest, UpdateRefusesAndDoesNotMergeRemoteBeyondMaxOffset) {
  const uint64_t at_limit = HybridClock::Make(kStartMs + 500, 0xffff);
  EXPECT_TRUE(clock_.Update(at_limit).ok());

  const uint64_t beyond = HybridClock::Make(kStartMs + 501, 0);
  absl::Status s = clock_.Update(beyond);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), testing::HasSubstr("501 ms ahead"));
  EXPECT_THAT(std::string(s.message()), testing::HasSubstr("at most 500 ms"));
  // The next local timestamp follows the admitted one, not the refused one.
  EXPECT_EQ(clock_.Now(), at_limit + 1);
}

TEST(HybridClockOffsetTest, HonoursConfiguredMaxOffset) {
  util::ManualClock physical(absl::FromUnixMillis(kStartMs));
  HybridClock clock(&physical, absl::Seconds(1));
  EXPECT_EQ(clock.max_offset(), absl::Seconds(1));
  EXPECT_TRUE(clock.Update(HybridClock::Make(kStartMs + 1'000, 0)).ok());
  EXPECT_FALSE(clock.Update(HybridClock::Make(kStartMs + 1'001, 0)).ok());
}

TEST_F(HybridClockTest, LargestTimestampIsRefusedAndLocalWritesStayOnTime) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(clock_.Update(kMax).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(HybridClock::PhysicalMillis(clock_.Now()), kStartMs);
}

TEST_F(HybridClockTest, OneHourAheadIsAdmittedOnceTheLocalClockCatchesUp) {
  const uint64_t remote = HybridClock::Make(kStartMs + 3'600'000, 0);
  EXPECT_FALSE(clock_.Update(remote).ok());
  physical_.Advance(absl::Hours(1));
  EXPECT_TRUE(clock_.Update(remote).ok());
}

TEST_F(HybridClockTest, AdmitRequiresFortyLowercaseHexNodeId) {
  const uint64_t ts = HybridClock::Make(kStartMs, 0);
  const std::string good(40, 'a');
  EXPECT_TRUE(clock_.Admit({ts, good}).ok());
  for (const std::string& bad :
       {std::string(), std::string(39, 'a'), std::string(41, 'a'), std::string(40, 'A'),
        std::string(39, 'a') + "g", std::string(5 << 20, 'a')}) {
    absl::Status s = clock_.Admit({ts, bad});
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad.size();
    EXPECT_THAT(std::string(s.message()), testing::HasSubstr("40 lowercase hex"));
  }
}

TEST_F(HybridClockTest, AdmitChecksTheOffsetToo) {
  EXPECT_EQ(clock_.Admit({HybridClock::Make(kStartMs + 3'600'000, 0), std::string(40, 'b')}).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(HybridClockTest, RestoreRaisesTheClockWithoutTheOffsetCheck) {
  const uint64_t issued_before_restart = HybridClock::Make(kStartMs + 10'000, 3);
  clock_.Restore(issued_before_restart);
  EXPECT_GT(clock_.Now(), issued_before_restart);
  clock_.Restore(HybridClock::Make(kStartMs, 0));  // never lowers it
  EXPECT_GT(clock_.Now(), issued_before_restart);
}

TEST(HybridClockPersistenceTest, RecordsABoundAheadBeforeIssuingBeyondTheLastOne) {
  util::ManualClock physical(absl::FromUnixMillis(kStartMs));
  std::vector<uint64_t> saved;
  HybridClock clock(&physical, HybridClock::kDefaultMaxOffset,
                    {.save =
                         [&](uint64_t b) {
                           saved.push_back(b);
                           return absl::OkStatus();
                         },
                     .window = absl::Seconds(10)});
  const uint64_t first = clock.Now();
  ASSERT_EQ(saved.size(), 1u);
  EXPECT_GT(saved[0], first);
  EXPECT_EQ(HybridClock::PhysicalMillis(saved[0]), kStartMs + 10'000);
  // Within the bound: nothing more is written.
  physical.Advance(absl::Seconds(9));
  for (int i = 0; i < 1000; ++i) clock.Now();
  EXPECT_EQ(saved.size(), 1u);
  // Past it: a new bound, before the timestamp is returned.
  physical.Advance(absl::Seconds(2));
  const uint64_t later = clock.Now();
  ASSERT_EQ(saved.size(), 2u);
  EXPECT_GT(saved[1], later);
}

TEST(HybridClockPersistenceTest, ARestartWithTheClockSetBackIssuesAboveEverythingBefore) {
  util::ManualClock physical(absl::FromUnixMillis(kStartMs));
  uint64_t bound = 0;
  uint64_t last_before = 0;
  {
    HybridClock before(&physical, HybridClock::kDefaultMaxOffset, {.save = [&](uint64_t b) {
      bound = b;
      return absl::OkStatus();
    }});
    for (int i = 0; i < 100; ++i) last_before = before.Now();
  }
  physical.Advance(-absl::Seconds(10));  // the restarted node's clock is behind
  HybridClock after(&physical);
  after.Restore(bound);
  EXPECT_GT(after.Now(), last_before);
}

TEST(HybridClockPersistenceTest, AFailedSaveIsRetriedOnTheNextTimestamp) {
  util::ManualClock physical(absl::FromUnixMillis(kStartMs));
  int calls = 0;
  HybridClock clock(&physical, HybridClock::kDefaultMaxOffset, {.save = [&](uint64_t) {
    return ++calls == 1 ? absl::UnavailableError("disk") : absl::OkStatus();
  }});
  clock.Now();
  clock.Now();
  EXPECT_EQ(calls, 2);
  clock.Now();
  EXPECT_EQ(calls, 2);
}

TEST_F(HybridClockTest, SaturatesInsteadOfWrappingAtLargestTimestamp) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  clock_.Restore(kMax);
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
