#include "cmd/kvstore/metrics_wiring.h"

#include <utility>
#include <vector>

#include "absl/strings/str_join.h"
#include "cmd/kvstore/node_collector.h"
#include "prometheus/client_metric.h"
#include "prometheus/metric_family.h"
#include "prometheus/metric_type.h"
#include "src/metrics/process_collector.h"

namespace kv::cmd {
namespace {

// kvstore_build_info{version="..."} 1, the usual way to expose a version.
class BuildInfo final : public prometheus::Collectable {
 public:
  explicit BuildInfo(std::string version) : version_(std::move(version)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::ClientMetric m;
    m.label = {{"version", version_}};
    m.gauge.value = 1;
    return {prometheus::MetricFamily{.name = "kvstore_build_info",
                                     .help = "Always 1; the version label is this build's.",
                                     .type = prometheus::MetricType::Gauge,
                                     .metric = {m}}};
  }

 private:
  const std::string version_;
};

// What /readyz lacks, one phrase each; empty when ready.
std::vector<std::string> Missing(const MetricsOptions& o) {
  std::vector<std::string> out;
  if (!o.joined()) {
    out.push_back("not joined the cluster yet");
  } else if (o.serves_reads && !o.serves_reads()) {
    out.push_back("not yet holding its data (pending reads: reconciling with its co-owners)");
  }
  if (o.serving == nullptr || o.serving->load() == nullptr) {
    out.push_back("gRPC server not serving");
  }
  return out;
}

}  // namespace

MetricsEndpoint::~MetricsEndpoint() { Stop(); }

void MetricsEndpoint::Stop() {
  if (http_) http_->Stop();
  if (page_) page_->Stop();
}

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> StartMetrics(MetricsOptions options) {
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint());
  if (options.addr.empty()) return endpoint;

  endpoint->registry_ = std::make_unique<metrics::Registry>();
  metrics::Registry& registry = *endpoint->registry_;
  auto requests = registry.CounterFamily(
      rpc::kRequestsMetric, "gRPC calls this node served, by service, method and status code.");
  if (!requests.ok()) return requests.status();
  auto durations = registry.HistogramFamily(
      rpc::kDurationMetric,
      "Seconds from a gRPC call's arrival to its status, by service and method.");
  if (!durations.ok()) return durations.status();
  endpoint->rpc_metrics_ = rpc::ServerMetrics{.requests = *requests, .durations = *durations};

  const std::atomic<rpc::Server*>* serving = options.serving;
  metrics::HttpServerOptions http;
  http.collectables = {
      registry.collectable(),
      std::make_shared<BuildInfo>(options.version),
      std::make_shared<NodeCollector>(
          NodeCollectorOptions{.admin = options.admin,
                               .heartbeat_streams_in = [serving]() -> uint64_t {
                                 rpc::Server* s = serving ? serving->load() : nullptr;
                                 return s ? s->heartbeats()->LastHeard().size() : 0;
                               }}),
      std::make_shared<metrics::ProcessCollector>(),
  };
  http.ready = [options] { return Missing(options).empty(); };
  http.not_ready_reason = [options] { return absl::StrJoin(Missing(options), "; "); };
  endpoint->page_ = std::make_unique<status::StatusPage>(
      status::StatusPageOptions{.admin = options.admin,
                                .version = options.version,
                                .durations = *durations,
                                .bounds = endpoint->rpc_metrics_->buckets,
                                .member_credentials = options.member_credentials});
  endpoint->http_ = std::make_unique<metrics::HttpServer>(std::move(http));
  status::StatusPage* page = endpoint->page_.get();
  endpoint->http_->Handle("/", [page](const metrics::Request& r) { return page->Serve(r); });
  if (absl::Status s = endpoint->http_->Start(options.addr); !s.ok()) {
    return absl::Status(s.code(), "--metrics-addr " + std::string(s.message()));
  }
  return endpoint;
}

}  // namespace kv::cmd
