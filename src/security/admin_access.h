// Who may make the Admin calls that change a node's state (Leave, Snapshot,
// DropKeys): callers on loopback, and those --admin-from names. Read-only
// Admin calls (Peers, Stats, Locate) stay open to everyone.
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "src/util/address_prefix.h"

namespace kv::security {

// Immutable after construction; thread-safe.
class AdminAccess {
 public:
  AdminAccess() = default;  // loopback only
  explicit AdminAccess(std::vector<util::AddressPrefix> allowed) : allowed_(std::move(allowed)) {}

  // `peer` is gRPC's ServerContext::peer() ("ipv4:10.0.0.5:41234",
  // "ipv6:[::1]:41234", "unix:/path"). OK for loopback, a Unix socket, or an
  // address inside one of the allowed prefixes; otherwise PERMISSION_DENIED
  // naming the call, the caller's address and what to do.
  [[nodiscard]] absl::Status Check(std::string_view peer, std::string_view call) const;

 private:
  std::vector<util::AddressPrefix> allowed_;  // never changed after construction
};

}  // namespace kv::security
