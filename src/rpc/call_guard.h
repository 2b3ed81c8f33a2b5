// The access check at the top of every handler: reads the caller only when
// the policy needs it (plaintext without an auth file reads nothing), then
// asks security::AccessPolicy.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"
#include "src/dht/node_id.h"
#include "src/security/access_policy.h"
#include "src/security/caller.h"

namespace kv::rpc {

// Thread-safe.
class CallGuard {
 public:
  explicit CallGuard(security::AccessPolicy policy) : policy_(std::move(policy)) {}

  const security::AccessPolicy& policy() const { return policy_; }

  // A member-only call (Peer.*, Join, Heartbeat, Ping with `from`); when the
  // request names its sender, `claimed` is that node's ID.
  [[nodiscard]] absl::Status Member(const grpc::ServerContextBase& ctx, absl::string_view call,
                                    const dht::NodeId* claimed = nullptr);
  // The caller's certificate ID on a TLS connection (for heartbeat streams,
  // whose every beat must come from it); empty in plaintext.
  std::optional<dht::NodeId> MemberId(const grpc::ServerContextBase& ctx);

  // A client call's grant (null: no auth file, everything allowed).
  [[nodiscard]] absl::StatusOr<const security::Grant*> Client(const grpc::ServerContextBase& ctx,
                                                              absl::string_view call);
  // A client call on one key.
  [[nodiscard]] absl::Status ClientKey(const grpc::ServerContextBase& ctx, absl::string_view call,
                                       security::KeyAccess access, absl::string_view key);

  [[nodiscard]] absl::Status AdminRead(const grpc::ServerContextBase& ctx, absl::string_view call);
  [[nodiscard]] absl::Status AdminChange(const grpc::ServerContextBase& ctx,
                                         absl::string_view call);

 private:
  const security::AccessPolicy policy_;
  security::CallerReader reader_;
};

}  // namespace kv::rpc
