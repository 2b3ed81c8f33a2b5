#include "src/storage/rocksdb_engine.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <stdlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
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
#include "src/storage/digest_tree.h"
#include "src/storage/engine_contract_test.h"
#include "src/storage/record.h"
#include "src/storage/record_codec.h"
#include "src/storage/testing/fault_env.h"
#include "src/storage/testing/rocksdb_test_util.h"
#include "src/util/clock.h"

namespace kv::storage {

namespace {

using namespace rocksdb_test;  // NOLINT: test helpers

// Owns a temp dir and a RocksDbEngine in it, for the contract suite, whose
// engines must release what they create.
class TempDirEngine final : public Engine {
 public:
  explicit TempDirEngine(SyncPolicy sync) : engine_(MustOpen(dir_.Sub("db"), {.sync = sync})) {}

  bool ok() const { return engine_ != nullptr; }

  absl::StatusOr<bool> Apply(std::string_view key, const Record& rec) override {
    return engine_->Apply(key, rec);
  }
  std::vector<absl::StatusOr<bool>> ApplyGroup(std::span<const KeyedRecord> writes) override {
    return engine_->ApplyGroup(writes);
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
  const DigestTree& digest_tree() const override { return engine_->digest_tree(); }

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

TEST_P(RocksDbEngineReopenTest, ReopenRebuildsTheSameDigestTree) {
  ScopedTempDir tmp;
  const std::string dir = tmp.Sub("db");
  uint64_t root = 0;
  std::vector<uint32_t> leaves;
  {
    std::unique_ptr<RocksDbEngine> engine = MustOpen(dir, {.sync = GetParam()});
    ASSERT_NE(engine, nullptr);
    for (int i = 0; i < 300; ++i) {
      Record rec = Rec(absl::StrCat("value-", i), 1000 + i);
      if (i % 10 == 0) rec.expires_at_ms = 1700000000000 + i;
      if (i % 17 == 0) rec = Record{.version = {2000u + i, kNode}, .tombstone = true};
      ASSERT_TRUE(*engine->Apply(absl::StrCat("key-", i), rec));
    }
    ASSERT_TRUE(*engine->Apply("key-1", Rec("newer", 5000)));
    ASSERT_TRUE(*engine->EraseIf("key-2", Version{1002, kNode}));
    engine->TEST_Erase("key-3");
    root = engine->digest_tree().Hash(0, 0);
    leaves = engine->digest_tree().NonEmptyLeaves();
    ASSERT_NE(root, 0u);
  }
  std::unique_ptr<RocksDbEngine> engine = MustOpen(dir, {.sync = GetParam()});
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->digest_tree().Hash(0, 0), root);
  EXPECT_EQ(engine->digest_tree().NonEmptyLeaves(), leaves);
  // And it is the tree of what is stored, node by node.
  DigestTree rebuilt;
  engine->ForEach([&](std::string_view key, const Record& rec) {
    rebuilt.Replace(key, nullptr, &rec.version);
  });
  for (int depth : {4, 9, 16}) {
    for (uint32_t p = 0; p < (uint32_t{1} << depth); ++p) {
      ASSERT_EQ(engine->digest_tree().Hash(p, depth), rebuilt.Hash(p, depth)) << depth << " " << p;
    }
  }
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

TEST(RocksDbEngineTest, CheckpointThatCannotBeWrittenLeavesWritesWorking) {
  ScopedTempDir tmp;
  std::unique_ptr<RocksDbEngine> engine = MustOpen(tmp.Sub("db"));
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(*engine->Apply("k", Rec("v", 1)));

  // Before the fix the failed checkpoint latched the engine's write error:
  // every later write was refused until a restart.
  absl::Status s = engine->Checkpoint(tmp.Sub("no-such-parent") + "/snap");
  EXPECT_FALSE(s.ok());
  absl::StatusOr<bool> applied = engine->Apply("k", Rec("after", 2));
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_TRUE(*applied);
  ASSERT_TRUE(engine->PutMeta("m", "x").ok());
  EXPECT_TRUE(engine->Checkpoint(tmp.Sub("good")).ok());
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
  // Open left it out of the digest tree, and TEST_Erase of it keeps it out.
  const Version good_version{1, kNode};
  EXPECT_EQ(engine->digest_tree().Hash(0, 0), RecordHash("good", good_version));
  EXPECT_EQ(engine->digest_tree().NonEmptyLeaves(), std::vector<uint32_t>{LeafOf("good")});
  EXPECT_EQ(MustRead(*engine, "good")->value, "v");
  EXPECT_EQ(engine->Size(), 2u);
  engine->TEST_Erase("bad");
  EXPECT_EQ(engine->Size(), 1u);
  EXPECT_EQ(engine->digest_tree().Hash(0, 0), RecordHash("good", good_version));
}

TEST(RocksDbEnginePropertiesTest, NamesEveryGaugeAndCountsLiveData) {
  ScopedTempDir tmp;
  std::unique_ptr<RocksDbEngine> engine = MustOpen(tmp.Sub("db"));
  ASSERT_NE(engine, nullptr);
  uint64_t x = 88172645463325252ull;  // xorshift: values that do not compress
  for (int i = 0; i < 100; ++i) {
    std::string value(1000, '\0');
    for (char& c : value) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      c = static_cast<char>(x);
    }
    ASSERT_TRUE(*engine->Apply(absl::StrCat("k", i), Rec(value, 1)));
  }
  ASSERT_TRUE(engine->CompactAll().ok());  // live-data estimates count files, not memtables
  std::map<std::string, uint64_t> props;
  for (const auto& [name, value] : engine->Properties()) props[name] = value;
  EXPECT_THAT(props, testing::Contains(testing::Key("rocksdb_pending_compaction_bytes")));
  EXPECT_EQ(props.at("rocksdb_write_stopped"), 0u);
  EXPECT_EQ(props.at("rocksdb_write_stalls"), 0u);
  EXPECT_GE(props.at("rocksdb_live_data_bytes"), 100u * 1000u);
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

TEST_F(RocksDbEngineFaultTest, FailedWritesLeaveTheDigestTreeUnchanged) {
  std::unique_ptr<RocksDbEngine> engine = OpenFaulty(SyncPolicy::kAlways);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(*engine->Apply("k", Rec("before", 1)));
  ASSERT_TRUE(*engine->Apply("gone", Record{.version = {2, kNode}, .tombstone = true}));
  const uint64_t root = engine->digest_tree().Hash(0, 0);
  const std::vector<uint32_t> leaves = engine->digest_tree().NonEmptyLeaves();

  faults_.fail_sync = true;
  ASSERT_FALSE(engine->Apply("k", Rec("during", 3)).ok());
  EXPECT_GT(faults_.syncs_failed.load(), 0);
  // Refused while the error stands: they must not reach the tree either.
  ASSERT_FALSE(engine->Apply("new", Rec("during", 3)).ok());
  const std::vector<KeyedRecord> group = {{"k", Rec("group", 4)}, {"other", Rec("group", 4)}};
  for (const absl::StatusOr<bool>& result : engine->ApplyGroup(group)) {
    EXPECT_FALSE(result.ok());
  }
  ASSERT_FALSE(engine->EraseIf("k", Version{1, kNode}).ok());
  // Purge with the tombstone due: its erasure fails.
  ASSERT_FALSE(engine->Purge(int64_t{1} << 40, absl::ZeroDuration()).ok());
  engine->TEST_Erase("k");

  EXPECT_EQ(engine->digest_tree().Hash(0, 0), root);
  EXPECT_EQ(engine->digest_tree().NonEmptyLeaves(), leaves);
  EXPECT_EQ(MustRead(*engine, "k")->value, "before");
  EXPECT_TRUE(MustRead(*engine, "gone")->tombstone);
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
