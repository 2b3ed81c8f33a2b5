// Who may make which call: the one place that decides it.
//
//   - Plaintext (no --cert-file): everyone may make every call, except the
//     Admin calls that change state (Leave, Snapshot, DropKeys), which only
//     loopback and --admin-from may make.
//   - TLS: member-only calls (Peer.*, KV.Join, KV.Heartbeat, KV.Ping that
//     names its sender) need a certificate whose CN is the member CN, and
//     every node ID the caller claims as its own must be its certificate's.
//   - With --auth-file, client calls need a principal the file names, whose
//     role and key prefix allow the call; admin role replaces the loopback
//     rule. Members are never clients or admins.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/dht/node_id.h"
#include "src/security/admin_access.h"
#include "src/security/auth_file.h"
#include "src/security/certificate.h"

namespace kv::security {

// What a call arrived with.
struct Caller {
  std::string peer;  // gRPC's peer string ("ipv4:127.0.0.1:41234")
  // The certificate the caller presented (the CA verified it), if any.
  std::optional<CertificateInfo> cert;
  // The bearer token of `authorization: Bearer TOKEN`, if any.
  std::optional<std::string> token;
};

enum class KeyAccess { kRead, kWrite };

// Immutable after construction; thread-safe.
class AccessPolicy {
 public:
  struct Options {
    bool tls = false;
    bool client_cert_auth = false;  // TLS clients must present a certificate
    std::string member_cn = "node";
    std::optional<AuthFile> auth;
    AdminAccess admin;  // the loopback rule, used without `auth`
  };
  AccessPolicy() = default;
  explicit AccessPolicy(Options options) : o_(std::move(options)) {}

  bool tls() const { return o_.tls; }
  // "plaintext", "tls", or "mtls" when clients must present a certificate.
  absl::string_view transport() const {
    return !o_.tls ? "plaintext" : o_.client_cert_auth ? "mtls" : "tls";
  }
  // True when client calls need a principal (an --auth-file was given).
  bool checks_clients() const { return o_.auth.has_value(); }

  // A member-only call. PERMISSION_DENIED naming the call and what the
  // caller presented.
  [[nodiscard]] absl::Status CheckMember(const Caller& caller, absl::string_view call) const;
  // A member-only call in which the caller says it is node `claimed`.
  [[nodiscard]] absl::Status CheckClaim(const Caller& caller, const dht::NodeId& claimed,
                                        absl::string_view call) const;

  // The client's grant: null when there is no auth file (every client may
  // read and write every key). UNAUTHENTICATED when the caller presented
  // no principal the file names.
  [[nodiscard]] absl::StatusOr<const Grant*> ClientGrant(const Caller& caller,
                                                         absl::string_view call) const;
  // OK when `grant` (from ClientGrant) allows `access` to `key`;
  // PERMISSION_DENIED naming the role and prefix otherwise.
  [[nodiscard]] static absl::Status CheckKey(const Grant* grant, KeyAccess access,
                                             absl::string_view key, absl::string_view call);

  // Admin calls that only read (Peers, Stats, Locate): any principal.
  [[nodiscard]] absl::Status CheckAdminRead(const Caller& caller, absl::string_view call) const;
  // Admin calls that change the node (Leave, Snapshot, DropKeys): admin role,
  // or without an auth file the loopback rule.
  [[nodiscard]] absl::Status CheckAdminChange(const Caller& caller, absl::string_view call) const;

 private:
  bool IsMember(const Caller& caller) const;

  Options o_;
};

}  // namespace kv::security
