#include "src/security/admin_access.h"

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace kv::security {

namespace {

// The address part of "ipv4:ADDR:PORT" or "ipv6:[ADDR]:PORT".
absl::StatusOr<util::IpAddress> PeerAddress(std::string_view peer) {
  if (!peer.starts_with("ipv4:") && !peer.starts_with("ipv6:")) {
    return absl::InvalidArgumentError("not an IP peer");
  }
  const std::string_view rest = peer.substr(5);
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) return absl::InvalidArgumentError("no port");
  // gRPC percent-encodes an IPv6 zone ("%25eth0"); a zone never names loopback.
  return util::IpAddress::Parse(rest.substr(0, colon));
}

}  // namespace

absl::Status AdminAccess::Check(std::string_view peer, std::string_view call) const {
  if (peer.starts_with("unix:")) return absl::OkStatus();  // only local users reach it
  absl::StatusOr<util::IpAddress> addr = PeerAddress(peer);
  if (addr.ok()) {
    if (addr->IsLoopback()) return absl::OkStatus();
    for (const util::AddressPrefix& p : allowed_) {
      if (p.Contains(*addr)) return absl::OkStatus();
    }
  }
  return absl::PermissionDeniedError(
      absl::StrCat(std::string(call),
                   " changes the node's state and is accepted only from loopback or an "
                   "address the node's --admin-from allows; this call came from ",
                   std::string(peer),
                   ": run kvctl on the node's host, or restart the node with "
                   "--admin-from ADDR/PREFIX"));
}

}  // namespace kv::security
