#include "src/storage/record.h"

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace kv::storage {
namespace {

const std::string kNodeA(40, 'a');
const std::string kNodeB(40, 'b');

TEST(VersionTest, OrdersByTimestampFirst) {
  EXPECT_LT((Version{1, kNodeB}), (Version{2, kNodeA}));
  EXPECT_GT((Version{2, kNodeA}), (Version{1, kNodeB}));
}

TEST(VersionTest, BreaksTimestampTieByNodeId) {
  EXPECT_LT((Version{5, kNodeA}), (Version{5, kNodeB}));
  EXPECT_NE((Version{5, kNodeA}), (Version{5, kNodeB}));
  EXPECT_EQ((Version{5, kNodeA}), (Version{5, kNodeA}));
}

TEST(VersionTest, ZeroVersionSortsBeforeEveryOther) {
  Version zero;
  EXPECT_TRUE(zero.IsZero());
  EXPECT_FALSE((Version{1, ""}).IsZero());
  EXPECT_FALSE((Version{0, kNodeA}).IsZero());
  EXPECT_LT(zero, (Version{0, kNodeA}));
  EXPECT_LT(zero, (Version{1, ""}));
}

TEST(RecordTest, NeverExpiresWithoutExpiry) {
  Record rec;
  EXPECT_FALSE(rec.ExpiredAt(0));
  EXPECT_FALSE(rec.ExpiredAt(std::numeric_limits<int64_t>::max()));
  EXPECT_TRUE(rec.LiveAt(std::numeric_limits<int64_t>::max()));
}

TEST(RecordTest, ExpiresAtExactlyExpiryTime) {
  Record rec{.value = "v", .expires_at_ms = 1000};
  EXPECT_FALSE(rec.ExpiredAt(999));
  EXPECT_TRUE(rec.LiveAt(999));
  EXPECT_TRUE(rec.ExpiredAt(1000));
  EXPECT_FALSE(rec.LiveAt(1000));
  EXPECT_TRUE(rec.ExpiredAt(1001));
}

TEST(RecordTest, TombstoneIsNeverLive) {
  Record rec{.tombstone = true};
  EXPECT_FALSE(rec.ExpiredAt(5));
  EXPECT_FALSE(rec.LiveAt(5));
}

TEST(RecordTest, PrintsVersionAndRecordReadably) {
  std::ostringstream version;
  version << Version{(uint64_t{1700} << 16) | 3, kNodeA};
  EXPECT_EQ(version.str(), "1700.3@" + kNodeA);

  std::ostringstream zero;
  zero << Version{};
  EXPECT_EQ(zero.str(), "0.0@-");

  Record rec{.value = std::string("a\0\n", 3) + std::string(100, 'x'),
             .version = {(uint64_t{5} << 16), kNodeB},
             .tombstone = true,
             .expires_at_ms = 99};
  std::ostringstream out;
  out << rec;
  EXPECT_EQ(out.str(), "{version=5.0@" + kNodeB + " tombstone expires_at_ms=99 value=\"a\\x00\\n" +
                           std::string(61, 'x') + "\"...(103 bytes)}");
}

TEST(PurgeActionTest, TurnsExpiredLiveRecordsIntoTombstonesFromTheirExpiryOn) {
  const absl::Duration grace = absl::Hours(1);
  EXPECT_EQ(PurgeActionFor(false, 0, 0, 1'000'000, grace), PurgeAction::kKeep);  // no expiry
  EXPECT_EQ(PurgeActionFor(false, 0, 1000, 999, grace), PurgeAction::kKeep);
  EXPECT_EQ(PurgeActionFor(false, 0, 1000, 1000, grace), PurgeAction::kTombstone);
  // Long past the grace too: still a tombstone first, never erased at once.
  EXPECT_EQ(PurgeActionFor(false, 0, 1000, 1'000'000'000, grace), PurgeAction::kTombstone);
}

TEST(PurgeActionTest, ErasesTombstonesOnceDeathTimePlusGraceHasPassed) {
  const absl::Duration grace = absl::Seconds(10);
  const uint64_t ts = (uint64_t{50'000} << 16) | 0xffff;  // physical 50,000 ms
  // Death time = version's physical time when there is no expiry.
  EXPECT_EQ(PurgeActionFor(true, ts, 0, 59'999, grace), PurgeAction::kKeep);
  EXPECT_EQ(PurgeActionFor(true, ts, 0, 60'000, grace), PurgeAction::kErase);
  // Else the expiry, later or earlier than the version.
  EXPECT_EQ(PurgeActionFor(true, ts, 70'000, 79'999, grace), PurgeAction::kKeep);
  EXPECT_EQ(PurgeActionFor(true, ts, 70'000, 80'000, grace), PurgeAction::kErase);
  EXPECT_EQ(PurgeActionFor(true, ts, 1'000, 11'000, grace), PurgeAction::kErase);
}

TEST(PurgeActionTest, SaturatesInsteadOfOverflowing) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(PurgeActionFor(true, 0, kMax, kMax, absl::Hours(1)), PurgeAction::kKeep);
  EXPECT_EQ(PurgeActionFor(true, 0, kMin, kMin, absl::Hours(1)), PurgeAction::kKeep);
  EXPECT_EQ(PurgeActionFor(true, 0, kMin, 0, absl::Hours(1)), PurgeAction::kErase);
  EXPECT_EQ(PurgeActionFor(true, 0, 0, kMax, absl::InfiniteDuration()), PurgeAction::kKeep);
}

TEST(PurgeActionTest, ExpiredTombstoneKeepsVersionAndExpiryAndDropsTheValue) {
  const Record rec{.value = "v", .version = {7, kNodeA}, .expires_at_ms = 99};
  const Record t = ExpiredTombstone(rec);
  EXPECT_TRUE(t.tombstone);
  EXPECT_EQ(t.value, "");
  EXPECT_EQ(t.version, rec.version);
  EXPECT_EQ(t.expires_at_ms, 99);
}

}  // namespace
}  // namespace kv::storage
