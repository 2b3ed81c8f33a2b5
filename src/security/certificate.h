// What kvstore reads from an X.509 certificate: its subject common name and
// the node ID it proves (SHA-1 of the DER SubjectPublicKeyInfo, as in
// S/Kademlia: choosing an ID means holding a key pair the cluster CA signed).
#pragma once

#include <openssl/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/dht/node_id.h"

namespace kv::security {

struct CertificateInfo {
  std::string common_name;  // empty when the subject has none
  dht::NodeId id;           // SHA-1 of the public key; the same across renewals
};

// Parses the first certificate of a PEM chain. INVALID_ARGUMENT when `pem`
// holds no certificate OpenSSL can read.
[[nodiscard]] absl::StatusOr<CertificateInfo> ParseCertificatePem(absl::string_view pem);

// The same, of a certificate OpenSSL has already parsed (a TLS peer's).
[[nodiscard]] absl::StatusOr<CertificateInfo> CertificateInfoOf(X509* cert);

// Reads `path` and parses it as above; the error names the file.
[[nodiscard]] absl::StatusOr<CertificateInfo> ReadCertificateFile(const std::string& path);

// The whole of a small file (a PEM file or the auth file). NOT_FOUND or
// PERMISSION_DENIED naming the path when it cannot be read.
[[nodiscard]] absl::StatusOr<std::string> ReadSmallFile(const std::string& path);

}  // namespace kv::security
