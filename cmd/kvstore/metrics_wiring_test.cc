// StartMetrics: off without an address, /readyz following the node and the
// gRPC server, errors naming --metrics-addr.
#include "cmd/kvstore/metrics_wiring.h"

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "src/metrics/testing/http_get.h"

namespace kv::cmd {
namespace {

using metrics::testing::HttpRequest;

// Enough of an AdminApi for the collector: no stats, no peers.
class EmptyAdmin final : public node::AdminApi {
 public:
  const dht::Contact& self() const override { return self_; }
  node::ClockStatus clock_status() const override { return {}; }
  std::vector<membership::Membership::PeerView> Peers() const override { return {}; }
  void Locate(std::string, LocateCallback done) override { done(absl::UnimplementedError("")); }
  void Snapshot(std::string, std::function<void(absl::StatusOr<std::string>)> done) override {
    done(absl::UnimplementedError(""));
  }
  std::vector<std::pair<std::string, uint64_t>> Stats() const override { return {{"keys", 5}}; }
  std::vector<replication::Coordinator::OutcomeCount> CoordinatorOutcomes() const override {
    return {};
  }
  Facts facts() const override { return {}; }
  absl::Status Leave(bool, std::function<void(const node::LeaveProgress&)>) override {
    return absl::UnimplementedError("");
  }

 private:
  dht::Contact self_{dht::NodeId::FromKey("self"), "127.0.0.1:1"};
};

TEST(MetricsWiringTest, WithoutAnAddressServesNothingAndInstallsNoInterceptor) {
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> m = StartMetrics({});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->port(), 0);
  EXPECT_FALSE((*m)->rpc_metrics().has_value());
}

TEST(MetricsWiringTest, ReadyOnlyOnceJoinedAndServingAndSaysWhatIsMissing) {
  EmptyAdmin admin;
  std::atomic<bool> joined{false};
  std::atomic<bool> has_data{false};
  std::atomic<rpc::Server*> serving{nullptr};
  // Never started: only its address stands for "the gRPC server serves".
  rpc::Server server(node::Apis{}, nullptr, "127.0.0.1:0", 1 << 20);
  auto m = StartMetrics({.addr = "127.0.0.1:0",
                         .version = "0.1.0",
                         .admin = &admin,
                         .joined = [&joined] { return joined.load(); },
                         .serves_reads = [&has_data] { return has_data.load(); },
                         .serving = &serving});
  ASSERT_TRUE(m.ok()) << m.status();
  const int port = (*m)->port();
  ASSERT_GT(port, 0);
  EXPECT_TRUE((*m)->rpc_metrics().has_value());

  auto r = HttpRequest(port, "GET", "/readyz");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 503);
  EXPECT_TRUE(absl::StrContains(r->body, "not joined the cluster yet")) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, "gRPC server not serving")) << r->body;

  joined = true;
  r = HttpRequest(port, "GET", "/readyz");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 503);
  EXPECT_FALSE(absl::StrContains(r->body, "joined")) << r->body;

  serving = &server;
  r = HttpRequest(port, "GET", "/readyz");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 503);
  EXPECT_TRUE(absl::StrContains(r->body, "pending reads")) << r->body;

  has_data = true;
  r = HttpRequest(port, "GET", "/readyz");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200) << r->body;

  r = HttpRequest(port, "GET", "/metrics");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(absl::StrContains(r->body, "kvstore_build_info{version=\"0.1.0\"} 1")) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, "\nkvstore_keys 5\n")) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, "\nkvstore_heartbeat_streams_in 0\n")) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, "process_resident_memory_bytes")) << r->body;

  (*m)->Stop();
  EXPECT_FALSE(HttpRequest(port, "GET", "/healthz").ok());
}

TEST(MetricsWiringTest, AnAddressInUseNamesTheFlag) {
  EmptyAdmin admin;
  auto first =
      StartMetrics({.addr = "127.0.0.1:0", .admin = &admin, .joined = [] { return true; }});
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = StartMetrics({.addr = taken, .admin = &admin, .joined = [] { return true; }});
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::StartsWith(second.status().message(), "--metrics-addr " + taken))
      << second.status();
}

TEST(MetricsWiringTest, AMalformedAddressNamesTheFlag) {
  EmptyAdmin admin;
  auto m = StartMetrics({.addr = "localhost", .admin = &admin, .joined = [] { return true; }});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(m.status().message(), "--metrics-addr ")) << m.status();
}

}  // namespace
}  // namespace kv::cmd
