// gRPC credentials from PEM files: the node's (server and peer dialing, one
// certificate for both, reloaded when the files change) and a client tool's.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "src/security/certificate.h"

namespace kv::security {

// A node's TLS set-up (kvstore --cert-file --key-file --trusted-ca-file).
struct NodeTlsOptions {
  std::string cert_file;
  std::string key_file;
  std::string trusted_ca_file;
  // Clients must present a certificate the CA signed; otherwise they may
  // connect with TLS alone (a certificate, if they present one, is verified).
  bool client_cert_auth = false;
  // How often the files are re-read; a changed pair is used for new
  // connections from then on.
  absl::Duration reload_interval = absl::Minutes(1);
};

// The credentials of one node. Thread-safe; both credentials share one
// file watcher.
class NodeTls {
 public:
  // Checks that the three files can be read and parsed, and that the key
  // belongs to the certificate: INVALID_ARGUMENT (or NOT_FOUND) naming the
  // file and what to fix.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<NodeTls>> Create(NodeTlsOptions options);

  std::shared_ptr<grpc::ServerCredentials> ServerCredentials() const;
  // For dialing peers: presents this node's certificate (mTLS), verifies
  // theirs against the CA and the address dialed.
  std::shared_ptr<grpc::ChannelCredentials> PeerCredentials() const;
  // For joining through a seed: the same, but without the check that the
  // certificate names the address dialed (seeds are often IPs found by DNS
  // that no certificate names). The chain is still verified against the CA.
  std::shared_ptr<grpc::ChannelCredentials> JoinCredentials() const;

  // The certificate --cert-file held at Create (its CN and node ID).
  const CertificateInfo& certificate() const { return certificate_; }

 private:
  NodeTls(NodeTlsOptions options, CertificateInfo certificate);
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(bool check_host) const;

  const NodeTlsOptions options_;
  const CertificateInfo certificate_;
  std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> provider_;
};

// A client tool's TLS and token (etcdctl's names: --cacert --cert --key, and
// --token).
struct ClientTlsOptions {
  std::string cacert;  // empty: plaintext
  std::string cert;    // with `key`: a client certificate
  std::string key;
  std::string token;  // sent as `authorization: Bearer TOKEN`
};

// Insecure credentials when every field is empty. INVALID_ARGUMENT when the
// options do not fit together (a token or certificate without --cacert, a
// certificate without its key) or a file cannot be read.
[[nodiscard]] absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(
    const ClientTlsOptions& options);

}  // namespace kv::security
