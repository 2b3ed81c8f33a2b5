// kvstore's metrics endpoint (--metrics-addr): the process's metrics::Registry,
// the families the gRPC server's interceptor fills (rpc/server_metrics.h), the
// node and process collectors, and the HTTP server of /metrics, /healthz and
// /readyz (metrics/http_server.h). docs/operations.md lists every metric.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "cmd/kvstore/status/status_page.h"
#include "grpcpp/security/credentials.h"
#include "src/metrics/http_server.h"
#include "src/metrics/registry.h"
#include "src/node/api.h"
#include "src/rpc/server.h"
#include "src/rpc/server_metrics.h"

namespace kv::cmd {

struct MetricsOptions {
  // --metrics-addr: "host:port" to serve on; empty turns metrics off.
  std::string addr;
  // Shown as kvstore_build_info{version="..."}.
  std::string version;
  // Not owned; must outlive the endpoint. REQUIRES: not null when `addr` is set.
  const node::AdminApi* admin = nullptr;
  // Whether the node has joined its cluster (Node::joined). Called on HTTP
  // threads: must be thread-safe. REQUIRES: set when `addr` is.
  std::function<bool()> joined;
  // Whether the node answers replica reads (Node::ServesReads: it has
  // received its data since it joined). Optional: always, when unset.
  std::function<bool()> serves_reads;
  // The gRPC server once it serves, null before and once it drains (main's
  // `serving`). Not owned; must outlive the endpoint.
  const std::atomic<rpc::Server*>* serving = nullptr;
  // How the status page dials members for their facts: the node's peer
  // credentials (TLS), or null for plaintext.
  std::shared_ptr<grpc::ChannelCredentials> member_credentials;
};

// Thread-safe, except that Stop() and the destructor must not race.
class MetricsEndpoint {
 public:
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;
  // Stops the HTTP server.
  ~MetricsEndpoint();

  // The families for rpc::Server's constructor; nullopt when metrics are off,
  // so that the server installs no interceptor. They live as long as this.
  std::optional<rpc::ServerMetrics> rpc_metrics() const { return rpc_metrics_; }

  // The port the HTTP server listens on; 0 when off or stopped.
  int port() const { return http_ ? http_->port() : 0; }

  // Stops serving HTTP (scrapes and probes then fail to connect). Call it
  // before the node stops: the collectors read the node. Idempotent.
  void Stop();

 private:
  friend absl::StatusOr<std::unique_ptr<MetricsEndpoint>> StartMetrics(MetricsOptions options);
  MetricsEndpoint() = default;

  // Const once StartMetrics returns.
  std::unique_ptr<metrics::Registry> registry_;
  std::optional<rpc::ServerMetrics> rpc_metrics_;
  std::unique_ptr<status::StatusPage> page_;
  std::unique_ptr<metrics::HttpServer> http_;
};

// Builds the endpoint and, when `options.addr` is set, starts serving it:
//   /metrics  the registry (gRPC calls), the node collector and process_* metrics;
//   /healthz  200 while the process runs;
//   /readyz   200 once the node has joined, has received its data (pending
//             reads) and the gRPC server serves, else 503 naming what is
//             missing ("not ready: not joined the cluster yet");
//   /         the status page (status/page.h).
// With `addr` empty it returns an endpoint that does nothing. Errors are
// HttpServer::Start's, prefixed with "--metrics-addr " (e.g. "--metrics-addr
// 127.0.0.1:9100: address in use; pick another port"); then nothing listens.
[[nodiscard]] absl::StatusOr<std::unique_ptr<MetricsEndpoint>> StartMetrics(MetricsOptions options);

}  // namespace kv::cmd
