#include "src/storage/group_commit.h"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/storage/memory_engine.h"
#include "src/storage/testing/fault_env.h"
#include "src/storage/testing/rocksdb_test_util.h"

namespace kv::storage {
namespace {

using namespace rocksdb_test;  // NOLINT: test helpers
using ::testing::ElementsAre;

// A MemoryEngine whose ApplyGroup records each group's size and, while held,
// waits before applying: the writes queued meanwhile form the next group.
class HeldEngine final : public Engine {
 public:
  std::vector<absl::StatusOr<bool>> ApplyGroup(std::span<const KeyedRecord> writes) override {
    {
      absl::MutexLock lock(&mu_);
      sizes_.push_back(writes.size());
      mu_.Await(absl::Condition(
          +[](bool* held) { return !*held; }, &held_));
    }
    return mem_.ApplyGroup(writes);
  }
  absl::StatusOr<bool> Apply(std::string_view key, const Record& rec) override {
    return mem_.Apply(key, rec);
  }
  absl::StatusOr<std::optional<Record>> Read(std::string_view key) const override {
    return mem_.Read(key);
  }
  void ForEach(const std::function<void(std::string_view, const Record&)>& fn) const override {
    mem_.ForEach(fn);
  }
  size_t Size() const override { return mem_.Size(); }
  absl::StatusOr<bool> EraseIf(std::string_view key, const Version& version) override {
    return mem_.EraseIf(key, version);
  }
  absl::StatusOr<PurgeStats> Purge(int64_t now_ms, absl::Duration grace) override {
    return mem_.Purge(now_ms, grace);
  }
  void TEST_Erase(std::string_view key) override { mem_.TEST_Erase(key); }
  const DigestTree& digest_tree() const override { return mem_.digest_tree(); }

  void Hold() {
    absl::MutexLock lock(&mu_);
    held_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    held_ = false;
  }
  // Waits (bounded) until `n` groups have reached the engine.
  bool AwaitGroups(size_t n) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return sizes_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(30));
  }
  std::vector<size_t> sizes() {
    absl::MutexLock lock(&mu_);
    return sizes_;
  }

 private:
  MemoryEngine mem_;
  absl::Mutex mu_;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<size_t> sizes_ ABSL_GUARDED_BY(mu_);
};

// Collects the answers of writes; Await waits (bounded) for `n` of them.
class Answers {
 public:
  GroupCommit::Done Slot(size_t i) {
    return [this, i](absl::StatusOr<bool> r) {
      absl::MutexLock lock(&mu_);
      got_.insert_or_assign(i, std::move(r));
      ++count_;
    };
  }
  bool Await(size_t n) {
    absl::MutexLock lock(&mu_);
    auto done = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return count_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(30));
  }
  absl::StatusOr<bool> at(size_t i) {
    absl::MutexLock lock(&mu_);
    return got_.at(i);
  }

 private:
  absl::Mutex mu_;
  std::map<size_t, absl::StatusOr<bool>> got_ ABSL_GUARDED_BY(mu_);
  size_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(GroupCommitTest, WritesQueuedWhileAGroupCommitsFormTheNextGroup) {
  HeldEngine engine;
  GroupCommit commit(&engine);
  Answers answers;
  engine.Hold();
  commit.Apply("first", Rec("v", 1), answers.Slot(0));
  ASSERT_TRUE(engine.AwaitGroups(1));
  for (size_t i = 1; i <= 10; ++i) {
    commit.Apply(absl::StrCat("k", i), Rec("v", 1), answers.Slot(i));
  }
  engine.Release();
  ASSERT_TRUE(answers.Await(11));
  EXPECT_THAT(engine.sizes(), ElementsAre(1, 10));
  EXPECT_EQ(commit.groups(), 2u);
  EXPECT_EQ(commit.writes(), 11u);
  for (size_t i = 0; i <= 10; ++i) EXPECT_TRUE(*answers.at(i)) << i;
}

TEST(GroupCommitTest, EachWriteGetsItsOwnAnswer) {
  MemoryEngine engine;
  ASSERT_TRUE(*engine.Apply("k", Rec("newer", 20)));
  GroupCommit commit(&engine);
  Answers answers;
  commit.Apply("k", Rec("older", 10), answers.Slot(0));
  commit.Apply("other", Rec("v", 10), answers.Slot(1));
  ASSERT_TRUE(answers.Await(2));
  EXPECT_FALSE(*answers.at(0));
  EXPECT_TRUE(*answers.at(1));
  EXPECT_EQ(MustRead(engine, "k")->value, "newer");
}

TEST(GroupCommitTest, AGroupStopsAtMaxWrites) {
  HeldEngine engine;
  GroupCommit commit(&engine, {.max_writes = 2});
  Answers answers;
  engine.Hold();
  commit.Apply("first", Rec("v", 1), answers.Slot(0));
  ASSERT_TRUE(engine.AwaitGroups(1));
  for (size_t i = 1; i <= 5; ++i) commit.Apply(absl::StrCat("k", i), Rec("v", 1), answers.Slot(i));
  engine.Release();
  ASSERT_TRUE(answers.Await(6));
  EXPECT_THAT(engine.sizes(), ElementsAre(1, 2, 2, 1));
}

TEST(GroupCommitTest, AGroupStopsAtMaxBytesButAWriteLargerThanThatStillGoes) {
  HeldEngine engine;
  GroupCommit commit(&engine, {.max_bytes = 100});
  Answers answers;
  engine.Hold();
  commit.Apply("first", Rec("v", 1), answers.Slot(0));
  ASSERT_TRUE(engine.AwaitGroups(1));
  commit.Apply("big", Rec(std::string(500, 'x'), 1), answers.Slot(1));
  commit.Apply("a", Rec(std::string(60, 'x'), 1), answers.Slot(2));
  commit.Apply("b", Rec(std::string(60, 'x'), 1), answers.Slot(3));
  engine.Release();
  ASSERT_TRUE(answers.Await(4));
  EXPECT_THAT(engine.sizes(), ElementsAre(1, 1, 1, 1));
  EXPECT_EQ(MustRead(engine, "big")->value.size(), 500u);
}

TEST(GroupCommitTest, StopCommitsWhatIsQueuedThenRefuses) {
  HeldEngine engine;
  Answers answers;
  auto commit = std::make_unique<GroupCommit>(&engine);
  engine.Hold();
  commit->Apply("first", Rec("v", 1), answers.Slot(0));
  ASSERT_TRUE(engine.AwaitGroups(1));
  commit->Apply("queued", Rec("v", 1), answers.Slot(1));
  absl::Notification stopped;
  std::thread stopper([&] {
    commit->Stop();
    stopped.Notify();
  });
  // Stop waits for the queued write, which waits for the engine.
  EXPECT_FALSE(stopped.WaitForNotificationWithTimeout(absl::Milliseconds(50)));
  engine.Release();
  stopper.join();
  ASSERT_TRUE(answers.Await(2));
  EXPECT_TRUE(*answers.at(1));
  EXPECT_EQ(MustRead(engine, "queued")->value, "v");

  commit->Apply("late", Rec("v", 1), answers.Slot(2));
  ASSERT_TRUE(answers.Await(3));
  EXPECT_EQ(answers.at(2).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(MustRead(engine, "late").has_value());
}

TEST(GroupCommitTest, OnRocksDbEveryAnsweredWriteSurvivesAReopen) {
  ScopedTempDir tmp;
  {
    std::unique_ptr<RocksDbEngine> engine = MustOpen(tmp.Sub("db"), {.sync = SyncPolicy::kAlways});
    ASSERT_NE(engine, nullptr);
    GroupCommit commit(engine.get());
    Answers answers;
    for (size_t i = 0; i < 100; ++i) {
      commit.Apply(absl::StrCat("k", i % 10), Rec(absl::StrCat("v", i), i + 1), answers.Slot(i));
    }
    ASSERT_TRUE(answers.Await(100));
    for (size_t i = 0; i < 100; ++i) ASSERT_TRUE(answers.at(i).ok()) << answers.at(i).status();
  }
  std::unique_ptr<RocksDbEngine> engine = MustOpen(tmp.Sub("db"));
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->Size(), 10u);
  for (size_t k = 0; k < 10; ++k) {
    EXPECT_EQ(MustRead(*engine, absl::StrCat("k", k))->value, absl::StrCat("v", 90 + k));
  }
}

TEST(GroupCommitTest, AFailedFsyncFailsEveryWriteThatDependedOnTheBatch) {
  ScopedTempDir tmp;
  DiskFaults faults;
  std::unique_ptr<rocksdb::Env> env = NewFaultInjectionEnv(&faults);
  std::unique_ptr<RocksDbEngine> engine =
      MustOpen(tmp.Sub("db"), {.sync = SyncPolicy::kAlways, .env = env.get()});
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(*engine->Apply("k", Rec("before", 1)));
  ASSERT_TRUE(*engine->Apply("s", Rec("kept", 5)));
  faults.fail_sync = true;
  // The stale write of "k" lost to the batch's write, so it fails with it;
  // the old write of "s" lost to the stored record and keeps its answer.
  std::vector<KeyedRecord> writes = {
      {"k", Rec("during", 2)}, {"k2", Rec("v", 2)}, {"k", Rec("stale", 0)}, {"s", Rec("old", 1)}};
  std::vector<absl::StatusOr<bool>> results = engine->ApplyGroup(writes);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(results[0].status().message()), HasSubstr("writing a group of 2"));
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(results[2].status().code(), absl::StatusCode::kInternal);
  ASSERT_TRUE(results[3].ok()) << results[3].status();
  EXPECT_FALSE(*results[3]);
  EXPECT_EQ(MustRead(*engine, "k")->value, "before");
  EXPECT_FALSE(MustRead(*engine, "k2").has_value());
}

}  // namespace
}  // namespace kv::storage
