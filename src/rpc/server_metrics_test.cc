// The metrics interceptor on a real gRPC server on loopback, with a fake KV
// service: every call is counted by service, method and code, and timed.
#include "src/rpc/server_metrics.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/kv.grpc.pb.h"
#include "src/metrics/registry.h"

namespace kv::rpc {
namespace {

namespace v1 = kvstore::v1;

// Put succeeds; Get fails with UNAVAILABLE.
class FakeKv final : public v1::KV::CallbackService {
 public:
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* ctx, const v1::PutRequest*,
                                v1::PutResponse*) override {
    grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx, const v1::GetRequest*,
                                v1::GetResponse*) override {
    grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
    r->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "no quorum"));
    return r;
  }
};

class ServerMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto requests = registry_.CounterFamily(kRequestsMetric, "calls");
    auto durations = registry_.HistogramFamily(kDurationMetric, "latency");
    ASSERT_TRUE(requests.ok() && durations.ok());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(NewMetricsInterceptorFactory(
        ServerMetrics{.requests = *requests, .durations = *durations}));
    builder.experimental().SetInterceptorCreators(std::move(creators));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port, 0);
    stub_ = v1::KV::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  grpc::Status Put() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::PutRequest req;
    v1::PutResponse resp;
    return stub_->Put(&ctx, req, &resp);
  }
  grpc::Status Get() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::GetRequest req;
    v1::GetResponse resp;
    return stub_->Get(&ctx, req, &resp);
  }
  std::string Scrape() const { return metrics::RenderText({registry_.collectable()}); }

  metrics::Registry registry_;
  FakeKv service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::KV::Stub> stub_;
};

TEST_F(ServerMetricsTest, CountsCallsByServiceMethodAndCode) {
  ASSERT_TRUE(Put().ok());
  ASSERT_TRUE(Put().ok());
  ASSERT_EQ(Get().error_code(), grpc::StatusCode::UNAVAILABLE);
  const std::string text = Scrape();
  EXPECT_NE(
      text.find(R"(kvstore_grpc_requests_total{code="OK",method="Put",service="kvstore.v1.KV"} 2)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          R"(kvstore_grpc_requests_total{code="UNAVAILABLE",method="Get",service="kvstore.v1.KV"} 1)"),
      std::string::npos)
      << text;
  // Only codes that occurred have a series.
  EXPECT_EQ(text.find(R"(code="OK",method="Get")"), std::string::npos) << text;
}

TEST_F(ServerMetricsTest, TimesEachCallInBucketsFrom100MicrosecondsTo10Seconds) {
  ASSERT_TRUE(Put().ok());
  const std::string text = Scrape();
  EXPECT_NE(
      text.find(
          R"(kvstore_grpc_request_duration_seconds_count{method="Put",service="kvstore.v1.KV"} 1)"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(le="0.0001")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(le="0.0025")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(le="10")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(le="+Inf")"), std::string::npos) << text;
  EXPECT_EQ(text.find(R"(method="Get")"), std::string::npos) << "no Get was made:\n" << text;
}

// A generic service answers any method name a client makes up: past 64
// methods, the calls share one "other" series instead of growing the scrape.
TEST(ServerMetricsCapTest, MethodsBeyondTheFirst64ShareTheOtherSeries) {
  metrics::Registry registry;
  auto requests = registry.CounterFamily(kRequestsMetric, "calls");
  auto durations = registry.HistogramFamily(kDurationMetric, "latency");
  ASSERT_TRUE(requests.ok() && durations.ok());
  grpc::CallbackGenericService generic;  // answers UNIMPLEMENTED to everything
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterCallbackGenericService(&generic);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(
      NewMetricsInterceptorFactory(ServerMetrics{.requests = *requests, .durations = *durations}));
  builder.experimental().SetInterceptorCreators(std::move(creators));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  grpc::GenericStub stub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  constexpr int kMethods = 70;
  for (int i = 0; i < kMethods; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::Slice payload(std::string("x"));
    grpc::ByteBuffer req(&payload, 1);  // an empty ByteBuffer is not a message
    grpc::ByteBuffer resp;
    absl::Notification done;
    grpc::Status status;
    stub.UnaryCall(&ctx, absl::StrCat("/made.Up/M", i), grpc::StubOptions(), &req, &resp,
                   [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    ASSERT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();
  }
  const std::string text = metrics::RenderText({registry.collectable()});
  EXPECT_NE(text.find(R"(kvstore_grpc_requests_total{code="UNIMPLEMENTED",method="M63",)"
                      R"(service="made.Up"} 1)"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find(R"(method="M64")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(kvstore_grpc_requests_total{code="UNIMPLEMENTED",method="other",)"
                      R"(service="other"} 6)"),
            std::string::npos)
      << text;
  server->Shutdown();
}

TEST(DefaultLatencyBucketsTest, StrictlyIncreasingFrom100MicrosecondsTo10Seconds) {
  const std::vector<double> b = DefaultLatencyBuckets();
  ASSERT_FALSE(b.empty());
  EXPECT_DOUBLE_EQ(b.front(), 0.0001);
  EXPECT_DOUBLE_EQ(b.back(), 10);
  for (size_t i = 1; i < b.size(); ++i) EXPECT_LT(b[i - 1], b[i]);
}

}  // namespace
}  // namespace kv::rpc
