// Expiry and tombstone collection in the RocksDB engine: Purge and the compaction filter.
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/storage/digest_tree.h"
#include "src/storage/record.h"
#include "src/storage/record_codec.h"
#include "src/storage/rocksdb_engine.h"
#include "src/storage/testing/rocksdb_test_util.h"
#include "src/util/clock.h"

namespace kv::storage {
namespace {

using namespace rocksdb_test;  // NOLINT: test helpers
using ::testing::HasSubstr;

// ---- Compaction filter through RocksDB ------------------------------------

// What plain RocksDB (no engine code) finds in the records column family of a
// closed database: keys seen by an iterator, and the "rocksdb.estimate-num-keys"
// property, which counts entries in memtables and table files.
struct RawCounts {
  size_t iterated = 0;
  uint64_t estimated = 0;
};

RawCounts CountWithPlainRocksDb(const std::string& dir) {
  RawCounts counts;
  const std::vector<rocksdb::ColumnFamilyDescriptor> families = AllFamilies();
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), dir, families, &handles, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return counts;
  std::unique_ptr<rocksdb::DB> db(raw);
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[0]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++counts.iterated;
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  }
  EXPECT_TRUE(
      db->GetIntProperty(handles[0], rocksdb::DB::Properties::kEstimateNumKeys, &counts.estimated));
  for (rocksdb::ColumnFamilyHandle* h : handles) db->DestroyColumnFamilyHandle(h);
  return counts;
}

TEST(RocksDbEngineTest, CompactionAppliesThePurgeRule) {
  ScopedTempDir tmp;
  const std::string dir = tmp.Sub("db");
  util::ManualClock clock;
  const int64_t now = clock.NowMillis();
  constexpr int kEach = 50;
  auto key = [](const char* kind, int i) { return absl::StrCat(kind, "-", i); };
  auto is_tombstone = [](const std::optional<Record>& rec) {
    return rec.has_value() && rec->tombstone && rec->value.empty();
  };
  const RocksDbEngine::Options options = {
      .sync = SyncPolicy::kNone, .clock = &clock, .tombstone_grace = absl::Hours(1)};
  // The filter's grace: the backstop's hour longer than Purge's.
  const absl::Duration filter_grace = options.tombstone_grace + RocksDbEngine::kCompactionBackstop;
  const int64_t filter_grace_ms = absl::ToInt64Milliseconds(filter_grace);
  {
    std::unique_ptr<RocksDbEngine> engine = MustOpen(dir, options);
    ASSERT_NE(engine, nullptr);
    for (int i = 0; i < kEach; ++i) {
      Record live = Rec("live", HlcAt(now - 1000));
      Record expiring = Rec("expiring", HlcAt(now - 1000));
      expiring.expires_at_ms = now + 30 * 60 * 1000;  // in 30 minutes
      Record expired = Rec("expired", HlcAt(now - 1000));
      expired.expires_at_ms = now - 1;
      const Record old_tombstone{.version = {HlcAt(now - filter_grace_ms - 3600 * 1000), kNode},
                                 .tombstone = true};
      const Record young_tombstone{.version = {HlcAt(now - 10 * 60 * 1000), kNode},
                                   .tombstone = true};
      ASSERT_TRUE(*engine->Apply(key("live", i), live));
      ASSERT_TRUE(*engine->Apply(key("expiring", i), expiring));
      ASSERT_TRUE(*engine->Apply(key("expired", i), expired));
      ASSERT_TRUE(*engine->Apply(key("old-tombstone", i), old_tombstone));
      ASSERT_TRUE(*engine->Apply(key("young-tombstone", i), young_tombstone));
    }
    // Nothing changes before a compaction runs.
    EXPECT_EQ(engine->Size(), 5u * kEach);
    EXPECT_EQ(MustRead(*engine, key("expired", 0))->value, "expired");

    // Expired records become tombstones of the same version; old tombstones go.
    ASSERT_TRUE(engine->CompactAll().ok());
    EXPECT_EQ(engine->Size(), 4u * kEach);
    for (int i = 0; i < kEach; ++i) {
      std::optional<Record> expired = MustRead(*engine, key("expired", i));
      EXPECT_TRUE(is_tombstone(expired)) << i;
      if (expired.has_value()) {
        EXPECT_EQ(expired->version, (Version{HlcAt(now - 1000), kNode}));
        EXPECT_EQ(expired->expires_at_ms, now - 1);
      }
      EXPECT_EQ(MustRead(*engine, key("old-tombstone", i)), std::nullopt) << i;
      EXPECT_EQ(MustRead(*engine, key("live", i))->value, "live") << i;
      EXPECT_EQ(MustRead(*engine, key("expiring", i))->value, "expiring") << i;
      EXPECT_TRUE(is_tombstone(MustRead(*engine, key("young-tombstone", i)))) << i;
    }
  }
  RawCounts counts = CountWithPlainRocksDb(dir);
  EXPECT_EQ(counts.iterated, 4u * kEach);
  EXPECT_EQ(counts.estimated, 4u * kEach);

  // One filter grace later the young tombstones and the expired ones (dead
  // since their expiry) are past it, and the expiring records have expired:
  // they become tombstones in turn. The filter reads the injected clock.
  clock.Advance(filter_grace);
  {
    std::unique_ptr<RocksDbEngine> engine = MustOpen(dir, options);
    ASSERT_NE(engine, nullptr);
    ASSERT_TRUE(engine->CompactAll().ok());
    EXPECT_EQ(engine->Size(), 2u * kEach);
    EXPECT_EQ(MustRead(*engine, key("young-tombstone", 0)), std::nullopt);
    EXPECT_EQ(MustRead(*engine, key("expired", 0)), std::nullopt);
    EXPECT_TRUE(is_tombstone(MustRead(*engine, key("expiring", 0))));
    EXPECT_EQ(MustRead(*engine, key("live", 0))->value, "live");
  }
  counts = CountWithPlainRocksDb(dir);
  EXPECT_EQ(counts.iterated, 2u * kEach);
  EXPECT_EQ(counts.estimated, 2u * kEach);

  // 30 minutes more: the expiring records' tombstones pass the grace too.
  clock.Advance(absl::Minutes(30));
  std::unique_ptr<RocksDbEngine> engine = MustOpen(dir, options);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(engine->CompactAll().ok());
  EXPECT_EQ(engine->Size(), 1u * kEach);
  EXPECT_EQ(MustRead(*engine, key("expiring", 0)), std::nullopt);
}

// Purge erases a tombstone at Options::tombstone_grace, through the engine
// (so the digest tree sees it); the compaction filter waits
// kCompactionBackstop longer.
TEST(RocksDbEngineTest, CompactionLeavesTombstonesWithinTheBackstopToPurge) {
  ScopedTempDir tmp;
  util::ManualClock clock;
  const int64_t now = clock.NowMillis();
  const RocksDbEngine::Options options = {
      .sync = SyncPolicy::kNone, .clock = &clock, .tombstone_grace = absl::Hours(1)};
  std::unique_ptr<RocksDbEngine> engine = MustOpen(tmp.Sub("db"), options);
  ASSERT_NE(engine, nullptr);
  const int64_t grace_ms = absl::ToInt64Milliseconds(options.tombstone_grace);
  const int64_t backstop_ms = absl::ToInt64Milliseconds(RocksDbEngine::kCompactionBackstop);
  // Past Purge's grace, within the backstop.
  const Record due{.version = {HlcAt(now - grace_ms - backstop_ms / 2), kNode}, .tombstone = true};
  ASSERT_TRUE(*engine->Apply("due", due));
  ASSERT_TRUE(*engine->Apply("live", Rec("v", HlcAt(now))));
  ASSERT_TRUE(engine->CompactAll().ok());
  ASSERT_TRUE(MustRead(*engine, "due").has_value());

  absl::StatusOr<PurgeStats> stats = engine->Purge(now, options.tombstone_grace);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->tombstones_dropped, 1u);
  EXPECT_EQ(MustRead(*engine, "due"), std::nullopt);
  DigestTree want;
  const Version live_version{HlcAt(now), kNode};
  want.Replace("live", nullptr, &live_version);
  EXPECT_EQ(engine->digest_tree().Hash(0, 0), want.Hash(0, 0));
  EXPECT_EQ(engine->digest_tree().NonEmptyLeaves(), want.NonEmptyLeaves());
}

// ---- Purge and EraseIf beyond the contract ---------------------------------

TEST(RocksDbEngineTest, SyncedPurgeBatchesAcrossStripesAndReportsEncodedBytes) {
  ScopedTempDir tmp;
  std::unique_ptr<RocksDbEngine> engine = MustOpen(tmp.Sub("db"), {.sync = SyncPolicy::kAlways});
  ASSERT_NE(engine, nullptr);
  constexpr int64_t kNow = 1'700'000'000'000;
  constexpr int kKeys = 300;  // spread over the stripes
  size_t want_freed = 0;
  for (int i = 0; i < kKeys; ++i) {
    const std::string k = absl::StrCat("k", i);
    Record rec = Rec(std::string(100, 'v'), HlcAt(kNow - 1));
    rec.expires_at_ms = kNow - 1;
    ASSERT_TRUE(*engine->Apply(k, rec));
    // The encoded value shrinks by the 100 value bytes.
    want_freed += 100;
  }
  absl::StatusOr<PurgeStats> stats = engine->Purge(kNow, absl::ZeroDuration());
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->expired, static_cast<size_t>(kKeys));
  EXPECT_EQ(stats->bytes_freed, want_freed);
  // The tombstones died at kNow - 1: with zero grace they go now, each
  // freeing its key and encoded tombstone.
  stats = engine->Purge(kNow, absl::ZeroDuration());
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->tombstones_dropped, static_cast<size_t>(kKeys));
  EXPECT_GT(stats->bytes_freed, static_cast<size_t>(kKeys) * 60);
  EXPECT_EQ(engine->Size(), 0u);
}

}  // namespace
}  // namespace kv::storage
