#include "src/storage/compaction_filter.h"

#include <rocksdb/slice.h>

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "src/storage/record.h"
#include "src/storage/record_codec.h"
#include "src/util/clock.h"

namespace kv::storage {
namespace {

const std::string kNode(40, 'a');

// An HLC timestamp ((physical ms << 16) | logical) at `physical_ms`.
uint64_t HlcAt(int64_t physical_ms, uint16_t logical = 0) {
  return (static_cast<uint64_t>(physical_ms) << 16) | logical;
}

// What Filter() did with one record.
struct Outcome {
  bool dropped = false;
  bool value_changed = false;
  std::string new_value;
};

class ExpiryCompactionFilterTest : public testing::Test {
 protected:
  // Runs the filter on `rec` at the clock's current time.
  Outcome Run(const Record& rec) {
    const std::string encoded = EncodeRecord(rec);
    Outcome out;
    out.dropped = filter_.Filter(/*level=*/1, rocksdb::Slice("key"), rocksdb::Slice(encoded),
                                 &out.new_value, &out.value_changed);
    return out;
  }

  // True if the filter keeps `rec` unchanged.
  bool Keeps(const Record& rec) {
    const Outcome out = Run(rec);
    return !out.dropped && !out.value_changed;
  }

  bool Drops(const Record& rec) {
    const Outcome out = Run(rec);
    EXPECT_FALSE(out.value_changed);
    return out.dropped;
  }

  int64_t NowMs() const { return clock_.NowMillis(); }

  util::ManualClock clock_;
  ExpiryCompactionFilter filter_{&clock_, absl::Hours(1)};
};

TEST_F(ExpiryCompactionFilterTest, KeepsRecordsWithoutExpiry) {
  EXPECT_TRUE(Keeps(Record{.value = "v", .version = {HlcAt(0), kNode}}));
  EXPECT_TRUE(Keeps(Record{.value = "v", .version = {HlcAt(NowMs()), kNode}}));
}

TEST_F(ExpiryCompactionFilterTest, RewritesExpiredRecordsAsTombstonesOfTheSameVersion) {
  const Record rec{.value = "a value that the tombstone drops",
                   .version = {HlcAt(NowMs(), 7), kNode},
                   .expires_at_ms = NowMs() + 1000};
  EXPECT_TRUE(Keeps(rec));
  clock_.Advance(absl::Milliseconds(999));
  EXPECT_TRUE(Keeps(rec));
  clock_.Advance(absl::Milliseconds(1));  // now == expires_at_ms: expired (Record::ExpiredAt)

  const Outcome out = Run(rec);
  EXPECT_FALSE(out.dropped);
  ASSERT_TRUE(out.value_changed);
  absl::StatusOr<Record> tombstone = DecodeRecord(out.new_value);
  ASSERT_TRUE(tombstone.ok()) << tombstone.status();
  EXPECT_TRUE(tombstone->tombstone);
  EXPECT_EQ(tombstone->value, "");
  EXPECT_EQ(tombstone->version, rec.version);
  EXPECT_EQ(tombstone->expires_at_ms, rec.expires_at_ms);
}

TEST_F(ExpiryCompactionFilterTest, KeepsTombstonesThroughTheirGraceAndDropsThemAfter) {
  const Record tombstone{.version = {HlcAt(NowMs(), 5), kNode}, .tombstone = true};
  EXPECT_TRUE(Keeps(tombstone));
  clock_.Advance(absl::Hours(1) - absl::Milliseconds(1));
  EXPECT_TRUE(Keeps(tombstone));
  clock_.Advance(absl::Milliseconds(1));  // death time + grace == now: dropped
  EXPECT_TRUE(Drops(tombstone));
}

TEST_F(ExpiryCompactionFilterTest, DatesTheDeathOfAnExpiredTombstoneFromItsExpiry) {
  // What the filter made of an expired record: it died at expires_at_ms,
  // whatever its version's time.
  const int64_t expired_at = NowMs() - 30 * 60 * 1000;
  const Record tombstone{.version = {HlcAt(NowMs() - 3 * 3600 * 1000), kNode},
                         .tombstone = true,
                         .expires_at_ms = expired_at};
  EXPECT_TRUE(Keeps(tombstone));  // 30 minutes into its 1 hour grace
  clock_.Advance(absl::Minutes(30) - absl::Milliseconds(1));
  EXPECT_TRUE(Keeps(tombstone));
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(Drops(tombstone));
}

TEST_F(ExpiryCompactionFilterTest, ExpiredRecordTakesTwoCompactionsToDisappear) {
  const Record rec{
      .value = "v", .version = {HlcAt(NowMs()), kNode}, .expires_at_ms = NowMs() + 1000};
  clock_.Advance(absl::Hours(5));  // long past expiry and grace
  const Outcome first = Run(rec);
  ASSERT_TRUE(first.value_changed);
  EXPECT_FALSE(first.dropped);
  std::string unused;
  bool changed = false;
  EXPECT_TRUE(
      filter_.Filter(1, rocksdb::Slice("key"), rocksdb::Slice(first.new_value), &unused, &changed));
  EXPECT_FALSE(changed);
}

TEST_F(ExpiryCompactionFilterTest, ZeroGraceDropsTombstonesAtTheirDeathTime) {
  ExpiryCompactionFilter no_grace(&clock_, absl::ZeroDuration());
  const std::string young =
      EncodeRecord(Record{.version = {HlcAt(NowMs()), kNode}, .tombstone = true});
  std::string new_value;
  EXPECT_EQ(no_grace.Decide(rocksdb::Slice(young), NowMs() - 1, &new_value), PurgeAction::kKeep);
  EXPECT_EQ(no_grace.Decide(rocksdb::Slice(young), NowMs(), &new_value), PurgeAction::kErase);
  EXPECT_EQ(new_value, "");
}

TEST_F(ExpiryCompactionFilterTest, InfiniteGraceNeverDropsTombstones) {
  ExpiryCompactionFilter forever(&clock_, absl::InfiniteDuration());
  const std::string old = EncodeRecord(Record{.version = {HlcAt(0), kNode}, .tombstone = true});
  std::string new_value;
  EXPECT_EQ(forever.Decide(rocksdb::Slice(old), NowMs(), &new_value), PurgeAction::kKeep);
}

TEST_F(ExpiryCompactionFilterTest, KeepsValuesThatDoNotDecode) {
  std::string bad = EncodeRecord(Record{.version = {HlcAt(0), kNode}, .tombstone = true});
  std::string new_value;
  // Sanity: an old tombstone.
  EXPECT_EQ(filter_.Decide(rocksdb::Slice(bad), NowMs(), &new_value), PurgeAction::kErase);
  bad[0] = '\x02';  // unknown format version
  EXPECT_EQ(filter_.Decide(rocksdb::Slice(bad), NowMs(), &new_value), PurgeAction::kKeep);
  EXPECT_EQ(filter_.Decide(rocksdb::Slice(""), NowMs(), &new_value), PurgeAction::kKeep);
}

}  // namespace
}  // namespace kv::storage
