#include "src/security/tls.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "src/security/certificate.h"

namespace kv::security {

namespace {

// OK when `key_pem` is the private key of the first certificate in `cert_pem`.
absl::Status KeyMatchesCertificate(const std::string& cert_pem, const std::string& key_pem) {
  BIO* cert_bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  BIO_free(cert_bio);
  BIO* key_bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  absl::Status s = absl::OkStatus();
  if (key == nullptr) {
    s = absl::InvalidArgumentError("holds no PEM private key (an unencrypted one is needed)");
  } else if (cert == nullptr || X509_check_private_key(cert, key) != 1) {
    s = absl::InvalidArgumentError("is not the private key of the certificate it is given with");
  }
  EVP_PKEY_free(key);
  X509_free(cert);
  return s;
}

absl::StatusOr<std::string> ReadPem(const char* flag, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, " is empty"));
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok())
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", text.status().message()));
  return text;
}

}  // namespace

NodeTls::NodeTls(NodeTlsOptions options, CertificateInfo certificate)
    : options_(std::move(options)),
      certificate_(std::move(certificate)),
      provider_(std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          options_.key_file, options_.cert_file, options_.trusted_ca_file,
          static_cast<unsigned int>(
              std::max<int64_t>(1, absl::ToInt64Seconds(options_.reload_interval))))) {}

absl::StatusOr<std::unique_ptr<NodeTls>> NodeTls::Create(NodeTlsOptions options) {
  absl::StatusOr<std::string> cert = ReadPem("--cert-file", options.cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<CertificateInfo> info = ParseCertificatePem(*cert);
  if (!info.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--cert-file ", options.cert_file, ": ", info.status().message()));
  }
  absl::StatusOr<std::string> key = ReadPem("--key-file", options.key_file);
  if (!key.ok()) return key.status();
  if (absl::Status s = KeyMatchesCertificate(*cert, *key); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--key-file ", options.key_file, " ", s.message()));
  }
  absl::StatusOr<std::string> ca = ReadPem("--trusted-ca-file", options.trusted_ca_file);
  if (!ca.ok()) return ca.status();
  if (absl::StatusOr<CertificateInfo> ca_info = ParseCertificatePem(*ca); !ca_info.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--trusted-ca-file ", options.trusted_ca_file,
                                                   ": ", ca_info.status().message()));
  }
  return std::unique_ptr<NodeTls>(new NodeTls(std::move(options), *std::move(info)));
}

std::shared_ptr<grpc::ServerCredentials> NodeTls::ServerCredentials() const {
  grpc::experimental::TlsServerCredentialsOptions o(provider_);
  o.watch_root_certs();
  o.watch_identity_key_cert_pairs();
  o.set_cert_request_type(options_.client_cert_auth
                              ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                              : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(o);
}

std::shared_ptr<grpc::ChannelCredentials> NodeTls::ChannelCredentials(bool check_host) const {
  grpc::experimental::TlsChannelCredentialsOptions o;
  o.set_certificate_provider(provider_);
  o.watch_root_certs();
  o.watch_identity_key_cert_pairs();
  o.set_verify_server_certs(true);
  if (!check_host) {
    o.set_check_call_host(false);
    o.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  }
  return grpc::experimental::TlsCredentials(o);
}

std::shared_ptr<grpc::ChannelCredentials> NodeTls::PeerCredentials() const {
  return ChannelCredentials(/*check_host=*/true);
}

std::shared_ptr<grpc::ChannelCredentials> NodeTls::JoinCredentials() const {
  return ChannelCredentials(/*check_host=*/false);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(
    const ClientTlsOptions& o) {
  if (o.cacert.empty()) {
    if (!o.cert.empty() || !o.key.empty() || !o.token.empty()) {
      return absl::InvalidArgumentError(
          "--cert, --key and --token need --cacert (the cluster CA): certificates and tokens "
          "are only sent over TLS");
    }
    return grpc::InsecureChannelCredentials();
  }
  if (o.cert.empty() != o.key.empty()) {
    return absl::InvalidArgumentError("--cert and --key go together; give both or neither");
  }
  grpc::SslCredentialsOptions ssl;
  absl::StatusOr<std::string> ca = ReadPem("--cacert", o.cacert);
  if (!ca.ok()) return ca.status();
  ssl.pem_root_certs = *ca;
  if (!o.cert.empty()) {
    absl::StatusOr<std::string> cert = ReadPem("--cert", o.cert);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem("--key", o.key);
    if (!key.ok()) return key.status();
    if (absl::Status s = KeyMatchesCertificate(*cert, *key); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--key ", o.key, " ", s.message()));
    }
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
  }
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::SslCredentials(ssl);
  if (o.token.empty()) return creds;
  return grpc::CompositeChannelCredentials(creds, grpc::AccessTokenCredentials(o.token));
}

}  // namespace kv::security
