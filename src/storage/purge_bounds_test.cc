#include "src/storage/purge_bounds.h"

#include <cstdint>
#include <limits>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace kv::storage {
namespace {

constexpr int64_t kNowMs = 1'700'000'000'000;
constexpr absl::Duration kGrace = absl::Hours(1);
constexpr int64_t kGraceMs = 3600 * 1000;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

uint64_t HlcAt(int64_t physical_ms) { return static_cast<uint64_t>(physical_ms) << 16; }

TEST(PurgeBoundsTest, NothingNotedIsNeverDue) {
  PurgeBounds bounds;
  EXPECT_FALSE(bounds.MayBeDue(kNowMs, kGrace));
  EXPECT_FALSE(bounds.MayBeDue(kMax - 1, absl::ZeroDuration()));
  EXPECT_FALSE(bounds.MayBeDue(kMin, absl::ZeroDuration()));
}

TEST(PurgeBoundsTest, LiveRecordsWithoutExpiryAreNeverDue) {
  PurgeBounds bounds;
  bounds.Note(/*tombstone=*/false, HlcAt(0), /*expires_at_ms=*/0);
  EXPECT_FALSE(bounds.MayBeDue(kNowMs, absl::ZeroDuration()));
}

TEST(PurgeBoundsTest, LiveRecordIsDueAtItsExpiryWhateverTheGrace) {
  PurgeBounds bounds;
  bounds.Note(false, HlcAt(kNowMs - 10), kNowMs);
  EXPECT_FALSE(bounds.MayBeDue(kNowMs - 1, absl::ZeroDuration()));
  EXPECT_TRUE(bounds.MayBeDue(kNowMs, absl::InfiniteDuration()));
}

TEST(PurgeBoundsTest, TombstoneIsDueAtItsDeathTimePlusTheGrace) {
  PurgeBounds deleted;  // death time: the version's physical time
  deleted.Note(/*tombstone=*/true, HlcAt(kNowMs) | 7, 0);
  EXPECT_FALSE(deleted.MayBeDue(kNowMs + kGraceMs - 1, kGrace));
  EXPECT_TRUE(deleted.MayBeDue(kNowMs + kGraceMs, kGrace));
  EXPECT_TRUE(deleted.MayBeDue(kNowMs, absl::ZeroDuration()));

  PurgeBounds expired;  // death time: the expiry, however old the version
  expired.Note(true, HlcAt(0), kNowMs);
  EXPECT_FALSE(expired.MayBeDue(kNowMs + kGraceMs - 1, kGrace));
  EXPECT_TRUE(expired.MayBeDue(kNowMs + kGraceMs, kGrace));
}

TEST(PurgeBoundsTest, KeepsTheEarliestOfWhatWasNoted) {
  PurgeBounds bounds;
  bounds.Note(false, 0, kNowMs + 100);
  bounds.Note(false, 0, kNowMs + 10);
  bounds.Note(false, 0, kNowMs + 50);
  bounds.Note(true, HlcAt(kNowMs + 30), 0);
  bounds.Note(true, HlcAt(kNowMs + 20), 0);
  EXPECT_FALSE(bounds.MayBeDue(kNowMs + 9, absl::ZeroDuration()));
  EXPECT_TRUE(bounds.MayBeDue(kNowMs + 10, kGrace));
  PurgeBounds tombstones;
  tombstones.Note(true, HlcAt(kNowMs + 30), 0);
  tombstones.Note(true, HlcAt(kNowMs + 20), 0);
  EXPECT_FALSE(tombstones.MayBeDue(kNowMs + 19, absl::ZeroDuration()));
  EXPECT_TRUE(tombstones.MayBeDue(kNowMs + 20, absl::ZeroDuration()));
}

TEST(PurgeBoundsTest, SaturatesInsteadOfOverflowing) {
  PurgeBounds late;
  late.Note(true, 0, kMax - 1);
  EXPECT_FALSE(late.MayBeDue(kMax - 1, kGrace));  // kMax - 1 + 1h would wrap in ms
  EXPECT_TRUE(late.MayBeDue(kMax - 1, absl::ZeroDuration()));
  EXPECT_FALSE(late.MayBeDue(kMax - 1, absl::InfiniteDuration()));
  PurgeBounds early;
  early.Note(true, 0, kMin + 1);
  EXPECT_TRUE(early.MayBeDue(kMin + 1, absl::ZeroDuration()));
  EXPECT_FALSE(early.MayBeDue(kNowMs, absl::InfiniteDuration()));
}

TEST(PurgeBoundsTest, RaiseForgetsAndMarkDueForcesTheNextScan) {
  PurgeBounds bounds;
  bounds.Note(false, 0, kNowMs);
  bounds.Note(true, HlcAt(kNowMs), 0);
  ASSERT_TRUE(bounds.MayBeDue(kNowMs, kGrace));
  bounds.Raise();
  EXPECT_FALSE(bounds.MayBeDue(kNowMs, absl::ZeroDuration()));
  bounds.MarkDue();
  EXPECT_TRUE(bounds.MayBeDue(kMin, absl::InfiniteDuration()));
  PurgeBounds initially_due(PurgeBounds::kDueNow);
  EXPECT_TRUE(initially_due.MayBeDue(kNowMs, kGrace));
}

}  // namespace
}  // namespace kv::storage
