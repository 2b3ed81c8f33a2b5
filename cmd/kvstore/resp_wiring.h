// kvstore's Redis-protocol front door (--resp-addr): the commands on the
// node's client and admin interfaces (src/resp/commands.h) and the server
// that serves them (src/resp/server.h), built and started together.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "src/node/api.h"
#include "src/resp/commands.h"
#include "src/resp/server.h"

namespace kv::cmd {

struct RespOptions {
  std::string addr;     // --resp-addr; REQUIRES: not empty
  std::string version;  // this build's, for HELLO and INFO
  std::string node_id;  // hex, for INFO
  // Not owned; must outlive the endpoint. REQUIRES: client and admin set.
  node::Apis apis;
  // The node's --max-key-bytes and --max-value-bytes: they bound one frame.
  size_t max_key_bytes = 0;
  size_t max_value_bytes = 0;
  // The node's TLS files (--cert-file ...): the port then serves TLS only.
  std::optional<resp::TlsFiles> tls;
  // Who may run what (--auth-file, as for gRPC); not owned, must outlive
  // the endpoint; null: everyone may run everything.
  const security::AccessPolicy* policy = nullptr;
};

// Stop() and the destructor must not race; the rest is the server's.
class RespEndpoint {
 public:
  RespEndpoint(const RespEndpoint&) = delete;
  RespEndpoint& operator=(const RespEndpoint&) = delete;
  ~RespEndpoint();  // Stop()

  int port() const { return server_ ? server_->port() : 0; }
  // Closes the listener and every connection. Call it before the node
  // stops: the commands run on the node. Idempotent.
  void Stop();

 private:
  friend absl::StatusOr<std::unique_ptr<RespEndpoint>> StartResp(RespOptions options);
  RespEndpoint() = default;

  std::unique_ptr<resp::Commands> commands_;
  std::unique_ptr<resp::Server> server_;  // after commands_: it runs them
};

// Builds the front door and starts serving it. Errors are Server::Start's
// (they name --resp-addr); then nothing listens.
[[nodiscard]] absl::StatusOr<std::unique_ptr<RespEndpoint>> StartResp(RespOptions options);

}  // namespace kv::cmd
