// What an outsider with network access to one node's port could do before
// the hardening of issue 15, one test per attack: each fails on a node
// without the fix. Plaintext clusters on 127.0.0.1.
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"

namespace kv::testing {
namespace {

namespace v1 = kvstore::v1;

// An HLC timestamp ((unix ms << 16) | logical) `ahead` from now.
uint64_t HlcAhead(absl::Duration ahead) {
  return static_cast<uint64_t>(absl::ToUnixMillis(absl::Now() + ahead)) << 16;
}

// Sends a Peer.Store of `key` = `value` with the given version to node `i`,
// as an outsider would. The sender claims to be node `i` itself, so that
// the store's only effect is the record's.
grpc::Status ForgedStore(Cluster& cluster, int i, const std::string& key, const std::string& value,
                         uint64_t timestamp, const std::string& node_id) {
  v1::StoreRequest req;
  req.mutable_from()->set_id(cluster.id(i));
  req.mutable_from()->set_address(cluster.address(i));
  req.set_key(key);
  req.mutable_record()->set_value(value);
  req.mutable_record()->mutable_version()->set_timestamp(timestamp);
  req.mutable_record()->mutable_version()->set_node_id(node_id);
  v1::StoreResponse resp;
  auto ctx = Context();
  return cluster.peer(i).Store(ctx.get(), req, &resp);
}

std::string GetValue(Cluster& cluster, int i, const std::string& key,
                     v1::Consistency c = v1::QUORUM) {
  v1::GetResponse resp;
  grpc::Status s = cluster.Get(i, key, &resp, c);
  if (!s.ok()) return "<error: " + s.error_message() + ">";
  return resp.found() ? resp.value() : "<not found>";
}

class HardeningTest : public ClusterFixture {};

TEST_F(HardeningTest, VersionsFromTheFutureAreRefusedAndTheNextRealWriteWins) {
  cluster_ = std::make_unique<Cluster>(Cluster::Options{.nodes = 1, .replicas = 1});
  ASSERT_TRUE(cluster_->Start());
  const std::string forger(40, 'f');
  const uint64_t hour_ahead_ms = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now())) + 3'600'000;
  // One hour ahead in the HLC encoding and as plain unix nanoseconds (read
  // as an HLC, centuries ahead), and the largest timestamp there is.
  for (uint64_t ts : {HlcAhead(absl::Hours(1)), hour_ahead_ms * 1'000'000,
                      std::numeric_limits<uint64_t>::max()}) {
    grpc::Status s = ForgedStore(*cluster_, 0, "pk", "forged", ts, forger);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << ts;
    EXPECT_NE(s.error_message().find("ms ahead of this node's clock"), std::string::npos)
        << s.error_message();
  }
  // One hour ahead as plain unix milliseconds reads as an HLC time in 1970:
  // admitted, and it loses to any real write.
  EXPECT_TRUE(ForgedStore(*cluster_, 0, "pk", "forged", hour_ahead_ms, forger).ok());
  ASSERT_TRUE(cluster_->Put(0, "pk", "real").ok());
  EXPECT_EQ(GetValue(*cluster_, 0, "pk"), "real");
  EXPECT_TRUE(cluster_->LogContains(0, "refused a record from " + cluster_->address(0)));
}

TEST_F(HardeningTest, ASaturatedTimestampCannotFreezeAKeyAcrossTheCluster) {
  cluster_ = std::make_unique<Cluster>(Cluster::Options{.nodes = 3, .replicas = 3});
  ASSERT_TRUE(cluster_->Start());
  EXPECT_EQ(ForgedStore(*cluster_, 0, "k", "forged", std::numeric_limits<uint64_t>::max(),
                        std::string(40, 'f'))
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(cluster_->Put(0, "k", "one").ok());
  ASSERT_TRUE(cluster_->Put(0, "k", "two").ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(GetValue(*cluster_, i, "k", v1::ALL), "two") << i;
  ASSERT_TRUE(cluster_->Delete(1, "k").ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(GetValue(*cluster_, i, "k", v1::ALL), "<not found>") << i;
}

TEST_F(HardeningTest, AVersionNodeIdMustBeFortyLowercaseHex) {
  cluster_ = std::make_unique<Cluster>(Cluster::Options{.nodes = 1, .replicas = 1});
  ASSERT_TRUE(cluster_->Start());
  const uint64_t now = HlcAhead(absl::ZeroDuration());
  // 5 MiB: before the check, 20 of these grew the node by over 200 MiB
  // beyond --max-memory-bytes.
  for (const std::string& id : {std::string(5 << 20, 'a'), std::string(40, 'A'), std::string()}) {
    grpc::Status s = ForgedStore(*cluster_, 0, "nid", "v", now, id);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << id.size();
    EXPECT_NE(s.error_message().find("40 lowercase hex"), std::string::npos) << s.error_message();
  }
  EXPECT_EQ(GetValue(*cluster_, 0, "nid"), "<not found>");
}

// 40 hex characters, different for each `i`.
std::string InventedId(int i) {
  return absl::StrCat(absl::Hex(i, absl::kZeroPad8), std::string(32, 'd'));
}

TEST_F(HardeningTest, InventedSendersNeverEnterTheRoutingTable) {
  cluster_ = std::make_unique<Cluster>(
      Cluster::Options{.nodes = 3, .replicas = 2, .initially_running = 2});
  ASSERT_TRUE(cluster_->Start());
  const std::map<std::string, std::string> before = cluster_->PeerAddresses(0);
  ASSERT_EQ(before.size(), 1u);
  // A port nobody listens on: no ping to it is answered.
  const std::string nowhere = absl::StrCat("127.0.0.1:", FreePort());
  // Heartbeats, pings and FIND_NODE requests from 300 invented senders.
  {
    auto ctx = Context(absl::Seconds(30));
    auto stream = cluster_->kv(0).Heartbeat(ctx.get());
    for (int i = 0; i < 100; ++i) {
      v1::HeartbeatMessage beat;
      beat.mutable_from()->set_id(InventedId(i));
      beat.mutable_from()->set_address(nowhere);
      beat.set_sequence(i);
      ASSERT_TRUE(stream->Write(beat)) << i;
    }
    stream->WritesDone();
    v1::HeartbeatMessage answer;
    while (stream->Read(&answer)) {
    }
    stream->Finish();
  }
  for (int i = 100; i < 200; ++i) {
    v1::PingRequest req;
    req.mutable_from()->set_id(InventedId(i));
    req.mutable_from()->set_address(nowhere);
    v1::PingResponse resp;
    auto ctx = Context();
    ASSERT_TRUE(cluster_->kv(0).Ping(ctx.get(), req, &resp).ok()) << i;
  }
  for (int i = 200; i < 300; ++i) {
    v1::FindNodeRequest req;
    req.mutable_from()->set_id(InventedId(i));
    req.mutable_from()->set_address(nowhere);
    req.set_target(InventedId(i));
    v1::FindNodeResponse resp;
    auto ctx = Context();
    ASSERT_TRUE(cluster_->peer(0).FindNode(ctx.get(), req, &resp).ok()) << i;
  }
  // A known ID claimed at another address: node 1's address is kept.
  v1::PingRequest hijack;
  hijack.mutable_from()->set_id(cluster_->id(1));
  hijack.mutable_from()->set_address(nowhere);
  v1::PingResponse pong;
  auto ctx = Context();
  ASSERT_TRUE(cluster_->kv(0).Ping(ctx.get(), hijack, &pong).ok());
  // A real node still gets in (its verification ping is answered), and
  // only it: by the time it is in, the pings to `nowhere` were refused long
  // ago (loopback refuses a closed port at once).
  ASSERT_TRUE(cluster_->StartNode(2));
  ASSERT_TRUE(WaitFor([&] { return cluster_->PeerAddresses(0).size() >= 2; }, absl::Seconds(30)));
  std::map<std::string, std::string> want = before;
  want[cluster_->id(2)] = cluster_->address(2);
  EXPECT_EQ(cluster_->PeerAddresses(0), want);
}

// libfaketime, and the futex shim the chaos suite preloads with it
// (tests/chaos/futex_realtime.c) so that abseil's timed waits keep their
// length under a shifted CLOCK_REALTIME.
constexpr char kFaketimeLib[] = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

// Why a libfaketime test cannot run in this build, or "" when it can. ASan
// must come first among preloaded libraries, and libfaketime must be
// preloaded; the release build (make test) runs these tests.
std::string FaketimeUnusable() {
#if defined(__SANITIZE_ADDRESS__)
  return "libfaketime cannot be preloaded ahead of ASan's runtime; make test runs this test";
#else
  if (!std::filesystem::exists(kFaketimeLib)) return std::string(kFaketimeLib) + " is missing";
  return "";
#endif
}

// Writes `text` ("+2s", "+0s") to `path` in one rename, as libfaketime reads it.
void WriteSkew(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << text << "\n";
  }
  std::filesystem::rename(tmp, path);
}

// A wall clock for one node that the test moves: libfaketime reads the
// offset from `skew_file` ("+0s" at first), with the futex shim built into a
// temp dir. `env` is the node's Cluster::Options::env entry.
struct MovableClock {
  std::string dir;
  std::string skew_file;
  std::vector<std::string> env;
};

// Builds a MovableClock named after `name`; with `reread_each_second` the
// node picks up a new offset within a second, else at its next start. False
// (with a test failure) when the shim does not build.
bool MakeMovableClock(const std::string& name, bool reread_each_second, MovableClock* clock) {
  std::string tmpl = "/tmp/kvtest-" + name + ".XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp(" << tmpl << ") failed";
    return false;
  }
  clock->dir = tmpl;
  const std::string shim = clock->dir + "/futex_realtime.so";
  CommandResult cc =
      RunCommand("/usr/bin/cc", {"-O2", "-shared", "-fPIC", "-o", shim, FUTEX_SHIM_SRC, "-ldl"});
  if (cc.exit_code != 0) {
    ADD_FAILURE() << "building the futex shim: " << cc.output;
    return false;
  }
  clock->skew_file = clock->dir + "/skew";
  WriteSkew(clock->skew_file, "+0s");
  clock->env = {absl::StrCat("LD_PRELOAD=", kFaketimeLib, " ", shim),
                "FAKETIME_TIMESTAMP_FILE=" + clock->skew_file, "FAKETIME_DONT_FAKE_MONOTONIC=1"};
  if (reread_each_second) clock->env.push_back("FAKETIME_CACHE_DURATION=1");
  return true;
}

TEST_F(HardeningTest, ANodeWhoseClockIsOffFromItsPeersRefusesWritesUntilItIsBack) {
  if (std::string why = FaketimeUnusable(); !why.empty()) GTEST_SKIP() << "SKIPPED: " << why;
  MovableClock clock;
  ASSERT_TRUE(MakeMovableClock("skew", /*reread_each_second=*/true, &clock));
  const std::string& skew_file = clock.skew_file;
  // Node 2's wall clock follows skew_file, re-read every second.
  cluster_ = std::make_unique<Cluster>(
      Cluster::Options{.nodes = 3, .replicas = 3, .env = {{2, clock.env}}});
  ASSERT_TRUE(cluster_->Start());
  ASSERT_TRUE(cluster_->Put(2, "before", "v").ok());

  WriteSkew(skew_file, "+2s");
  grpc::Status refused;
  ASSERT_TRUE(WaitFor(
      [&] {
        refused = cluster_->Put(2, "during", "v");
        // The peers refuse its replica writes at once (versions 2 s ahead);
        // wait for the node's own fence.
        return refused.error_code() == grpc::StatusCode::UNAVAILABLE &&
               refused.error_message().find("refuses writes until its clock") != std::string::npos;
      },
      absl::Seconds(30)))
      << refused.error_message();
  EXPECT_NE(refused.error_message().find("ahead of 2 of 2 peers"), std::string::npos)
      << refused.error_message();
  EXPECT_TRUE(cluster_->LogContains(2, "refusing writes until this node's clock agrees"));
  // The others still take writes, and node 2 still serves reads.
  EXPECT_TRUE(cluster_->Put(0, "during", "v0").ok());
  EXPECT_EQ(GetValue(*cluster_, 2, "before"), "v");
  CommandResult ping = RunCommand(KVCTL_BIN, {"--addr=" + cluster_->address(2), "ping"});
  EXPECT_NE(ping.output.find("the node refuses writes"), std::string::npos) << ping.output;

  WriteSkew(skew_file, "+0s");
  grpc::Status back;
  ASSERT_TRUE(WaitFor(
      [&] {
        back = cluster_->Put(2, "after", "v");
        return back.ok();
      },
      absl::Seconds(60)))
      << back.error_message();
  EXPECT_TRUE(cluster_->LogContains(2, "accepting writes again"));
  RunCommand("/bin/rm", {"-rf", clock.dir});
}

TEST_F(HardeningTest, ARestartWithTheClockSetBackIssuesVersionsAboveEveryEarlierOne) {
  if (std::string why = FaketimeUnusable(); !why.empty()) GTEST_SKIP() << "SKIPPED: " << why;
  MovableClock clock;
  ASSERT_TRUE(MakeMovableClock("setback", /*reread_each_second=*/false, &clock));
  const std::string& skew_file = clock.skew_file;
  cluster_ = std::make_unique<Cluster>(
      Cluster::Options{.nodes = 1, .replicas = 1, .durable = true, .env = {{0, clock.env}}});
  ASSERT_TRUE(cluster_->Start());
  uint64_t highest = 0;
  for (int i = 0; i < 50; ++i) {
    v1::PutRequest req;
    req.set_key(absl::StrCat("k", i));
    req.set_value("before");
    v1::PutResponse resp;
    auto ctx = Context();
    ASSERT_TRUE(cluster_->kv(0).Put(ctx.get(), req, &resp).ok()) << i;
    highest = std::max(highest, resp.version().timestamp());
  }
  // The node comes back with its clock 10 s behind.
  WriteSkew(skew_file, "-10s");
  ASSERT_TRUE(cluster_->Restart(0, /*join=*/false));
  v1::PutRequest req;
  req.set_key("k0");
  req.set_value("after");
  v1::PutResponse resp;
  auto ctx = Context();
  ASSERT_TRUE(cluster_->kv(0).Put(ctx.get(), req, &resp).ok());
  EXPECT_GT(resp.version().timestamp(), highest);
  EXPECT_EQ(GetValue(*cluster_, 0, "k0"), "after");
  RunCommand("/bin/rm", {"-rf", clock.dir});
}

// Writes `n` keys "<prefix><i>" at ALL through node 0; the keys.
std::vector<std::string> WriteKeys(Cluster& cluster, const std::string& prefix, int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) {
    keys.push_back(absl::StrCat(prefix, i));
    EXPECT_TRUE(cluster.Put(0, keys.back(), "v", v1::ALL).ok()) << keys.back();
  }
  return keys;
}

TEST_F(HardeningTest, TheLastNodeCannotLeaveWithTheOnlyCopiesUnlessForced) {
  cluster_ = std::make_unique<Cluster>(Cluster::Options{.nodes = 2, .replicas = 2});
  ASSERT_TRUE(cluster_->Start());
  const std::vector<std::string> keys = WriteKeys(*cluster_, "last-", 50);
  CommandResult first =
      RunCommand(KVCTL_BIN, {"--addr=" + cluster_->address(1), "leave"}, absl::Seconds(60));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_EQ(cluster_->process(1).Wait(absl::Seconds(30)), 0);

  // Node 0 now holds the only copies: its leave cannot hand them to anyone.
  CommandResult last =
      RunCommand(KVCTL_BIN, {"--addr=" + cluster_->address(0), "leave"}, absl::Seconds(60));
  EXPECT_EQ(last.exit_code, 4) << last.output;
  EXPECT_NE(last.output.find("50 keys were not handed off"), std::string::npos) << last.output;
  EXPECT_NE(last.output.find("stays in the cluster"), std::string::npos) << last.output;
  // It keeps serving, with every key.
  for (const std::string& k : keys) EXPECT_EQ(GetValue(*cluster_, 0, k, v1::ONE), "v") << k;
  // ONE: the departed node still counts toward N=2 in node 0's view.
  ASSERT_TRUE(cluster_->Put(0, "still-writable", "yes", v1::ONE).ok());

  CommandResult forced = RunCommand(
      KVCTL_BIN, {"--addr=" + cluster_->address(0), "leave", "--force"}, absl::Seconds(60));
  EXPECT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_NE(forced.output.find("left the cluster (--force)"), std::string::npos) << forced.output;
  EXPECT_EQ(cluster_->process(0).Wait(absl::Seconds(30)), 0);
}

TEST_F(HardeningTest, LeavesSentToEveryNodeAtOnceLoseNoKey) {
  cluster_ = std::make_unique<Cluster>(Cluster::Options{.nodes = 3, .replicas = 3});
  ASSERT_TRUE(cluster_->Start());
  const std::vector<std::string> keys = WriteKeys(*cluster_, "all-", 100);
  std::vector<std::thread> leaves;
  std::vector<CommandResult> results(3);
  for (int i = 0; i < 3; ++i) {
    leaves.emplace_back([&, i] {
      results[i] =
          RunCommand(KVCTL_BIN, {"--addr=" + cluster_->address(i), "leave"}, absl::Seconds(120));
    });
  }
  for (std::thread& t : leaves) t.join();
  int stayed = 0;
  for (int i = 0; i < 3; ++i) {
    const int code = results[i].exit_code;
    EXPECT_TRUE(code == 0 || code == 4) << i << ": " << results[i].output;
    if (code == 0) {
      EXPECT_EQ(cluster_->process(i).Wait(absl::Seconds(30)), 0) << i;
    } else if (code == 4) {
      ++stayed;
    }
  }
  EXPECT_GE(stayed, 1) << "every node left, so every key is gone";
  int lost = 0;
  for (const std::string& k : keys) lost += cluster_->Holders(k).empty() ? 1 : 0;
  EXPECT_EQ(lost, 0) << "keys held by no running node";
}

}  // namespace
}  // namespace kv::testing
