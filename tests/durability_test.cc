// Crash tests on the RocksDB engine: SIGKILL under write load, restart on
// the same data dirs, and check that no acknowledged write was lost.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"

namespace kv::testing {
namespace {

namespace v1 = kvstore::v1;

struct Ack {
  std::string key;
  std::string value;
};

// Writers that put unique keys through random nodes until stopped, recording
// every write the cluster acknowledged. Bounded in count and time.
class WriteLoad {
 public:
  WriteLoad(Cluster* cluster, int threads, v1::Consistency c, int round) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, cluster, t, c, round] {
        std::mt19937 rng(round * 100 + t);
        std::uniform_int_distribution<int> pick(0, cluster->size() - 1);
        const absl::Time deadline = absl::Now() + absl::Seconds(20);
        for (int i = 0; i < 100000 && !stop_.load() && absl::Now() < deadline; ++i) {
          const std::string key = absl::StrCat("r", round, "-t", t, "-", i);
          const std::string value = absl::StrCat("v", i * 31 + t);
          v1::PutRequest req;
          req.set_key(key);
          req.set_value(value);
          req.set_consistency(c);
          v1::PutResponse resp;
          auto ctx = Context(absl::Seconds(2));
          if (cluster->kv(pick(rng)).Put(ctx.get(), req, &resp).ok()) {
            absl::MutexLock l(&mu_);
            acked_.push_back({key, value});
          } else {
            ++failed_;
          }
        }
      });
    }
  }
  ~WriteLoad() { Stop(); }

  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  size_t acked_count() {
    absl::MutexLock l(&mu_);
    return acked_.size();
  }
  std::vector<Ack> acked() {
    absl::MutexLock l(&mu_);
    return acked_;
  }
  int failed() const { return failed_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> failed_{0};
  absl::Mutex mu_;
  std::vector<Ack> acked_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

// Counts acknowledged writes that cannot be read back (at `c`, via node `via`).
int CountLost(Cluster& cluster, const std::vector<Ack>& acked, v1::Consistency c) {
  int lost = 0;
  for (size_t i = 0; i < acked.size(); ++i) {
    v1::GetRequest req;
    req.set_key(acked[i].key);
    req.set_consistency(c);
    v1::GetResponse resp;
    auto ctx = Context();
    grpc::Status s = cluster.kv(static_cast<int>(i % cluster.size())).Get(ctx.get(), req, &resp);
    if (!s.ok() || !resp.found() || resp.value() != acked[i].value) {
      if (lost < 5) {
        ADD_FAILURE() << "acknowledged " << acked[i].key << " lost: " << s.error_message()
                      << " found=" << resp.found();
      }
      ++lost;
    }
  }
  return lost;
}

class DurabilityTest : public ClusterFixture {};

TEST_F(DurabilityTest, SingleNodeKeepsEveryAcknowledgedWriteAcrossSigkill) {
  cluster_ = std::make_unique<Cluster>(Cluster::Options{
      .nodes = 1, .replicas = 1, .extra_args = {"--sync=always"}, .durable = true});
  ASSERT_TRUE(cluster_->Start());
  std::mt19937 rng(2026);
  std::vector<Ack> all;
  for (int round = 0; round < 4; ++round) {
    // 16 writers, so that group commit makes groups of many writes.
    WriteLoad load(cluster_.get(), 16, v1::ONE, round);
    // Kill at a random moment once some writes were acknowledged (the delay
    // picks the kill point; nothing waits on it).
    ASSERT_TRUE(WaitFor([&] { return load.acked_count() >= 20; }, absl::Seconds(20)));
    absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(0, 700)(rng)));
    cluster_->process(0).Signal(SIGKILL);
    load.Stop();
    std::vector<Ack> acked = load.acked();
    all.insert(all.end(), acked.begin(), acked.end());
    ASSERT_TRUE(cluster_->Restart(0, /*join=*/false)) << "round " << round;
    const int lost = CountLost(*cluster_, all, v1::ONE);
    std::cout << "round " << round << ": " << acked.size()
              << " writes acknowledged before the kill, " << load.failed() << " failed or cut off; "
              << all.size() << " acknowledged in all rounds, lost " << lost << "\n";
    ASSERT_EQ(lost, 0) << "round " << round;
  }
}

TEST_F(DurabilityTest, ClusterKilledWholeRestartsWithoutPeerAndKeepsQuorumWrites) {
  cluster_ = std::make_unique<Cluster>(Cluster::Options{
      .nodes = 3, .replicas = 3, .extra_args = {"--sync=always"}, .durable = true});
  ASSERT_TRUE(cluster_->Start());
  // Each node has written its two peers to its data dir.
  for (int i = 0; i < cluster_->size(); ++i) {
    ASSERT_TRUE(
        WaitFor([&] { return cluster_->LogContains(i, "saved 2 contacts"); }, absl::Seconds(10)));
  }
  std::vector<Ack> acked;
  {
    WriteLoad load(cluster_.get(), 4, v1::QUORUM, 0);
    ASSERT_TRUE(WaitFor([&] { return load.acked_count() >= 300; }, absl::Seconds(30)));
    for (int i = 0; i < cluster_->size(); ++i) cluster_->process(i).Signal(SIGKILL);
    load.Stop();
    acked = load.acked();
  }
  // Restart all three with no --peer: they find each other from their data dirs.
  for (int i = 0; i < cluster_->size(); ++i) ASSERT_TRUE(cluster_->Restart(i, /*join=*/false));
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < cluster_->size(); ++i) {
          for (int j = 0; j < cluster_->size(); ++j) {
            if (i != j && !cluster_->SeesPeerIn(i, j, v1::ALIVE)) return false;
          }
        }
        return true;
      },
      absl::Seconds(30)))
      << "restarted nodes did not rejoin each other";
  // A restarted node answers reads once a repair round has reconciled it
  // with its co-owners (pending reads; /readyz waits for the same).
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < cluster_->size(); ++i) {
          if (cluster_->Stats(i)["serving_reads"] != 1) return false;
        }
        return true;
      },
      absl::Seconds(30)))
      << "restarted nodes never served reads";
  const int lost = CountLost(*cluster_, acked, v1::QUORUM);
  std::cout << acked.size() << " QUORUM writes acknowledged before all 3 nodes were killed; lost "
            << lost << "\n";
  EXPECT_EQ(lost, 0);
}

TEST_F(DurabilityTest, SnapshotStartsANodeWithTheSameData) {
  char tmpl[] = "/tmp/kvtest-snap.XXXXXX";
  const std::string base = mkdtemp(tmpl);
  cluster_ = std::make_unique<Cluster>(Cluster::Options{
      .nodes = 1, .replicas = 1, .extra_args = {"--backup-dir=" + base}, .durable = true});
  ASSERT_TRUE(cluster_->Start());
  const std::string addr = "--addr=" + cluster_->address(0);
  // Keys written through gRPC, and a few through kvctl.
  auto value = [](int i) { return i % 50 == 0 ? std::string("x") : absl::StrCat("value-", i); };
  for (int i = 0; i < 200; ++i) {
    const std::string key = absl::StrCat("snap-", i);
    if (i % 50 == 0) {
      CommandResult r = RunCommand(KVCTL_BIN, {addr, "put", key, value(i)});
      ASSERT_EQ(r.exit_code, 0) << r.output;
      continue;
    }
    v1::PutRequest req;
    req.set_key(key);
    req.set_value(value(i));
    v1::PutResponse resp;
    auto ctx = Context();
    ASSERT_TRUE(cluster_->kv(0).Put(ctx.get(), req, &resp).ok()) << key;
  }
  const std::string snap = base + "/snap";
  CommandResult r = RunCommand(KVCTL_BIN, {addr, "snapshot", "snap"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(snap), std::string::npos) << r.output;
  // An existing directory is refused, not overwritten.
  r = RunCommand(KVCTL_BIN, {addr, "snapshot", "snap"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("FAILED_PRECONDITION"), std::string::npos) << r.output;

  // A node started on a copy of the snapshot serves the same data.
  const std::string copy = base + "/copy";
  ASSERT_EQ(RunCommand("/bin/cp", {"-a", snap, copy}).exit_code, 0);
  const std::string restored_addr = absl::StrCat("127.0.0.1:", FreePort());
  NodeProcess restored(KVSTORE_BIN,
                       {"--addr=" + restored_addr, "--replicas=1", "--data-dir=" + copy},
                       base + "/restored.log");
  restored.Start();
  auto stub = kvstore::v1::KV::NewStub(
      grpc::CreateChannel(restored_addr, grpc::InsecureChannelCredentials()));
  for (int i = 0; i < 200; ++i) {
    v1::GetRequest req;
    req.set_key(absl::StrCat("snap-", i));
    v1::GetResponse resp;
    ASSERT_TRUE(WaitFor(
        [&] {
          auto ctx = Context(absl::Seconds(1));
          ctx->set_wait_for_ready(true);
          return stub->Get(ctx.get(), req, &resp).ok();
        },
        absl::Seconds(20)))
        << req.key();
    ASSERT_TRUE(resp.found()) << req.key();
    EXPECT_EQ(resp.value(), value(i));
  }
  stub.reset();
  restored.Signal(SIGTERM);
  EXPECT_EQ(restored.Wait(absl::Seconds(15)), 0);
  RunCommand("/bin/rm", {"-rf", base});
}

TEST_F(DurabilityTest, SnapshotOfAMemoryNodeIsRefused) {
  cluster_ = std::make_unique<Cluster>(Cluster::Options{.nodes = 1, .replicas = 1});
  ASSERT_TRUE(cluster_->Start());
  CommandResult r =
      RunCommand(KVCTL_BIN, {"--addr=" + cluster_->address(0), "snapshot", "never-made"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--data-dir"), std::string::npos) << r.output;
}

// Before --backup-dir, a caller chose any path on the node's filesystem, and
// a checkpoint that failed there latched the write error: every write was
// refused until a restart.
TEST_F(DurabilityTest, SnapshotNamesStayInTheBackupDirAndFailuresLeaveWritesWorking) {
  char tmpl[] = "/tmp/kvtest-backup.XXXXXX";
  const std::string base = mkdtemp(tmpl);
  const std::string backups = base + "/backups";
  cluster_ = std::make_unique<Cluster>(Cluster::Options{
      .nodes = 1, .replicas = 1, .extra_args = {"--backup-dir=" + backups}, .durable = true});
  ASSERT_TRUE(cluster_->Start());
  const std::string addr = "--addr=" + cluster_->address(0);
  for (const std::string bad : {"../escape", "a/b", "..", "/tmp/abs", "x\\y"}) {
    CommandResult r = RunCommand(KVCTL_BIN, {addr, "snapshot", bad});
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_NE(r.output.find("INVALID_ARGUMENT"), std::string::npos) << bad << ": " << r.output;
    ASSERT_TRUE(cluster_->Put(0, "after-" + bad, "v").ok()) << bad;
  }
  EXPECT_FALSE(std::filesystem::exists(base + "/escape"));
  // The backup dir vanished under the node: the checkpoint fails, writes go on.
  ASSERT_EQ(RunCommand("/bin/rm", {"-rf", backups}).exit_code, 0);
  CommandResult r = RunCommand(KVCTL_BIN, {addr, "snapshot", "lost"});
  EXPECT_NE(r.exit_code, 0) << r.output;
  for (int i = 0; i < 20; ++i) {
    grpc::Status s = cluster_->Put(0, absl::StrCat("after-failed-", i), "v");
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // A memory node refuses --backup-dir outright.
  CommandResult bad_flags =
      RunCommand(KVSTORE_BIN, {"--addr=127.0.0.1:1", "--backup-dir=" + backups});
  EXPECT_EQ(bad_flags.exit_code, 2) << bad_flags.output;
  EXPECT_NE(bad_flags.output.find("--backup-dir needs --data-dir"), std::string::npos)
      << bad_flags.output;
  RunCommand("/bin/rm", {"-rf", base});
}

}  // namespace
}  // namespace kv::testing
