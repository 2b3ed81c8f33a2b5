#include "src/rpc/server_metrics.h"

#include <array>
#include <atomic>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/spdlog.h"
#include "src/metrics/registry.h"

namespace kv::rpc {
namespace {

using grpc::experimental::InterceptionHookPoints;

// grpc::StatusCode runs from OK (0) to UNAUTHENTICATED (16).
constexpr int kCodes = 17;
// Distinct methods with series of their own; the rest share "other".
constexpr size_t kMaxMethods = 64;

// The series of one method: its histogram, and one counter per status code,
// made on first use so that a scrape shows only codes that occurred.
class MethodSeries {
 public:
  MethodSeries(const ServerMetrics& metrics, std::string service, std::string method)
      : requests_(metrics.requests),
        labels_{{"service", std::move(service)}, {"method", std::move(method)}} {
    absl::StatusOr<prometheus::Histogram*> h =
        metrics::AddMetric(*metrics.durations, labels_, metrics.buckets);
    if (!h.ok()) spdlog::error("rpc metrics: {}", h.status().ToString());
    duration_ = h.ok() ? *h : nullptr;
  }

  void Record(grpc::StatusCode code, double seconds) {
    if (duration_ != nullptr) duration_->Observe(seconds);
    const int i = static_cast<int>(code);
    if (i < 0 || i >= kCodes) return;
    prometheus::Counter* c = by_code_[i].load(std::memory_order_acquire);
    if (c == nullptr) {
      // Racing threads get the same counter: Family::Add returns the series
      // that has these labels.
      prometheus::Labels labels = labels_;
      labels["code"] = absl::StatusCodeToString(static_cast<absl::StatusCode>(i));
      absl::StatusOr<prometheus::Counter*> added = metrics::AddMetric(*requests_, labels);
      if (!added.ok()) return;
      c = *added;
      by_code_[i].store(c, std::memory_order_release);
    }
    c->Increment();
  }

 private:
  prometheus::Family<prometheus::Counter>* const requests_;
  const prometheus::Labels labels_;  // service, method
  prometheus::Histogram* duration_ = nullptr;
  std::array<std::atomic<prometheus::Counter*>, kCodes> by_code_{};
};

// One call's interceptor: times the call and records it once, when its
// status is sent, or when gRPC drops the call without sending one (it was
// cancelled).
class CallInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit CallInterceptor(MethodSeries* series)
      : series_(series), start_(std::chrono::steady_clock::now()) {}

  // gRPC destroys the interceptor after the call's last batch.
  ~CallInterceptor() override {
    if (!recorded_) Record(grpc::StatusCode::CANCELLED);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Record(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Record(grpc::StatusCode code) {
    recorded_ = true;
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start_;
    series_->Record(code, took.count());
  }

  MethodSeries* const series_;
  const std::chrono::steady_clock::time_point start_;
  // Only the status batch and the destructor touch it, never concurrently.
  bool recorded_ = false;
};

class MetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(ServerMetrics metrics) : metrics_(std::move(metrics)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    if (info == nullptr || info->method() == nullptr) return nullptr;
    return new CallInterceptor(Series(info->method()));
  }

 private:
  // The series of `full_method` ("/kvstore.v1.KV/Put"), made on first use.
  MethodSeries* Series(absl::string_view full_method) {
    {
      absl::ReaderMutexLock lock(&mu_);
      if (auto it = series_.find(full_method); it != series_.end()) return it->second.get();
    }
    absl::MutexLock lock(&mu_);
    if (auto it = series_.find(full_method); it != series_.end()) return it->second.get();
    if (series_.size() >= kMaxMethods) {
      if (other_ == nullptr) other_ = std::make_unique<MethodSeries>(metrics_, "other", "other");
      return other_.get();
    }
    const absl::string_view name = absl::StripPrefix(full_method, "/");
    const size_t slash = name.rfind('/');
    std::string service(slash == absl::string_view::npos ? "" : name.substr(0, slash));
    std::string method(slash == absl::string_view::npos ? name : name.substr(slash + 1));
    auto made = std::make_unique<MethodSeries>(metrics_, std::move(service), std::move(method));
    MethodSeries* out = made.get();
    series_.emplace(std::string(full_method), std::move(made));
    return out;
  }

  // Const after construction.
  const ServerMetrics metrics_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<MethodSeries>> series_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<MethodSeries> other_ ABSL_GUARDED_BY(mu_);  // beyond kMaxMethods
};

}  // namespace

std::vector<double> DefaultLatencyBuckets() {
  // Literals, so that the `le` labels read "0.0025", not a rounding error.
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewMetricsInterceptorFactory(
    ServerMetrics metrics) {
  return std::make_unique<MetricsInterceptorFactory>(std::move(metrics));
}

}  // namespace kv::rpc
