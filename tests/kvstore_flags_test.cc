// The kvstore binary's command line: --help, --version, and flags it
// refuses with exit code 2 and one line saying why. Each run exits before it
// serves anything.
#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/cluster.h"

namespace kv::testing {
namespace {

TEST(KvstoreFlagsTest, HelpListsEveryFlagAndVersionPrints) {
  CommandResult r = RunCommand(KVSTORE_BIN, {"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* flag : {"--addr",
                           "--advertise",
                           "--peer",
                           "--replicas",
                           "--k",
                           "--alpha",
                           "--heartbeat-interval",
                           "--failure-timeout",
                           "--max-key-bytes",
                           "--max-value-bytes",
                           "--log-level",
                           "--version",
                           "--dead-after",
                           "--anti-entropy-interval",
                           "--tombstone-grace",
                           "--max-hints-bytes",
                           "--leave-on-shutdown",
                           "--enable-test-hooks",
                           "--max-clock-offset",
                           "--backup-dir",
                           "--admin-from"}) {
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag << " missing from --help";
  }
  r = RunCommand(KVSTORE_BIN, {"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("kvstore"), std::string::npos);
}

// Byte flags take units: "64MiB" used to fail with "Could not convert".
TEST(KvstoreFlagsTest, ByteFlagsTakeUnits) {
  // --addr=bad fails after the flags parsed, so each run exits at once.
  for (const char* flag : {"--max-hints-bytes=64MiB", "--max-value-bytes=1MiB",
                           "--max-key-bytes=1KiB", "--max-memory-bytes=2GiB"}) {
    CommandResult r = RunCommand(KVSTORE_BIN, {flag, "--addr=bad"});
    EXPECT_EQ(r.exit_code, 2) << flag << ": " << r.output;
    EXPECT_NE(r.output.find("--addr"), std::string::npos) << flag << ": " << r.output;
  }
}

TEST(KvstoreFlagsTest, BadFlagsExitTwoWithOneLineReason) {
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  std::vector<Case> cases = {
      {{"--no-such-flag"}, "no-such-flag"},
      {{"--heartbeat-interval=5"}, "--heartbeat-interval"},
      {{"--failure-timeout=soon"}, "--failure-timeout"},
      {{"--replicas=0"}, "--replicas"},
      {{"--addr=localhost"}, "--addr"},
      {{"--peer=nohost"}, "--peer"},
      {{"--node-id=xyz"}, "--node-id"},
      {{"--heartbeat-interval=2s", "--failure-timeout=1s"}, "--failure-timeout"},
      // A replica that missed a delete must get the tombstone before it is purged.
      {{"--anti-entropy-interval=1m", "--tombstone-grace=90s"}, "--tombstone-grace"},
      {{"--dead-after=1h", "--tombstone-grace=30m"}, "--dead-after"},
      {{"--anti-entropy-interval=0s"}, "--anti-entropy-interval"},
      {{"--dead-after=soon"}, "--dead-after"},
      {{"--max-hints-bytes=64parsecs"}, "--max-hints-bytes"},
      {{"--max-key-bytes=1MiB"}, "--max-key-bytes"},  // over 65,535
      {{"--max-clock-offset=half"}, "--max-clock-offset"},
      {{"--admin-from=10.0.0.0/40"}, "--admin-from"},
  };
  for (const Case& c : cases) {
    CommandResult r = RunCommand(KVSTORE_BIN, c.args);
    EXPECT_EQ(r.exit_code, 2) << c.expected << ": " << r.output;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
}

}  // namespace
}  // namespace kv::testing
