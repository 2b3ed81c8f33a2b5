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

class ExpiryCompactionFilterTest : public testing::Test {
 protected:
  // Asks the filter about `rec` at the clock's current time.
  bool Drops(const Record& rec) {
    const std::string encoded = EncodeRecord(rec);
    std::string new_value;
    bool value_changed = false;
    const bool dropped = filter_.Filter(/*level=*/1, rocksdb::Slice("key"), rocksdb::Slice(encoded),
                                        &new_value, &value_changed);
    EXPECT_FALSE(value_changed);
    return dropped;
  }

  int64_t NowMs() const { return clock_.NowMillis(); }

  util::ManualClock clock_;
  ExpiryCompactionFilter filter_{&clock_, absl::Hours(1)};
};

TEST_F(ExpiryCompactionFilterTest, KeepsRecordsWithoutExpiry) {
  EXPECT_FALSE(Drops(Record{.value = "v", .version = {HlcAt(0), kNode}}));
  EXPECT_FALSE(Drops(Record{.value = "v", .version = {HlcAt(NowMs()), kNode}}));
}

TEST_F(ExpiryCompactionFilterTest, DropsRecordsFromTheirExpiryOnward) {
  const Record rec{
      .value = "v", .version = {HlcAt(NowMs()), kNode}, .expires_at_ms = NowMs() + 1000};
  EXPECT_FALSE(Drops(rec));
  clock_.Advance(absl::Milliseconds(999));
  EXPECT_FALSE(Drops(rec));
  clock_.Advance(absl::Milliseconds(1));  // now == expires_at_ms: expired (Record::ExpiredAt)
  EXPECT_TRUE(Drops(rec));
}

TEST_F(ExpiryCompactionFilterTest, KeepsTombstonesThroughTheirGraceAndDropsThemAfter) {
  const Record tombstone{.version = {HlcAt(NowMs(), 5), kNode}, .tombstone = true};
  EXPECT_FALSE(Drops(tombstone));
  clock_.Advance(absl::Hours(1));  // exactly the grace: not yet older than it
  EXPECT_FALSE(Drops(tombstone));
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(Drops(tombstone));
}

TEST_F(ExpiryCompactionFilterTest, JudgesTombstonesByVersionTimeNotExpiry) {
  // A young tombstone that carries a past expiry is still kept for its grace.
  const Record tombstone{.version = {HlcAt(NowMs()), kNode}, .tombstone = true, .expires_at_ms = 1};
  EXPECT_FALSE(Drops(tombstone));
}

TEST_F(ExpiryCompactionFilterTest, ZeroGraceDropsTombstonesAsSoonAsTimeMoves) {
  ExpiryCompactionFilter no_grace(&clock_, absl::ZeroDuration());
  const std::string young =
      EncodeRecord(Record{.version = {HlcAt(NowMs()), kNode}, .tombstone = true});
  EXPECT_FALSE(no_grace.ShouldDrop(rocksdb::Slice(young), NowMs()));
  EXPECT_TRUE(no_grace.ShouldDrop(rocksdb::Slice(young), NowMs() + 1));
}

TEST_F(ExpiryCompactionFilterTest, KeepsValuesThatDoNotDecode) {
  std::string bad = EncodeRecord(Record{.version = {HlcAt(0), kNode}, .tombstone = true});
  EXPECT_TRUE(filter_.ShouldDrop(rocksdb::Slice(bad), NowMs()));  // sanity: old tombstone
  bad[0] = '\x02';                                                // unknown format version
  EXPECT_FALSE(filter_.ShouldDrop(rocksdb::Slice(bad), NowMs()));
  EXPECT_FALSE(filter_.ShouldDrop(rocksdb::Slice(""), NowMs()));
}

}  // namespace
}  // namespace kv::storage
