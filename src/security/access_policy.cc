#include "src/security/access_policy.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kv::security {

namespace {

std::string Presented(const Caller& caller) {
  if (!caller.cert) return "no certificate";
  return absl::StrCat("a certificate with CN '", caller.cert->common_name, "'");
}

}  // namespace

bool AccessPolicy::IsMember(const Caller& caller) const {
  return caller.cert && caller.cert->common_name == o_.member_cn;
}

absl::Status AccessPolicy::CheckMember(const Caller& caller, absl::string_view call) const {
  if (!o_.tls || IsMember(caller)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(call, " is for cluster members: present a certificate with CN '", o_.member_cn,
                   "' signed by the cluster CA (this caller presented ", Presented(caller), ")"));
}

absl::Status AccessPolicy::CheckClaim(const Caller& caller, const dht::NodeId& claimed,
                                      absl::string_view call) const {
  if (!o_.tls) return absl::OkStatus();
  if (absl::Status s = CheckMember(caller, call); !s.ok()) return s;
  if (caller.cert->id == claimed) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(call, " claims to come from node ", claimed.ToHex(),
                   ", but the caller's certificate is node ", caller.cert->id.ToHex(),
                   "'s (a node ID is the SHA-1 of its certificate's public key)"));
}

absl::StatusOr<const Grant*> AccessPolicy::ClientGrant(const Caller& caller,
                                                       absl::string_view call) const {
  if (!o_.auth) return nullptr;
  if (caller.token) {
    if (const Grant* g = o_.auth->ForToken(*caller.token)) return g;
    return absl::UnauthenticatedError(
        absl::StrCat(call, ": the bearer token is not in this node's --auth-file"));
  }
  if (caller.cert) {
    if (const Grant* g = o_.auth->ForCommonName(caller.cert->common_name)) return g;
    return absl::UnauthenticatedError(
        absl::StrCat(call, ": no --auth-file line names cn:", caller.cert->common_name,
                     "; present a listed certificate or --token"));
  }
  return absl::UnauthenticatedError(
      absl::StrCat(call,
                   " needs credentials: a client certificate (--cert/--key) or a token "
                   "(--token) that this node's --auth-file lists"));
}

absl::Status AccessPolicy::CheckKey(const Grant* grant, KeyAccess access, absl::string_view key,
                                    absl::string_view call) {
  if (grant == nullptr) return absl::OkStatus();
  if (access == KeyAccess::kWrite && grant->role == Role::kRead) {
    return absl::PermissionDeniedError(
        absl::StrCat(call, ": ", grant->principal, " has role read, which cannot write"));
  }
  if (!absl::StartsWith(key, grant->prefix)) {
    return absl::PermissionDeniedError(
        absl::StrCat(call, ": ", grant->principal, " (role ", RoleName(grant->role),
                     ") may only touch keys starting with '", grant->prefix, "'"));
  }
  return absl::OkStatus();
}

absl::Status AccessPolicy::CheckAdminRead(const Caller& caller, absl::string_view call) const {
  if (!o_.auth || IsMember(caller)) return absl::OkStatus();
  return ClientGrant(caller, call).status();
}

absl::Status AccessPolicy::CheckAdminChange(const Caller& caller, absl::string_view call) const {
  if (!o_.auth) return o_.admin.Check(caller.peer, std::string_view(call.data(), call.size()));
  absl::StatusOr<const Grant*> grant = ClientGrant(caller, call);
  if (!grant.ok()) return grant.status();
  if ((*grant)->role == Role::kAdmin) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(call, " needs role admin; ", (*grant)->principal,
                                                  " has role ", RoleName((*grant)->role)));
}

}  // namespace kv::security
