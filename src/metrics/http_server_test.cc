#include "src/metrics/http_server.h"

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "src/metrics/registry.h"
#include "src/metrics/testing/http_get.h"

namespace kv::metrics {
namespace {

using testing::HttpReply;
using testing::HttpRequest;

// GETs `path`; fails the test (and returns an empty reply) if the exchange fails.
HttpReply Get(const HttpServer& server, const std::string& path, const char* method = "GET") {
  absl::StatusOr<HttpReply> reply = HttpRequest(server.port(), method, path);
  EXPECT_TRUE(reply.ok()) << method << " " << path << ": " << reply.status();
  return reply.ok() ? *reply : HttpReply{};
}

class MetricsHttpServerTest : public ::testing::Test {
 protected:
  // Starts a server on a free loopback port with `options`.
  void StartServer(HttpServerOptions options) {
    server_ = std::make_unique<HttpServer>(std::move(options));
    const absl::Status s = server_->Start("127.0.0.1:0");
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_GT(server_->port(), 0);
  }
  std::unique_ptr<HttpServer> server_;
};

TEST_F(MetricsHttpServerTest, ServesMetricsHealthzAndReadyz) {
  Registry registry;
  auto family = registry.CounterFamily("kvstore_test_requests_total", "Requests served.");
  ASSERT_TRUE(family.ok()) << family.status();
  auto counter = AddMetric(**family, {});
  ASSERT_TRUE(counter.ok()) << counter.status();
  (*counter)->Increment(3);
  StartServer({.collectables = {registry.collectable()}});

  const HttpReply metrics = Get(*server_, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.Header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find("\nkvstore_test_requests_total 3\n"), std::string::npos)
      << metrics.body;
  EXPECT_EQ(metrics.Header("Content-Length"), std::to_string(metrics.body.size()));

  const HttpReply health = Get(*server_, "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  const HttpReply ready = Get(*server_, "/readyz?verbose=1");  // no ready(): always ready
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ready\n");
}

TEST_F(MetricsHttpServerTest, ReadyzAnswers503WithTheReasonUntilReady) {
  std::atomic<bool> ready{false};
  StartServer({.ready = [&] { return ready.load(); },
               .not_ready_reason = [] { return std::string("joining the cluster"); }});
  const HttpReply before = Get(*server_, "/readyz");
  EXPECT_EQ(before.status, 503);
  EXPECT_EQ(before.body, "not ready: joining the cluster\n");
  EXPECT_EQ(Get(*server_, "/healthz").status, 200);  // alive all the same

  ready = true;
  const HttpReply after = Get(*server_, "/readyz");
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, "ready\n");
}

TEST_F(MetricsHttpServerTest, UnknownPathIs404AndOtherMethodsAre405) {
  StartServer({});
  const HttpReply unknown = Get(*server_, "/nope");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, "no such path: /nope\n");
  EXPECT_EQ(Get(*server_, "/metrics/extra").status, 404);
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    const HttpReply r = Get(*server_, "/metrics", method);
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.Header("Allow"), "GET") << method;
  }
}

TEST_F(MetricsHttpServerTest, HandlersAddedAfterStartAreServed) {
  StartServer({});
  EXPECT_EQ(Get(*server_, "/").status, 404);
  server_->Handle("/", [](const Request& r) {
    return Response{.content_type = "text/html; charset=utf-8",
                    .body = "<h1>kvstore</h1> query=" + r.query};
  });
  const HttpReply page = Get(*server_, "/?x=1");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.Header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(page.body, "<h1>kvstore</h1> query=x=1");
  server_->Handle("/healthz", [](const Request&) { return Response{.status = 500}; });
  EXPECT_EQ(Get(*server_, "/healthz").status, 500);
}

TEST_F(MetricsHttpServerTest, HandlerThatThrowsAnswers500) {
  StartServer({});
  server_->Handle("/boom", [](const Request&) -> Response { throw std::runtime_error("kaput"); });
  const HttpReply r = Get(*server_, "/boom");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "internal error: kaput\n");
  EXPECT_EQ(Get(*server_, "/healthz").status, 200);  // the server lives on
}

TEST_F(MetricsHttpServerTest, ConcurrentScrapesAllSucceed) {
  Registry registry;
  ASSERT_TRUE(registry.GaugeFamily("kvstore_test_keys", "Keys held.").ok());
  StartServer({.collectables = {registry.collectable()}, .threads = 2});
  std::atomic<int> ok{0};
  std::vector<std::thread> scrapers;
  for (int i = 0; i < 4; ++i) {
    scrapers.emplace_back([&] {
      for (int j = 0; j < 10; ++j) {
        auto r = HttpRequest(server_->port(), "GET", "/metrics");
        if (r.ok() && r->status == 200) ok.fetch_add(1);
      }
    });
  }
  for (std::thread& t : scrapers) t.join();
  EXPECT_EQ(ok.load(), 40);
}

TEST_F(MetricsHttpServerTest, PortInUseIsAClearError) {
  StartServer({});
  const std::string taken = "127.0.0.1:" + std::to_string(server_->port());
  HttpServer second({});
  const absl::Status s = second.Start(taken);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), taken + ": address in use; pick another port");
  EXPECT_EQ(second.port(), 0);
  EXPECT_EQ(Get(*server_, "/healthz").status, 200);  // the first one is untouched
}

TEST_F(MetricsHttpServerTest, BadAddressIsInvalidArgument) {
  HttpServer server({});
  for (const char* address : {"nonsense", "localhost:9100", "127.0.0.1:99999", "[::1]:0"}) {
    const absl::Status s = server.Start(address);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << address << ": " << s;
    EXPECT_NE(s.message().find(address), absl::string_view::npos) << s;
  }
  EXPECT_EQ(server.port(), 0);
}

TEST_F(MetricsHttpServerTest, StartTwiceFailsAndStopClosesThePort) {
  StartServer({});
  const int port = server_->port();
  EXPECT_EQ(server_->Start("127.0.0.1:0").code(), absl::StatusCode::kFailedPrecondition);
  server_->Stop();
  EXPECT_EQ(server_->port(), 0);
  EXPECT_EQ(HttpRequest(port, "GET", "/healthz").status().code(), absl::StatusCode::kUnavailable);
  server_->Stop();                                  // idempotent
  ASSERT_TRUE(server_->Start("127.0.0.1:0").ok());  // and restartable
  EXPECT_EQ(Get(*server_, "/healthz").status, 200);
}

}  // namespace
}  // namespace kv::metrics
