// A node's gRPC server: KV, Admin and Peer services, the standard health
// service and server reflection.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "src/node/node.h"
#include "src/rpc/call_guard.h"
#include "src/rpc/heartbeat.h"
#include "src/rpc/server_metrics.h"
#include "src/rpc/services.h"

namespace kv::rpc {

// Not thread-safe: Start and Shutdown are called from one thread.
class Server {
 public:
  // The interfaces in `apis` and `hooks` (null in production) are not owned
  // and must outlive the server. `policy` decides who may make which call;
  // `credentials` null means plaintext. With `metrics`, every call is counted
  // and timed there (server_metrics.h; its families must outlive the
  // server); without, no interceptor is installed and calls pay nothing.
  Server(node::Apis apis, node::TestHooks* hooks, std::string listen_address, int max_message_bytes,
         security::AccessPolicy policy = security::AccessPolicy(),
         std::shared_ptr<grpc::ServerCredentials> credentials = nullptr,
         std::optional<ServerMetrics> metrics = std::nullopt);
  ~Server();

  // Binds and starts serving. FAILED_PRECONDITION when the address cannot be bound.
  [[nodiscard]] absl::Status Start();
  // Marks the node not serving, ends heartbeat streams, stops accepting and
  // waits up to `grace` for in-flight calls, then cancels the rest.
  void Shutdown(absl::Duration grace);

  // Sets the grpc.health.v1 status of the service "kvstore.v1.KV" (the
  // overall status "" stays SERVING while the server runs): NOT_SERVING while
  // the node refuses writes for its clock. Thread-safe; no-op before Start.
  void SetKvServing(bool serving);

  // The heartbeat streams other nodes opened to this one.
  HeartbeatRegistry* heartbeats() { return &heartbeats_; }

 private:
  const std::string listen_address_;
  const int max_message_bytes_;
  const std::shared_ptr<grpc::ServerCredentials> credentials_;
  const std::optional<ServerMetrics> metrics_;
  CallGuard guard_;
  HeartbeatRegistry heartbeats_;
  KvService kv_;
  AdminService admin_;
  PeerService peer_;
  std::unique_ptr<grpc::Server> server_;
  std::atomic<bool> started_{false};
};

}  // namespace kv::rpc
