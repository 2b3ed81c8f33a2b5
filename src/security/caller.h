// The Caller of a gRPC call: its address, the certificate it presented and
// its bearer token.
#pragma once

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"
#include "src/security/access_policy.h"
#include "src/security/certificate.h"

namespace kv::security {

// Thread-safe. Parsed certificates are cached (keyed by their PEM), so a
// connection's certificate is parsed once, not on every call.
class CallerReader {
 public:
  Caller Read(const grpc::ServerContextBase& ctx);

 private:
  static constexpr size_t kMaxCached = 4096;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, CertificateInfo> parsed_ ABSL_GUARDED_BY(mu_);
};

// The node a server answered as, from the certificate it presented on the
// call `ctx` made (empty for a plaintext call, or when it cannot be read).
std::optional<CertificateInfo> ServerCertificate(const grpc::ClientContext& ctx);

}  // namespace kv::security
