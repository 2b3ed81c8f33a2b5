// The RocksDB engine's hints column family.
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
#include "src/storage/record.h"
#include "src/storage/record_codec.h"
#include "src/storage/rocksdb_engine.h"
#include "src/storage/testing/rocksdb_test_util.h"
#include "src/util/clock.h"

namespace kv::storage {
namespace {

using namespace rocksdb_test;  // NOLINT: test helpers
using ::testing::HasSubstr;

// ---- Hints -------------------------------------------------------------------

TEST_P(RocksDbEngineReopenTest, HintsIterateInSeqOrderAndSurviveReopen) {
  ScopedTempDir tmp;
  const std::string dir = tmp.Sub("db");
  // Written out of order, with seqs whose little-endian bytes would sort
  // differently (256 < 2 byte-wise in little-endian).
  const std::vector<uint64_t> seqs = {256, 2, uint64_t{1} << 40, 1, 0, ~uint64_t{0}, 257};
  {
    std::unique_ptr<RocksDbEngine> engine = MustOpen(dir, {.sync = GetParam()});
    ASSERT_NE(engine, nullptr);
    EXPECT_TRUE(AllHints(*engine).empty());
    for (uint64_t seq : seqs) ASSERT_TRUE(engine->PutHint(seq, absl::StrCat("hint-", seq)).ok());
    ASSERT_TRUE(engine->PutHint(2, std::string("replaced\0", 9)).ok());
    ASSERT_TRUE(engine->DeleteHint(257).ok());
    ASSERT_TRUE(engine->DeleteHint(12345).ok());  // absent: a no-op
    // Hints are not records.
    EXPECT_EQ(engine->Size(), 0u);
  }
  std::unique_ptr<RocksDbEngine> engine = MustOpen(dir, {.sync = GetParam()});
  ASSERT_NE(engine, nullptr);
  const std::vector<std::pair<uint64_t, std::string>> want = {
      {0, "hint-0"},
      {1, "hint-1"},
      {2, std::string("replaced\0", 9)},
      {256, "hint-256"},
      {uint64_t{1} << 40, absl::StrCat("hint-", uint64_t{1} << 40)},
      {~uint64_t{0}, absl::StrCat("hint-", ~uint64_t{0})}};
  EXPECT_EQ(AllHints(*engine), want);
}

TEST(RocksDbEngineTest, ForEachHintMayDeleteTheHintsItVisits) {
  ScopedTempDir tmp;
  std::unique_ptr<RocksDbEngine> engine = MustOpen(tmp.Sub("db"), {.sync = SyncPolicy::kNone});
  ASSERT_NE(engine, nullptr);
  for (uint64_t seq = 1; seq <= 10; ++seq) ASSERT_TRUE(engine->PutHint(seq, "h").ok());
  int visited = 0;
  engine->ForEachHint([&](uint64_t seq, std::string_view) {
    ++visited;
    EXPECT_TRUE(engine->DeleteHint(seq).ok());
  });
  EXPECT_EQ(visited, 10);
  EXPECT_TRUE(AllHints(*engine).empty());
}

// A data directory written before the hints column family existed (only
// "default" and "meta") opens, keeps its data and gains "hints".
TEST(RocksDbEngineTest, OpensADirectoryWithoutTheHintsColumnFamily) {
  ScopedTempDir tmp;
  const std::string dir = tmp.Sub("db");
  const Record rec = Rec("old", 7);
  {
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {RocksDbEngine::kDataColumnFamily, rocksdb::ColumnFamilyOptions()},
        {RocksDbEngine::kMetaColumnFamily, rocksdb::ColumnFamilyOptions()}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir, families, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[0], "k", EncodeRecord(rec)).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[1], "node_id", "me").ok());
    for (rocksdb::ColumnFamilyHandle* h : handles) db->DestroyColumnFamilyHandle(h);
  }
  std::vector<std::string> before;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &before).ok());
  ASSERT_EQ(before.size(), 2u);
  {
    std::unique_ptr<RocksDbEngine> engine = MustOpen(dir);
    ASSERT_NE(engine, nullptr);
    ExpectSame(MustRead(*engine, "k"), rec);
    absl::StatusOr<std::optional<std::string>> id = engine->GetMeta("node_id");
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(*id, "me");
    EXPECT_TRUE(AllHints(*engine).empty());
    ASSERT_TRUE(engine->PutHint(1, "first hint").ok());
  }
  std::vector<std::string> after;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &after).ok());
  EXPECT_THAT(after, testing::UnorderedElementsAre("default", "meta", "hints"));
  std::unique_ptr<RocksDbEngine> engine = MustOpen(dir);
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(AllHints(*engine), (std::vector<std::pair<uint64_t, std::string>>{{1, "first hint"}}));
  ExpectSame(MustRead(*engine, "k"), rec);
}

}  // namespace
}  // namespace kv::storage
