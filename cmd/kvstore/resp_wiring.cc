#include "cmd/kvstore/resp_wiring.h"

#include <algorithm>
#include <utility>

namespace kv::cmd {

RespEndpoint::~RespEndpoint() { Stop(); }

void RespEndpoint::Stop() {
  if (server_) server_->Stop();
}

absl::StatusOr<std::unique_ptr<RespEndpoint>> StartResp(RespOptions options) {
  std::unique_ptr<RespEndpoint> endpoint(new RespEndpoint());
  RespEndpoint* e = endpoint.get();
  node::AdminApi* admin = options.apis.admin;
  endpoint->commands_ = std::make_unique<resp::Commands>(
      options.apis.client,
      resp::ServerFacts{
          .version = options.version,
          .node_id = options.node_id,
          .resp_addr = options.addr,
          .connected_clients = [e] { return e->server_ ? e->server_->connections() : 0; },
          .keys =
              [admin] {
                for (const auto& [name, value] : admin->Stats()) {
                  if (name == "keys") return value;
                }
                return uint64_t{0};
              }},
      admin, options.policy);
  // A bulk a little over the limits still reaches the node, whose error
  // names the flag; a far bigger one is a protocol error that closes the
  // connection, so that one frame cannot hold more memory than that.
  resp::ServerOptions server{.addr = options.addr};
  server.tls = options.tls;
  server.limits.max_bulk_bytes =
      2 * std::max(options.max_value_bytes, options.max_key_bytes) + (1 << 20);
  endpoint->server_ = std::make_unique<resp::Server>(server, endpoint->commands_.get());
  if (absl::Status s = endpoint->server_->Start(); !s.ok()) return s;
  return endpoint;
}

}  // namespace kv::cmd
