#include "src/resp/tls_context.h"

#include <openssl/ssl.h>

#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace kv::resp {

TlsContexts::TlsContexts(TlsFiles files, std::shared_ptr<asio::ssl::context> ctx, Stamp stamp)
    : files_(std::move(files)), current_(std::move(ctx)), stamp_(stamp) {}

TlsContexts::Stamp TlsContexts::StampOf(const TlsFiles& files) {
  std::error_code ec;  // an unreadable file stamps as the epoch: Load says why
  Stamp s;
  s.cert = std::filesystem::last_write_time(files.cert_file, ec);
  s.key = std::filesystem::last_write_time(files.key_file, ec);
  s.ca = std::filesystem::last_write_time(files.trusted_ca_file, ec);
  return s;
}

absl::StatusOr<std::shared_ptr<asio::ssl::context>> TlsContexts::Load(const TlsFiles& files) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  asio::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                   ec);
  auto failed = [&](const char* flag, const std::string& path) {
    return absl::InvalidArgumentError(absl::StrCat("--resp-addr TLS: ", flag, " ", path, ": ",
                                                   ec.message(), " (give a PEM file)"));
  };
  if (ctx->use_certificate_chain_file(files.cert_file, ec); ec) {
    return failed("--cert-file", files.cert_file);
  }
  if (ctx->use_private_key_file(files.key_file, asio::ssl::context::pem, ec); ec) {
    return failed("--key-file", files.key_file);
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("--resp-addr TLS: --key-file ", files.key_file,
                                                   " is not the key of --cert-file ",
                                                   files.cert_file));
  }
  if (ctx->load_verify_file(files.trusted_ca_file, ec); ec) {
    return failed("--trusted-ca-file", files.trusted_ca_file);
  }
  // Tell clients which CA their certificate must come from.
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.trusted_ca_file.c_str())) {
    SSL_CTX_set_client_CA_list(ctx->native_handle(), names);
  }
  // A certificate is always verified when presented; required only with
  // --client-cert-auth (gRPC's request-and-verify otherwise).
  asio::ssl::verify_mode mode = asio::ssl::verify_peer;
  if (files.client_cert_auth) mode |= asio::ssl::verify_fail_if_no_peer_cert;
  if (ctx->set_verify_mode(mode, ec); ec) return failed("--trusted-ca-file", files.trusted_ca_file);
  return ctx;
}

absl::StatusOr<std::unique_ptr<TlsContexts>> TlsContexts::Create(TlsFiles files) {
  const Stamp stamp = StampOf(files);
  absl::StatusOr<std::shared_ptr<asio::ssl::context>> ctx = Load(files);
  if (!ctx.ok()) return ctx.status();
  return std::unique_ptr<TlsContexts>(new TlsContexts(std::move(files), *std::move(ctx), stamp));
}

std::shared_ptr<asio::ssl::context> TlsContexts::Current() {
  const absl::Time now = absl::Now();
  if (now - checked_ < files_.reload_interval) return current_;
  checked_ = now;
  const Stamp stamp = StampOf(files_);
  if (stamp == stamp_) return current_;
  absl::StatusOr<std::shared_ptr<asio::ssl::context>> ctx = Load(files_);
  if (!ctx.ok()) {
    // Files caught mid-rewrite, or a bad set: keep serving with the last
    // good one and try again at the next check.
    spdlog::warn("{}; the RESP port keeps the certificate it had",
                 std::string(ctx.status().message()));
    return current_;
  }
  stamp_ = stamp;
  current_ = *std::move(ctx);
  spdlog::info("--resp-addr: reloaded the certificate from {}", files_.cert_file);
  return current_;
}

std::optional<security::CertificateInfo> PeerCertificate(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return std::nullopt;
  absl::StatusOr<security::CertificateInfo> info = security::CertificateInfoOf(cert);
  X509_free(cert);
  if (!info.ok()) return std::nullopt;
  return *std::move(info);
}

}  // namespace kv::resp
