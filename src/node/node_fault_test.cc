// Disk faults seen through the node: a Node on a RocksDbEngine whose
// write-ahead log fails on demand (src/storage/testing/fault_env.h). A Put
// that the disk refuses fails with an error that says what happened, reads
// keep working, and no acknowledged write is lost across a restart.
#include <rocksdb/env.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/node/node.h"
#include "src/replication/peer_transport.h"
#include "src/storage/rocksdb_engine.h"
#include "src/storage/testing/fault_env.h"
#include "src/util/clock.h"
#include "src/util/thread_pool.h"

namespace kv::node {
namespace {

using ::testing::HasSubstr;

// A node alone in its cluster: every peer call fails at once.
class NoPeersTransport final : public replication::PeerTransport {
 public:
  void Store(const dht::Contact&, const std::string&, const storage::Record&,
             StoreCallback done) override {
    done(Unreachable());
  }
  void Fetch(const dht::Contact&, const std::string&, FetchCallback done) override {
    done(Unreachable());
  }
  void FindNode(const dht::Contact&, const dht::NodeId&, FindNodeCallback done) override {
    done(Unreachable());
  }
  void Ping(const std::string&, PingCallback done) override { done(Unreachable()); }
  void Join(const std::string&, JoinCallback done) override { done(Unreachable()); }

 private:
  static absl::Status Unreachable() { return absl::UnavailableError("no peers in this test"); }
};

// How long a Put or Get may take before the test gives up on it: far beyond
// a few fsyncs, so only a hang hits it.
constexpr absl::Duration kCallTimeout = absl::Seconds(30);

class NodeFaultTest : public ::testing::Test {
 protected:
  NodeFaultTest() {
    std::string pattern = ::testing::TempDir() + "kv_node_fault_test_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp(" << pattern << ") failed";
    dir_ = pattern;
    std::mt19937_64 rng(7);
    options_.self = {dht::NodeId::Random(rng), "127.0.0.1:1"};
    options_.replicas = 1;
  }
  ~NodeFaultTest() override {
    Close();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Opens the engine in dir_ (on `env`, nullptr for the default) with
  // --sync=always, and a node on it with a storage pool, as kvstore does.
  void Open(rocksdb::Env* env) {
    auto engine = storage::RocksDbEngine::Open(dir_ + "/db",
                                               {.sync = storage::SyncPolicy::kAlways, .env = env});
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
    pool_ = std::make_unique<util::ThreadPool>(4);
    node_ = std::make_unique<Node>(options_, engine_.get(), &transport_,
                                   util::SystemClock::Default(), pool_.get());
  }

  // Stops the node, drains the storage pool and closes the engine: the
  // order kvstore shuts down in.
  void Close() {
    node_.reset();
    if (pool_) pool_->Shutdown();
    pool_.reset();
    engine_.reset();
  }

  absl::Status Put(const std::string& key, const std::string& value) {
    absl::Notification done;
    absl::Status result = absl::DeadlineExceededError("Put did not call back");
    node_->Put({.key = key, .value = value}, [&](absl::StatusOr<replication::WriteResult> r) {
      result = r.status();
      done.Notify();
    });
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(kCallTimeout)) << "Put " << key;
    if (result.ok()) acked_[key] = value;
    return result;
  }

  absl::StatusOr<GetReply> Get(const std::string& key) {
    absl::Notification done;
    absl::StatusOr<GetReply> result = absl::DeadlineExceededError("Get did not call back");
    node_->Get(key, std::nullopt, [&](absl::StatusOr<GetReply> r) {
      result = std::move(r);
      done.Notify();
    });
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(kCallTimeout)) << "Get " << key;
    return result;
  }

  // Every write the node acknowledged reads back with its value.
  void ExpectEveryAcknowledgedWrite() {
    ASSERT_FALSE(acked_.empty());
    for (const auto& [key, value] : acked_) {
      absl::StatusOr<GetReply> got = Get(key);
      ASSERT_TRUE(got.ok()) << key << ": " << got.status();
      EXPECT_TRUE(got->found) << key;
      EXPECT_EQ(got->value, value) << key;
    }
  }

  void PutAcknowledged(const std::string& prefix, int count) {
    for (int i = 0; i < count; ++i) {
      const std::string key = absl::StrCat(prefix, i);
      ASSERT_TRUE(Put(key, absl::StrCat("value of ", key)).ok()) << key;
    }
  }

  std::string dir_;
  NodeOptions options_;
  NoPeersTransport transport_;
  storage::DiskFaults faults_;
  std::unique_ptr<rocksdb::Env> fault_env_ = storage::NewFaultInjectionEnv(&faults_);
  std::unique_ptr<storage::RocksDbEngine> engine_;
  std::unique_ptr<util::ThreadPool> pool_;
  std::unique_ptr<Node> node_;
  std::map<std::string, std::string> acked_;  // every acknowledged Put
};

TEST_F(NodeFaultTest, FailedFsyncFailsPutsUntilRestartReadsWorkAndNoAcknowledgedWriteIsLost) {
  ASSERT_NO_FATAL_FAILURE(Open(fault_env_.get()));
  ASSERT_NO_FATAL_FAILURE(PutAcknowledged("before-", 20));

  faults_.fail_sync = true;
  absl::Status failed = Put("during", "never acknowledged");
  ASSERT_FALSE(failed.ok());
  EXPECT_GT(faults_.syncs_failed.load(), 0);
  EXPECT_THAT(std::string(failed.message()), HasSubstr("writing key \"during\""));
  EXPECT_THAT(std::string(failed.message()), HasSubstr("injected: fsync failed"));
  ASSERT_NO_FATAL_FAILURE(ExpectEveryAcknowledgedWrite());

  // The disk recovers, but RocksDB keeps the error: every write fails with
  // it until the engine is reopened. Reads keep working.
  faults_.fail_sync = false;
  for (int i = 0; i < 3; ++i) {
    absl::Status still = Put(absl::StrCat("after-", i), "x");
    ASSERT_FALSE(still.ok()) << i;
    EXPECT_EQ(still.code(), failed.code()) << still;
    EXPECT_THAT(std::string(still.message()), HasSubstr("injected: fsync failed"));
  }
  ASSERT_NO_FATAL_FAILURE(ExpectEveryAcknowledgedWrite());

  // Restart without faults: every acknowledged write is there, and writes
  // work again.
  Close();
  ASSERT_NO_FATAL_FAILURE(Open(nullptr));
  ASSERT_NO_FATAL_FAILURE(ExpectEveryAcknowledgedWrite());
  ASSERT_NO_FATAL_FAILURE(PutAcknowledged("restarted-", 5));
  ASSERT_NO_FATAL_FAILURE(ExpectEveryAcknowledgedWrite());
}

TEST_F(NodeFaultTest,
       FullDiskFailsPutsWithResourceExhaustedUntilThereIsRoomAndLosesNoAcknowledgedWrite) {
  ASSERT_NO_FATAL_FAILURE(Open(fault_env_.get()));
  ASSERT_NO_FATAL_FAILURE(PutAcknowledged("before-", 20));

  faults_.fail_append = true;
  absl::Status failed = Put("during", "never acknowledged");
  ASSERT_FALSE(failed.ok());
  EXPECT_GT(faults_.appends_failed.load(), 0);
  // The only replica refused for lack of room: RESOURCE_EXHAUSTED, not a
  // quorum problem.
  EXPECT_EQ(failed.code(), absl::StatusCode::kResourceExhausted) << failed;
  EXPECT_THAT(std::string(failed.message()), HasSubstr("writing key \"during\""));
  EXPECT_THAT(std::string(failed.message()), HasSubstr("No space left on device"));
  ASSERT_NO_FATAL_FAILURE(ExpectEveryAcknowledgedWrite());

  // Still full: still refused, by the engine itself (the disk sees no
  // append), and reads still work.
  const int appends_failed = faults_.appends_failed.load();
  absl::Status still = Put("during-2", "x");
  EXPECT_EQ(still.code(), absl::StatusCode::kResourceExhausted) << still;
  EXPECT_EQ(faults_.appends_failed.load(), appends_failed);
  ASSERT_NO_FATAL_FAILURE(ExpectEveryAcknowledgedWrite());

  // Once the disk has room again, the next write makes the engine resume
  // RocksDB (flushing the memtable onto a new WAL): writes resume without a
  // restart. The first ones may still fail before it tries.
  faults_.fail_append = false;
  int attempt = 0;
  const absl::Time deadline = absl::Now() + kCallTimeout;
  absl::Status resumed;
  do {
    resumed = Put(absl::StrCat("resumed-", attempt++), "x");
    if (!resumed.ok()) {
      EXPECT_EQ(resumed.code(), absl::StatusCode::kResourceExhausted) << resumed;
      absl::SleepFor(absl::Milliseconds(50));  // polling interval, not a wait for an outcome
    }
  } while (!resumed.ok() && absl::Now() < deadline);
  ASSERT_TRUE(resumed.ok()) << "writes did not resume after the disk had room: " << resumed;
  ASSERT_NO_FATAL_FAILURE(PutAcknowledged("resumed-more-", 5));

  // Restart on the same files without faults: every acknowledged write is
  // there and the refused ones are not (a failed append leaves nothing to
  // replay).
  Close();
  ASSERT_NO_FATAL_FAILURE(Open(nullptr));
  ASSERT_NO_FATAL_FAILURE(ExpectEveryAcknowledgedWrite());
  for (const char* refused : {"during", "during-2"}) {
    absl::StatusOr<GetReply> got = Get(refused);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_FALSE(got->found) << refused;
  }
  ASSERT_NO_FATAL_FAILURE(PutAcknowledged("restarted-", 5));
  ASSERT_NO_FATAL_FAILURE(ExpectEveryAcknowledgedWrite());
}

// RocksDB 7.8 cannot move off a write-ahead log whose append failed while
// every memtable was empty (as on the first write after Open): recovering
// would leave the errored WAL writer in place and the next write would abort
// the process inside RocksDB. The engine keeps refusing writes instead, says
// a restart is needed, and a restart brings writes back.
TEST_F(NodeFaultTest, FullDiskOnFirstWriteAfterOpenRefusesWritesUntilRestartInsteadOfCrashing) {
  ASSERT_NO_FATAL_FAILURE(Open(fault_env_.get()));
  faults_.fail_append = true;
  absl::Status failed = Put("during", "never acknowledged");
  ASSERT_EQ(failed.code(), absl::StatusCode::kResourceExhausted) << failed;
  const int appends_failed = faults_.appends_failed.load();
  EXPECT_GT(appends_failed, 0);

  faults_.fail_append = false;
  // Several recovery attempts (one per RocksDbEngine::kResumeInterval).
  for (int i = 0; i < 4; ++i) {
    absl::Status refused = Put(absl::StrCat("after-", i), "x");
    EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
    EXPECT_THAT(std::string(refused.message()), HasSubstr("No space left on device"));
    absl::SleepFor(absl::Milliseconds(150));  // lets the next attempt recover, not a wait
  }
  absl::Status refused = Put("after-last", "x");
  EXPECT_THAT(std::string(refused.message()), HasSubstr("restart kvstore"));
  EXPECT_EQ(faults_.appends_failed.load(), appends_failed);  // refused before the disk

  Close();
  ASSERT_NO_FATAL_FAILURE(Open(nullptr));
  absl::StatusOr<GetReply> got = Get("during");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->found);
  ASSERT_NO_FATAL_FAILURE(PutAcknowledged("restarted-", 5));
  ASSERT_NO_FATAL_FAILURE(ExpectEveryAcknowledgedWrite());
}

}  // namespace
}  // namespace kv::node
