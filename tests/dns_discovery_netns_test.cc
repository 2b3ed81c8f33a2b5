// --discover dns:NAME:PORT end to end, the way a StatefulSet's headless
// Service works: inside a network namespace of our own, /etc/netns/NS/hosts
// (which `ip netns exec` mounts over /etc/hosts) maps one name to three
// loopback addresses, and three nodes started with only that name find each
// other. Needs root (skipped otherwise).
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"

namespace kv::testing {
namespace {

constexpr char kIp[] = "/usr/sbin/ip";
constexpr char kName[] = "kvstore-headless.test";

class DnsDiscoveryNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "SKIPPED: needs root to create a network namespace";
    ns_ = absl::StrCat("kvdns", getpid());
    CommandResult add = RunCommand(kIp, {"netns", "add", ns_});
    if (add.exit_code != 0) {
      GTEST_SKIP() << "SKIPPED: cannot create a network namespace: " << add.output;
    }
    created_ = true;
    ASSERT_EQ(RunCommand(kIp, {"netns", "exec", ns_, kIp, "link", "set", "lo", "up"}).exit_code, 0);
    hosts_dir_ = "/etc/netns/" + ns_;
    std::filesystem::create_directories(hosts_dir_);
    std::ofstream hosts(hosts_dir_ + "/hosts");
    hosts << "127.0.0.1 localhost\n";
    for (int i = 0; i < 3; ++i) hosts << Ip(i) << " " << kName << "\n";
    char dir[] = "/tmp/kvtest-dns.XXXXXX";
    log_dir_ = mkdtemp(dir);
  }
  void TearDown() override {
    for (auto& n : nodes_) {
      n->Signal(SIGTERM);
      EXPECT_EQ(n->Wait(absl::Seconds(20)), 0) << n->log_path();
    }
    if (HasFailure()) {
      for (auto& n : nodes_) {
        std::ifstream in(n->log_path());
        std::cerr << "==== " << n->log_path() << "\n" << in.rdbuf() << "\n";
      }
    }
    nodes_.clear();
    if (created_) RunCommand(kIp, {"netns", "del", ns_});
    if (!hosts_dir_.empty()) std::filesystem::remove_all(hosts_dir_);
  }

  static std::string Ip(int i) { return absl::StrCat("127.0.0.", i + 2); }
  std::string Addr(int i) const { return absl::StrCat(Ip(i), ":", port_); }
  CommandResult Kvctl(std::vector<std::string> args) {
    std::vector<std::string> full = {"netns", "exec", ns_, KVCTL_BIN};
    full.insert(full.end(), args.begin(), args.end());
    return RunCommand(kIp, full);
  }

  std::string ns_;
  bool created_ = false;
  std::string hosts_dir_;
  std::string log_dir_;
  const int port_ = FreePort();
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
};

TEST_F(DnsDiscoveryNetnsTest, NodesFindEachOtherThroughOneName) {
  for (int i = 0; i < 3; ++i) {
    nodes_.push_back(std::make_unique<NodeProcess>(
        kIp,
        std::vector<std::string>{"netns", "exec", ns_, KVSTORE_BIN, "--addr=" + Addr(i),
                                 absl::StrCat("--discover=dns:", kName, ":", port_),
                                 "--heartbeat-interval=200ms", "--failure-timeout=2s"},
        absl::StrCat(log_dir_, "/node", i, ".log")));
    nodes_.back()->Start();
  }
  // Every node lists the two others as alive, found by the name alone.
  for (int i = 0; i < 3; ++i) {
    std::string last;
    EXPECT_TRUE(WaitFor(
        [&] {
          CommandResult r = Kvctl({"peers", "--addr=" + Addr(i)});
          last = r.output;
          int alive = 0;
          for (absl::string_view line : absl::StrSplit(r.output, '\n')) {
            alive += absl::StrContains(line, " alive ");
          }
          return r.exit_code == 0 && alive == 2;
        },
        absl::Seconds(30)))
        << "node " << i << " peers:\n"
        << last;
  }
  // And they serve as one cluster, once node 0 has measured a peer's clock:
  // it found no seed at start, so only a heartbeat exchange lifts its write
  // fence, which may come a beat after the peers are alive.
  CommandResult put;
  ASSERT_TRUE(WaitFor(
      [&] {
        put = Kvctl({"put", "greeting", "hello", "--addr=" + Addr(0)});
        return put.exit_code == 0;
      },
      absl::Seconds(10)))
      << put.output;
  for (int i = 0; i < 3; ++i) {
    CommandResult get = Kvctl({"get", "greeting", "--addr=" + Addr(i)});
    EXPECT_EQ(get.exit_code, 0) << get.output;
    EXPECT_TRUE(absl::StrContains(get.output, "hello")) << get.output;
  }
}

}  // namespace
}  // namespace kv::testing
