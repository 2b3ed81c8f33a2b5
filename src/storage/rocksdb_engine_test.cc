#include "src/storage/rocksdb_engine.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <stdlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/storage/engine_contract_test.h"
#include "src/storage/record.h"
#include "src/storage/record_codec.h"
#include "src/storage/testing/fault_env.h"
#include "src/util/clock.h"

namespace kv::storage {

// Names the policy in test output (found by argument-dependent lookup, so it
// must live in SyncPolicy's namespace).
void PrintTo(SyncPolicy policy, std::ostream* os) {
  *os << (policy == SyncPolicy::kAlways ? "SyncAlways" : "SyncNone");
}

namespace {

using ::testing::HasSubstr;

const std::string kNode(40, 'a');

// A fresh directory under the test temp dir, removed with everything in it
// when destroyed.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    std::string pattern = testing::TempDir() + "kv_rocksdb_test_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp(" << pattern << ") failed";
    }
    path_ = pattern;
  }
  ~ScopedTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return absl::StrCat(path_, "/", name); }

 private:
  std::string path_;
};

// An HLC timestamp ((physical ms << 16) | logical) at `physical_ms`.
uint64_t HlcAt(int64_t physical_ms) { return static_cast<uint64_t>(physical_ms) << 16; }

Record Rec(std::string value, uint64_t ts) {
  return Record{.value = std::move(value), .version = {ts, kNode}};
}

std::unique_ptr<RocksDbEngine> MustOpen(const std::string& dir,
                                        RocksDbEngine::Options options = {}) {
  absl::StatusOr<std::unique_ptr<RocksDbEngine>> engine = RocksDbEngine::Open(dir, options);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *std::move(engine) : nullptr;
}

std::optional<Record> MustRead(const Engine& engine, std::string_view key) {
  absl::StatusOr<std::optional<Record>> got = engine.Read(key);
  EXPECT_TRUE(got.ok()) << got.status();
  return got.ok() ? *got : std::nullopt;
}

void ExpectSame(const std::optional<Record>& got, const Record& want) {
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->value, want.value);
  EXPECT_EQ(got->version, want.version);
  EXPECT_EQ(got->tombstone, want.tombstone);
  EXPECT_EQ(got->expires_at_ms, want.expires_at_ms);
}

// Owns a temp dir and a RocksDbEngine in it, for the contract suite, whose
// engines must release what they create.
class TempDirEngine final : public Engine {
 public:
  explicit TempDirEngine(SyncPolicy sync) : engine_(MustOpen(dir_.Sub("db"), {.sync = sync})) {}

  bool ok() const { return engine_ != nullptr; }

  absl::StatusOr<bool> Apply(std::string_view key, const Record& rec) override {
    return engine_->Apply(key, rec);
  }
  absl::StatusOr<std::optional<Record>> Read(std::string_view key) const override {
    return engine_->Read(key);
  }
  void ForEach(
      const std::function<void(std::string_view key, const Record& rec)>& fn) const override {
    engine_->ForEach(fn);
  }
  size_t Size() const override { return engine_->Size(); }
  absl::StatusOr<bool> EraseIf(std::string_view key, const Version& version) override {
    return engine_->EraseIf(key, version);
  }
  absl::StatusOr<PurgeStats> Purge(int64_t now_ms, absl::Duration tombstone_grace) override {
    return engine_->Purge(now_ms, tombstone_grace);
  }
  void TEST_Erase(std::string_view key) override { engine_->TEST_Erase(key); }

 private:
  ScopedTempDir dir_;  // declared first: outlives the engine
  std::unique_ptr<RocksDbEngine> engine_;
};

std::unique_ptr<Engine> MakeTempDirEngine(SyncPolicy sync) {
  auto engine = std::make_unique<TempDirEngine>(sync);
  if (!engine->ok()) return nullptr;
  return engine;
}

// With sync=none only: the suite's concurrency test makes 20,000 writes, and
// at a few ms per fsync that takes minutes with sync=always. The sync policy
// changes one WriteOptions flag; the tests below cover sync=always.
INSTANTIATE_TEST_SUITE_P(RocksDbEngines, EngineContractTest,
                         testing::Values(EngineFactory{
                             "SyncNone", [] { return MakeTempDirEngine(SyncPolicy::kNone); }}),
                         EngineFactoryName);

// Synced writers of the same few keys: every Apply succeeds (RocksDB groups
// their fsyncs) and each key ends with the highest version written to it.
TEST(RocksDbEngineTest, ConcurrentSyncedAppliesKeepTheNewestVersionOfEachKey) {
  constexpr int kThreads = 8;
  constexpr int kKeys = 4;
  constexpr int kWritesPerThread = 40;
  TempDirEngine engine(SyncPolicy::kAlways);
  ASSERT_TRUE(engine.ok());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string node = std::string(39, '0') + static_cast<char>('a' + t);
      for (int i = 0; i < kWritesPerThread; ++i) {
        // Threads write each key with interleaved timestamps, so an Apply
        // that raced past a newer one would leave an older version behind.
        const Record rec{.value = absl::StrCat(t, ":", i),
                         .version = {static_cast<uint64_t>(i * kThreads + t + 1), node}};
        if (!engine.Apply(absl::StrCat("key", i % kKeys), rec).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  for (int k = 0; k < kKeys; ++k) {
    // The highest timestamp written to key k: the last i with i % kKeys == k,
    // from the last thread.
    const int last_i = kWritesPerThread - kKeys + k;
    std::optional<Record> got = MustRead(engine, absl::StrCat("key", k));
    ASSERT_TRUE(got.has_value()) << k;
    EXPECT_EQ(got->version.timestamp, static_cast<uint64_t>(last_i * kThreads + kThreads)) << k;
    EXPECT_EQ(got->value, absl::StrCat(kThreads - 1, ":", last_i)) << k;
  }
}

// ---- Durability -----------------------------------------------------------

class RocksDbEngineReopenTest : public testing::TestWithParam<SyncPolicy> {};

INSTANTIATE_TEST_SUITE_P(SyncPolicies, RocksDbEngineReopenTest,
                         testing::Values(SyncPolicy::kAlways, SyncPolicy::kNone),
                         [](const testing::TestParamInfo<SyncPolicy>& info) {
                           return info.param == SyncPolicy::kAlways ? "SyncAlways" : "SyncNone";
                         });

TEST_P(RocksDbEngineReopenTest, ReopenKeepsEveryRecordAndItsVersion) {
  ScopedTempDir tmp;
  const std::string dir = tmp.Sub("db");
  std::vector<std::pair<std::string, Record>> written;
  for (int i = 0; i < 120; ++i) {
    Record rec = Rec(absl::StrCat("value-", i), 1000 + i);
    if (i % 10 == 0) rec.expires_at_ms = 1700000000000 + i;
    if (i % 17 == 0) rec = Record{.version = {2000u + i, kNode}, .tombstone = true};
    written.emplace_back(absl::StrCat("key-", i), rec);
  }
  {
    std::unique_ptr<RocksDbEngine> engine = MustOpen(dir, {.sync = GetParam()});
    ASSERT_NE(engine, nullptr);
    for (const auto& [key, rec] : written) ASSERT_TRUE(*engine->Apply(key, rec));
  }
  std::unique_ptr<RocksDbEngine> engine = MustOpen(dir, {.sync = GetParam()});
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->Size(), written.size());
  for (const auto& [key, rec] : written) ExpectSame(MustRead(*engine, key), rec);
  // Last-writer-wins state survived too: an older version is still refused.
  absl::StatusOr<bool> stored = engine->Apply("key-1", Rec("stale", 1));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_FALSE(*stored);
}

TEST(RocksDbEngineTest, CreatesMissingParentDirectories) {
  ScopedTempDir tmp;
  std::unique_ptr<RocksDbEngine> engine = MustOpen(tmp.Sub("a/b/db"));
  ASSERT_NE(engine, nullptr);
  EXPECT_TRUE(*engine->Apply("k", Rec("v", 1)));
}

TEST(RocksDbEngineTest, SecondOpenOfTheSameDirectoryFailsClearly) {
  ScopedTempDir tmp;
  std::unique_ptr<RocksDbEngine> first = MustOpen(tmp.Sub("db"));
  ASSERT_NE(first, nullptr);
  absl::StatusOr<std::unique_ptr<RocksDbEngine>> second = RocksDbEngine::Open(tmp.Sub("db"), {});
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr(absl::StrCat("opening RocksDB in ", tmp.Sub("db"))));
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("LOCK"));
  // The first engine is unaffected.
  EXPECT_TRUE(*first->Apply("k", Rec("v", 1)));
}

TEST(RocksDbEngineTest, OpenRejectsNegativeTombstoneGrace) {
  ScopedTempDir tmp;
  absl::StatusOr<std::unique_ptr<RocksDbEngine>> engine =
      RocksDbEngine::Open(tmp.Sub("db"), {.tombstone_grace = absl::Seconds(-1)});
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(engine.status().message()), HasSubstr("tombstone grace is -1s"));
}

// ---- Meta namespace ---------------------------------------------------------

TEST(RocksDbEngineTest, MetaSurvivesReopenAndStaysOutOfTheRecords) {
  ScopedTempDir tmp;
  const std::string dir = tmp.Sub("db");
  {
    std::unique_ptr<RocksDbEngine> engine = MustOpen(dir, {.sync = SyncPolicy::kNone});
    ASSERT_NE(engine, nullptr);
    absl::StatusOr<std::optional<std::string>> missing = engine->GetMeta("node_id");
    ASSERT_TRUE(missing.ok()) << missing.status();
    EXPECT_EQ(*missing, std::nullopt);

    ASSERT_TRUE(engine->PutMeta("node_id", "first").ok());
    ASSERT_TRUE(engine->PutMeta("node_id", std::string("id\0with-nul", 11)).ok());
    ASSERT_TRUE(engine->PutMeta("routing_table", std::string(10000, 'r')).ok());
    // Meta keys are not records, and a record of the same name is separate.
    EXPECT_EQ(engine->Size(), 0u);
    EXPECT_EQ(MustRead(*engine, "node_id"), std::nullopt);
    ASSERT_TRUE(*engine->Apply("node_id", Rec("a record", 1)));
    int visited = 0;
    engine->ForEach([&](std::string_view, const Record&) { ++visited; });
    EXPECT_EQ(visited, 1);
  }
  std::unique_ptr<RocksDbEngine> engine = MustOpen(dir);
  ASSERT_NE(engine, nullptr);
  absl::StatusOr<std::optional<std::string>> id = engine->GetMeta("node_id");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, std::string("id\0with-nul", 11));
  absl::StatusOr<std::optional<std::string>> table = engine->GetMeta("routing_table");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(*table, std::string(10000, 'r'));
  EXPECT_EQ(MustRead(*engine, "node_id")->value, "a record");
}

// ---- Hints -------------------------------------------------------------------

// Every hint ForEachHint visits, in visiting order.
std::vector<std::pair<uint64_t, std::string>> AllHints(const RocksDbEngine& engine) {
  std::vector<std::pair<uint64_t, std::string>> hints;
  engine.ForEachHint(
      [&](uint64_t seq, std::string_view bytes) { hints.emplace_back(seq, std::string(bytes)); });
  return hints;
}

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

// ---- Checkpoints ------------------------------------------------------------

TEST(RocksDbEngineTest, CheckpointOpensAsAnEngineWithTheSameData) {
  ScopedTempDir tmp;
  std::unique_ptr<RocksDbEngine> engine = MustOpen(tmp.Sub("db"), {.sync = SyncPolicy::kNone});
  ASSERT_NE(engine, nullptr);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(*engine->Apply(absl::StrCat("k", i), Rec(absl::StrCat("v", i), i + 1)));
  }
  ASSERT_TRUE(*engine->Apply("gone", Record{.version = {500, kNode}, .tombstone = true}));
  ASSERT_TRUE(engine->PutMeta("node_id", "me").ok());
  ASSERT_TRUE(engine->PutHint(42, "a hint").ok());

  const std::string snapshot = tmp.Sub("snapshot");
  absl::Status s = engine->Checkpoint(snapshot);
  ASSERT_TRUE(s.ok()) << s;
  // Writes after the checkpoint stay out of it.
  ASSERT_TRUE(*engine->Apply("k0", Rec("after", 1000)));
  ASSERT_TRUE(*engine->Apply("later", Rec("after", 1000)));

  std::unique_ptr<RocksDbEngine> copy = MustOpen(snapshot);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->Size(), 101u);
  for (int i = 0; i < 100; ++i) {
    ExpectSame(MustRead(*copy, absl::StrCat("k", i)), Rec(absl::StrCat("v", i), i + 1));
  }
  EXPECT_TRUE(MustRead(*copy, "gone")->tombstone);
  EXPECT_EQ(MustRead(*copy, "later"), std::nullopt);
  absl::StatusOr<std::optional<std::string>> id = copy->GetMeta("node_id");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "me");
  EXPECT_EQ(AllHints(*copy), (std::vector<std::pair<uint64_t, std::string>>{{42, "a hint"}}));
}

TEST(RocksDbEngineTest, CheckpointRefusesAnExistingDirectory) {
  ScopedTempDir tmp;
  std::unique_ptr<RocksDbEngine> engine = MustOpen(tmp.Sub("db"));
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(*engine->Apply("k", Rec("v", 1)));
  const std::string existing = tmp.Sub("existing");
  ASSERT_TRUE(std::filesystem::create_directory(existing));

  absl::Status s = engine->Checkpoint(existing);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr(existing + " already exists"));
  EXPECT_TRUE(std::filesystem::is_empty(existing));
}

// ---- Compaction filter through RocksDB ------------------------------------

// Every column family the engine creates, with default options, for opening
// its directory with plain RocksDB (which must name them all).
std::vector<rocksdb::ColumnFamilyDescriptor> AllFamilies() {
  return {{RocksDbEngine::kDataColumnFamily, rocksdb::ColumnFamilyOptions()},
          {RocksDbEngine::kMetaColumnFamily, rocksdb::ColumnFamilyOptions()},
          {RocksDbEngine::kHintsColumnFamily, rocksdb::ColumnFamilyOptions()}};
}

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
  {
    std::unique_ptr<RocksDbEngine> engine = MustOpen(dir, options);
    ASSERT_NE(engine, nullptr);
    for (int i = 0; i < kEach; ++i) {
      Record live = Rec("live", HlcAt(now - 1000));
      Record expiring = Rec("expiring", HlcAt(now - 1000));
      expiring.expires_at_ms = now + 30 * 60 * 1000;  // in 30 minutes
      Record expired = Rec("expired", HlcAt(now - 1000));
      expired.expires_at_ms = now - 1;
      const Record old_tombstone{.version = {HlcAt(now - 2 * 3600 * 1000), kNode},
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

  // An hour later the young tombstones and the expired ones (dead since their
  // expiry) are past their grace, and the expiring records have expired: they
  // become tombstones in turn. The filter reads the injected clock.
  clock.Advance(absl::Hours(1));
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

  // 30 minutes more: the expiring records' tombstones pass their grace too.
  clock.Advance(absl::Minutes(30));
  std::unique_ptr<RocksDbEngine> engine = MustOpen(dir, options);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(engine->CompactAll().ok());
  EXPECT_EQ(engine->Size(), 1u * kEach);
  EXPECT_EQ(MustRead(*engine, key("expiring", 0)), std::nullopt);
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

// ---- Undecodable stored bytes ----------------------------------------------

TEST(RocksDbEngineTest, UndecodableStoredRecordIsReportedAndNeverOverwritten) {
  ScopedTempDir tmp;
  const std::string dir = tmp.Sub("db");
  {
    std::unique_ptr<RocksDbEngine> engine = MustOpen(dir);
    ASSERT_NE(engine, nullptr);
    ASSERT_TRUE(*engine->Apply("good", Rec("v", 1)));
  }
  {
    // Store bytes of an unknown future format version, as a newer build might.
    rocksdb::DBOptions options;
    const std::vector<rocksdb::ColumnFamilyDescriptor> families = AllFamilies();
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir, families, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[0], "bad",
                        "\x02"
                        "future")
                    .ok());
    for (rocksdb::ColumnFamilyHandle* h : handles) db->DestroyColumnFamilyHandle(h);
  }
  std::unique_ptr<RocksDbEngine> engine = MustOpen(dir);
  ASSERT_NE(engine, nullptr);

  absl::StatusOr<std::optional<Record>> read = engine->Read("bad");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("key \"bad\""));
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("unknown format version 2"));

  absl::StatusOr<bool> applied = engine->Apply("bad", Rec("new", 1000));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(applied.status().message()), HasSubstr("not overwriting key \"bad\""));

  absl::StatusOr<bool> erased = engine->EraseIf("bad", Version{1000, kNode});
  ASSERT_FALSE(erased.ok());
  EXPECT_EQ(erased.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(erased.status().message()), HasSubstr("not erasing key \"bad\""));

  // Purge keeps what it cannot read.
  absl::StatusOr<PurgeStats> purged = engine->Purge(int64_t{1} << 60, absl::ZeroDuration());
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(purged->expired + purged->tombstones_dropped, 0u);

  std::vector<std::string> visited;
  engine->ForEach([&](std::string_view key, const Record&) { visited.emplace_back(key); });
  EXPECT_EQ(visited, std::vector<std::string>{"good"});
  EXPECT_EQ(MustRead(*engine, "good")->value, "v");
  EXPECT_EQ(engine->Size(), 2u);
}

// ---- Write failures ---------------------------------------------------------

class RocksDbEngineFaultTest : public testing::Test {
 protected:
  std::unique_ptr<RocksDbEngine> OpenFaulty(SyncPolicy sync) {
    return MustOpen(tmp_.Sub("db"), {.sync = sync, .env = env_.get()});
  }

  ScopedTempDir tmp_;
  DiskFaults faults_;
  std::unique_ptr<rocksdb::Env> env_ = NewFaultInjectionEnv(&faults_);
};

TEST_F(RocksDbEngineFaultTest, FailedWalSyncFailsApplyAndReadsKeepWorking) {
  std::unique_ptr<RocksDbEngine> engine = OpenFaulty(SyncPolicy::kAlways);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(*engine->Apply("k", Rec("before", 1)));

  faults_.fail_sync = true;
  absl::StatusOr<bool> applied = engine->Apply("k", Rec("during", 2));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(applied.status().message()), HasSubstr("writing key \"k\""));
  EXPECT_THAT(std::string(applied.status().message()), HasSubstr("injected: fsync failed"));
  EXPECT_GT(faults_.syncs_failed.load(), 0);

  // The failed write is not visible, and reads keep working.
  EXPECT_EQ(MustRead(*engine, "k")->value, "before");
  EXPECT_EQ(engine->Size(), 1u);
}

TEST_F(RocksDbEngineFaultTest, DiskFullFailsApplyWithResourceExhaustedAndLosesNothing) {
  {
    std::unique_ptr<RocksDbEngine> engine = OpenFaulty(SyncPolicy::kNone);
    ASSERT_NE(engine, nullptr);
    ASSERT_TRUE(*engine->Apply("k", Rec("before", 1)));

    faults_.fail_append = true;
    absl::StatusOr<bool> applied = engine->Apply("k", Rec("during", 2));
    ASSERT_FALSE(applied.ok());
    EXPECT_EQ(applied.status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_THAT(std::string(applied.status().message()), HasSubstr("writing key \"k\""));
    EXPECT_THAT(std::string(applied.status().message()), HasSubstr("No space left on device"));
    EXPECT_GT(faults_.appends_failed.load(), 0);
    EXPECT_EQ(MustRead(*engine, "k")->value, "before");
  }
  // The disk has room again: after a restart the acknowledged write is there
  // and the refused one is not.
  faults_.fail_append = false;
  std::unique_ptr<RocksDbEngine> engine = OpenFaulty(SyncPolicy::kNone);
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(MustRead(*engine, "k")->value, "before");
  EXPECT_TRUE(*engine->Apply("k", Rec("after", 3)));
}

TEST_F(RocksDbEngineFaultTest, FailedHintWriteIsReportedAndNotStored) {
  std::unique_ptr<RocksDbEngine> engine = OpenFaulty(SyncPolicy::kAlways);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(engine->PutHint(1, "kept").ok());
  faults_.fail_sync = true;
  absl::Status s = engine->PutHint(2, "lost");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), HasSubstr("writing hint 2 in "));
  EXPECT_EQ(AllHints(*engine), (std::vector<std::pair<uint64_t, std::string>>{{1, "kept"}}));
}

}  // namespace
}  // namespace kv::storage
