// Who may change a node's state, end to end: a node in a network namespace
// of our own, reached over a veth pair from the root namespace (10.214.0.1
// -> 10.214.0.2), refuses Leave, Snapshot and DropKeys from there unless
// started with --admin-from, and takes them over its own loopback. Needs
// root (skipped otherwise).
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"

namespace kv::testing {
namespace {

constexpr char kIp[] = "/usr/sbin/ip";
constexpr char kHostIp[] = "10.214.0.1";
constexpr char kNodeIp[] = "10.214.0.2";

class AdminNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "SKIPPED: needs root to create a network namespace";
    ns_ = absl::StrCat("kvadm", getpid());
    veth_ = absl::StrCat("kva", getpid() % 100000);
    CommandResult add = RunCommand(kIp, {"netns", "add", ns_});
    if (add.exit_code != 0) {
      GTEST_SKIP() << "SKIPPED: cannot create a network namespace: " << add.output;
    }
    created_ = true;
    const std::string inner = veth_ + "n";
    for (const std::vector<std::string>& cmd : std::vector<std::vector<std::string>>{
             {"link", "add", veth_, "type", "veth", "peer", "name", inner},
             {"link", "set", inner, "netns", ns_},
             {"addr", "add", absl::StrCat(kHostIp, "/24"), "dev", veth_},
             {"link", "set", veth_, "up"},
             {"netns", "exec", ns_, kIp, "addr", "add", absl::StrCat(kNodeIp, "/24"), "dev", inner},
             {"netns", "exec", ns_, kIp, "link", "set", inner, "up"},
             {"netns", "exec", ns_, kIp, "link", "set", "lo", "up"}}) {
      CommandResult r = RunCommand(kIp, cmd);
      ASSERT_EQ(r.exit_code, 0) << absl::StrJoin(cmd, " ") << ": " << r.output;
    }
    char dir[] = "/tmp/kvtest-admin.XXXXXX";
    log_dir_ = mkdtemp(dir);
  }
  void TearDown() override {
    if (node_) {
      node_->Signal(SIGTERM);
      EXPECT_EQ(node_->Wait(absl::Seconds(20)), 0) << node_->log_path();
      if (HasFailure()) {
        std::ifstream in(node_->log_path());
        std::cerr << "==== " << node_->log_path() << "\n" << in.rdbuf() << "\n";
      }
    }
    if (created_) {
      RunCommand(kIp, {"link", "del", veth_});  // also removes the namespace's end
      RunCommand(kIp, {"netns", "del", ns_});
    }
  }

  // Starts the node in the namespace, on every address of it, with `flags`.
  void StartNode(std::vector<std::string> flags) {
    std::vector<std::string> args = {"netns",
                                     "exec",
                                     ns_,
                                     KVSTORE_BIN,
                                     absl::StrCat("--addr=0.0.0.0:", port_),
                                     absl::StrCat("--advertise=", kNodeIp, ":", port_)};
    args.insert(args.end(), flags.begin(), flags.end());
    node_ = std::make_unique<NodeProcess>(kIp, args, log_dir_ + "/node.log");
    node_->Start();
    ASSERT_TRUE(WaitFor([&] { return FromHost({"ping"}).exit_code == 0; }, absl::Seconds(30)));
  }
  // kvctl in the root namespace, to the node's veth address.
  CommandResult FromHost(std::vector<std::string> args) {
    args.insert(args.begin(), absl::StrCat("--addr=", kNodeIp, ":", port_));
    return RunCommand(KVCTL_BIN, args);
  }
  // kvctl inside the node's namespace, over its loopback.
  CommandResult FromNodeLoopback(std::vector<std::string> args) {
    std::vector<std::string> full = {"netns", "exec", ns_, KVCTL_BIN,
                                     absl::StrCat("--addr=127.0.0.1:", port_)};
    full.insert(full.end(), args.begin(), args.end());
    return RunCommand(kIp, full);
  }

  std::string ns_, veth_, log_dir_;
  bool created_ = false;
  const int port_ = FreePort();
  std::unique_ptr<NodeProcess> node_;
};

TEST_F(AdminNetnsTest, StateChangingCallsFromAnotherHostAreDeniedReadOnlyOnesServed) {
  StartNode({"--enable-test-hooks"});
  for (const std::vector<std::string>& cmd :
       std::vector<std::vector<std::string>>{{"leave"}, {"snapshot", "s1"}, {"drop-keys"}}) {
    CommandResult r = FromHost(cmd);
    EXPECT_NE(r.exit_code, 0) << cmd[0] << ": " << r.output;
    EXPECT_NE(r.output.find("PERMISSION_DENIED"), std::string::npos) << cmd[0] << ": " << r.output;
    EXPECT_NE(r.output.find(kHostIp), std::string::npos) << cmd[0] << ": " << r.output;
    EXPECT_NE(r.output.find("--admin-from"), std::string::npos) << cmd[0] << ": " << r.output;
  }
  EXPECT_EQ(FromHost({"stats"}).exit_code, 0);
  EXPECT_EQ(FromHost({"peers"}).exit_code, 0);
  EXPECT_EQ(FromHost({"locate", "k"}).exit_code, 0);
  // The node's own loopback may: drop-keys runs (a memory node refuses only
  // a snapshot, for lack of a data dir, after the access check).
  CommandResult drop = FromNodeLoopback({"drop-keys"});
  EXPECT_EQ(drop.exit_code, 0) << drop.output;
  CommandResult snap = FromNodeLoopback({"snapshot", "s1"});
  EXPECT_NE(snap.output.find("FAILED_PRECONDITION"), std::string::npos) << snap.output;
}

TEST_F(AdminNetnsTest, AdminFromLetsTheNamedPrefixIn) {
  StartNode({"--enable-test-hooks", "--admin-from=10.214.0.0/30"});
  CommandResult drop = FromHost({"drop-keys"});
  EXPECT_EQ(drop.exit_code, 0) << drop.output;
}

TEST_F(AdminNetnsTest, ABadAdminFromIsRefusedAtStart) {
  CommandResult r = RunCommand(KVSTORE_BIN, {"--addr=127.0.0.1:1", "--admin-from=10.0.0.0/33"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--admin-from"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace kv::testing
