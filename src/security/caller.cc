#include "src/security/caller.h"

#include "absl/strings/match.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/client_context.h"
#include "grpcpp/security/auth_context.h"

namespace kv::security {

namespace {

std::optional<std::string> PemCertificate(const grpc::AuthContext* auth) {
  if (auth == nullptr) return std::nullopt;
  std::vector<grpc::string_ref> pem = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pem.empty()) return std::nullopt;
  return std::string(pem.front().data(), pem.front().size());
}

}  // namespace

Caller CallerReader::Read(const grpc::ServerContextBase& ctx) {
  Caller out;
  out.peer = ctx.peer();
  const auto& metadata = ctx.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    absl::string_view value(it->second.data(), it->second.size());
    constexpr absl::string_view kBearer = "Bearer ";
    if (absl::StartsWith(value, kBearer)) out.token = std::string(value.substr(kBearer.size()));
  }
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  std::optional<std::string> pem = PemCertificate(auth.get());
  if (!pem) return out;
  {
    // Every call of a connection looks up the same certificate: readers
    // share the lock.
    absl::ReaderMutexLock l(&mu_);
    if (auto it = parsed_.find(*pem); it != parsed_.end()) {
      out.cert = it->second;
      return out;
    }
  }
  absl::StatusOr<CertificateInfo> info = ParseCertificatePem(*pem);
  if (!info.ok()) return out;  // gRPC verified it; unreadable here means no identity
  absl::WriterMutexLock l(&mu_);
  if (parsed_.size() >= kMaxCached) parsed_.clear();
  parsed_.emplace(*std::move(pem), *info);
  out.cert = *std::move(info);
  return out;
}

std::optional<CertificateInfo> ServerCertificate(const grpc::ClientContext& ctx) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  std::optional<std::string> pem = PemCertificate(auth.get());
  if (!pem) return std::nullopt;
  absl::StatusOr<CertificateInfo> info = ParseCertificatePem(*pem);
  if (!info.ok()) return std::nullopt;
  return *std::move(info);
}

}  // namespace kv::security
