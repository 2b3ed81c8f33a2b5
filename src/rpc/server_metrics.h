// Per-call metrics of a node's gRPC server, counted by a server interceptor
// (gRPC 1.51's experimental interceptor API, grpcpp/support/server_interceptor.h):
//   kvstore_grpc_requests_total{service,method,code}         calls finished
//   kvstore_grpc_request_duration_seconds{service,method}    their latency
// `service` is the full gRPC service name ("kvstore.v1.KV", "kvstore.v1.Admin",
// "kvstore.v1.Peer", "grpc.health.v1.Health"), `method` the method's name
// ("Put"), `code` the status code's name ("OK", "UNAVAILABLE"). A call's
// latency runs from the moment gRPC matched it to a method until its status
// is sent: for a stream (Heartbeat), the stream's lifetime.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "grpcpp/support/server_interceptor.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"

namespace kv::rpc {

// The names of the families ServerMetrics holds.
inline constexpr std::string_view kRequestsMetric = "kvstore_grpc_requests_total";
inline constexpr std::string_view kDurationMetric = "kvstore_grpc_request_duration_seconds";

// Latency bucket boundaries in seconds, 100 µs to 10 s: 1, 2.5 and 5 per
// decade (16 buckets, plus +Inf).
std::vector<double> DefaultLatencyBuckets();

// The families the interceptor fills. Built by whoever owns the process's
// metrics registry (cmd/kvstore), never by this layer. Not owned: both must
// outlive every server and factory given them.
struct ServerMetrics {
  prometheus::Family<prometheus::Counter>* requests = nullptr;     // kRequestsMetric
  prometheus::Family<prometheus::Histogram>* durations = nullptr;  // kDurationMetric
  // REQUIRES: strictly increasing.
  std::vector<double> buckets = DefaultLatencyBuckets();
};

// An interceptor factory for grpc::ServerBuilder::experimental()
// .SetInterceptorCreators that counts every call into `metrics`. The first
// 64 distinct methods get series of their own; calls to any further method
// (only a misbehaving client could name that many) share service="other",
// method="other", so that clients cannot grow the series without bound.
// Thread-safe: gRPC calls it from any thread.
// REQUIRES: metrics.requests and metrics.durations are not null.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewMetricsInterceptorFactory(
    ServerMetrics metrics);

}  // namespace kv::rpc
