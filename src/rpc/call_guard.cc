#include "src/rpc/call_guard.h"

namespace kv::rpc {

absl::Status CallGuard::Member(const grpc::ServerContextBase& ctx, absl::string_view call,
                               const dht::NodeId* claimed) {
  if (!policy_.tls()) return absl::OkStatus();
  const security::Caller caller = reader_.Read(ctx);
  if (claimed != nullptr) return policy_.CheckClaim(caller, *claimed, call);
  return policy_.CheckMember(caller, call);
}

std::optional<dht::NodeId> CallGuard::MemberId(const grpc::ServerContextBase& ctx) {
  if (!policy_.tls()) return std::nullopt;
  const security::Caller caller = reader_.Read(ctx);
  if (!caller.cert) return std::nullopt;
  return caller.cert->id;
}

absl::StatusOr<const security::Grant*> CallGuard::Client(const grpc::ServerContextBase& ctx,
                                                         absl::string_view call) {
  if (!policy_.checks_clients()) return nullptr;
  return policy_.ClientGrant(reader_.Read(ctx), call);
}

absl::Status CallGuard::ClientKey(const grpc::ServerContextBase& ctx, absl::string_view call,
                                  security::KeyAccess access, absl::string_view key) {
  if (!policy_.checks_clients()) return absl::OkStatus();
  absl::StatusOr<const security::Grant*> grant = Client(ctx, call);
  if (!grant.ok()) return grant.status();
  return security::AccessPolicy::CheckKey(*grant, access, key, call);
}

absl::Status CallGuard::AdminRead(const grpc::ServerContextBase& ctx, absl::string_view call) {
  if (!policy_.checks_clients()) return absl::OkStatus();
  return policy_.CheckAdminRead(reader_.Read(ctx), call);
}

absl::Status CallGuard::AdminChange(const grpc::ServerContextBase& ctx, absl::string_view call) {
  return policy_.CheckAdminChange(reader_.Read(ctx), call);
}

}  // namespace kv::rpc
