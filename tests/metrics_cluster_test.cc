// kvstore --metrics-addr end to end (issue 19): a live 3-node cluster is
// scraped after a small workload, and every scrape must pass
// `promtool check metrics`.

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "src/metrics/testing/http_get.h"
#include "src/metrics/testing/promtool.h"
#include "tests/cluster.h"

namespace kv::testing {
namespace {

using metrics::testing::HttpReply;
using metrics::testing::HttpRequest;

constexpr int kNodes = 3;
constexpr int kKeys = 6;

// The value of the sample `series` (name and labels exactly as rendered), if
// the scrape has it.
std::optional<double> Sample(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, series + " ")) continue;
    double v = 0;
    if (absl::SimpleAtod(line, &v)) return v;
  }
  return std::nullopt;
}

class MetricsClusterTest : public ClusterFixture {
 protected:
  void StartCluster() {
    Cluster::Options options;
    options.nodes = kNodes;
    for (int i = 0; i < kNodes; ++i) {
      ports_.push_back(FreePort());
      options.node_args[i] = {absl::StrCat("--metrics-addr=127.0.0.1:", ports_[i])};
    }
    cluster_ = std::make_unique<Cluster>(std::move(options));
    ASSERT_TRUE(cluster_->Start()) << "cluster did not form";
  }

  // GET `path` on node i's metrics port, waiting up to 10 s for `status`.
  HttpReply GetWhen(int i, const std::string& path, int status) {
    HttpReply last;
    WaitFor(
        [&] {
          absl::StatusOr<HttpReply> r = HttpRequest(ports_[i], "GET", path, absl::Seconds(5));
          if (r.ok()) last = *r;
          return r.ok() && r->status == status;
        },
        absl::Seconds(10));
    return last;
  }

  std::vector<int> ports_;
};

TEST_F(MetricsClusterTest, ScrapesOfALiveClusterCountRequestsAndPassPromtool) {
  const std::string promtool = metrics::testing::FindPromtool();
  if (promtool.empty()) {
    ASSERT_FALSE(metrics::testing::PromtoolRequired())
        << "promtool is not on PATH under CI=true; `make deps` installs Debian's `prometheus`";
  }
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  for (int i = 0; i < kNodes; ++i) {
    HttpReply ready = GetWhen(i, "/readyz", 200);
    EXPECT_EQ(ready.status, 200) << "node " << i << ": " << ready.body;
  }
  // Every node coordinates some puts and gets, through kvctl.
  for (int k = 0; k < kKeys; ++k) {
    const std::string addr = "--addr=" + cluster_->address(k % kNodes);
    const std::string key = absl::StrCat("metrics-key-", k);
    CommandResult put = RunCommand(KVCTL_BIN, {addr, "put", key, absl::StrCat("value-", k)});
    ASSERT_EQ(put.exit_code, 0) << put.output;
    CommandResult get = RunCommand(KVCTL_BIN, {addr, "get", key});
    ASSERT_EQ(get.exit_code, 0) << get.output;
    EXPECT_TRUE(absl::StrContains(get.output, absl::StrCat("value-", k))) << get.output;
  }
  bool peer_calls = false;
  for (int i = 0; i < kNodes; ++i) {
    HttpReply scrape = GetWhen(i, "/metrics", 200);
    ASSERT_EQ(scrape.status, 200) << "node " << i << ": " << scrape.body;
    const std::string& text = scrape.body;
    EXPECT_TRUE(absl::StartsWith(scrape.Header("Content-Type"), "text/plain; version=0.0.4"))
        << scrape.headers;
    const std::optional<double> puts = Sample(
        text, R"(kvstore_grpc_requests_total{code="OK",method="Put",service="kvstore.v1.KV"})");
    EXPECT_GE(puts.value_or(0), 2) << "node " << i << " coordinated 2 puts:\n" << text;
    EXPECT_GE(Sample(text, R"(kvstore_grpc_request_duration_seconds_count{method="Put",)"
                           R"(service="kvstore.v1.KV"})")
                  .value_or(0),
              2)
        << text;
    peer_calls |= absl::StrContains(text, R"(service="kvstore.v1.Peer")");
    EXPECT_GT(Sample(text, "process_resident_memory_bytes").value_or(0), 0) << text;
    EXPECT_EQ(Sample(text, R"(kvstore_peers{state="alive"})").value_or(-1), kNodes - 1) << text;
    EXPECT_TRUE(Sample(text, "kvstore_keys").has_value()) << text;
    EXPECT_TRUE(Sample(text, "kvstore_hints_kept_total").has_value()) << text;
    EXPECT_GT(Sample(text, "kvstore_stored_bytes").value_or(0), 0) << "node " << i << ":\n" << text;
    EXPECT_TRUE(Sample(text, "kvstore_tombstones").has_value()) << text;
    // kvctl's puts and gets use the node's default consistency, QUORUM.
    for (const char* op : {"write", "read"}) {
      EXPECT_GE(Sample(text, absl::StrCat(R"(kvstore_coordinator_operations_total{op=")", op,
                                          R"(",consistency="quorum",outcome="ok"})"))
                    .value_or(0),
                2)
          << "node " << i << " coordinated 2 of each:\n"
          << text;
    }
    if (!promtool.empty()) {
      EXPECT_EQ(metrics::testing::PromtoolFindings(promtool, text), "") << "node " << i << ":\n"
                                                                        << text;
    }
  }
  EXPECT_TRUE(peer_calls) << "replicas answer Peer calls; no node counted one";
  if (promtool.empty()) {
    GTEST_SKIP() << "promtool is not on PATH; install Debian's `prometheus` package to lint "
                    "the scrapes";
  }
}

TEST_F(MetricsClusterTest, ANodeThatHasNotJoinedIsLiveButNotReady) {
  const int port = FreePort();
  // Its only seed never answers, so it never joins.
  NodeProcess node(
      KVSTORE_BIN,
      {absl::StrCat("--addr=127.0.0.1:", FreePort()), absl::StrCat("--peer=127.0.0.1:", FreePort()),
       absl::StrCat("--metrics-addr=127.0.0.1:", port)},
      ::testing::TempDir() + "/metrics_cluster_test_unjoined.log");
  node.Start();
  ports_ = {port};
  EXPECT_EQ(GetWhen(0, "/healthz", 200).status, 200);
  HttpReply ready = GetWhen(0, "/readyz", 503);
  EXPECT_EQ(ready.status, 503);
  EXPECT_TRUE(absl::StrContains(ready.body, "not joined the cluster yet")) << ready.body;
  node.Signal(SIGTERM);
  EXPECT_EQ(node.Wait(absl::Seconds(20)), 0);
}

TEST_F(MetricsClusterTest, AMetricsAddressInUseFailsTheStartNamingTheFlag) {
  const int port = FreePort();
  NodeProcess first(KVSTORE_BIN,
                    {absl::StrCat("--addr=127.0.0.1:", FreePort()),
                     absl::StrCat("--metrics-addr=127.0.0.1:", port)},
                    ::testing::TempDir() + "/metrics_cluster_test_first.log");
  first.Start();
  ports_ = {port};
  ASSERT_EQ(GetWhen(0, "/healthz", 200).status, 200);
  CommandResult second = RunCommand(KVSTORE_BIN, {absl::StrCat("--addr=127.0.0.1:", FreePort()),
                                                  absl::StrCat("--metrics-addr=127.0.0.1:", port)});
  EXPECT_EQ(second.exit_code, 1) << second.output;
  EXPECT_TRUE(absl::StrContains(second.output, absl::StrCat("--metrics-addr 127.0.0.1:", port)))
      << second.output;
  first.Signal(SIGTERM);
  EXPECT_EQ(first.Wait(absl::Seconds(20)), 0);
}

}  // namespace
}  // namespace kv::testing
