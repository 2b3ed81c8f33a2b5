// The RESP port's TLS: an OpenSSL context (through Asio) built from the
// node's --cert-file, --key-file and --trusted-ca-file, re-read when the
// files change, as gRPC's file watcher does for the gRPC port. Internal to
// kv_resp_server (it includes Asio).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asio/ssl.hpp"
#include "src/resp/server.h"
#include "src/security/certificate.h"

namespace kv::resp {

// Not thread-safe: the event-loop thread owns it.
class TlsContexts {
 public:
  // Reads and checks the files: INVALID_ARGUMENT naming the file and what
  // OpenSSL found wrong.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TlsContexts>> Create(TlsFiles files);

  // The context for a new connection: the files as last read, re-read first
  // when reload_interval has passed and one of them changed. A changed set
  // that does not load is logged and the last good one kept.
  std::shared_ptr<asio::ssl::context> Current();

 private:
  struct Stamp {
    std::filesystem::file_time_type cert, key, ca;
    bool operator==(const Stamp&) const = default;
  };
  TlsContexts(TlsFiles files, std::shared_ptr<asio::ssl::context> ctx, Stamp stamp);
  static Stamp StampOf(const TlsFiles& files);
  static absl::StatusOr<std::shared_ptr<asio::ssl::context>> Load(const TlsFiles& files);

  const TlsFiles files_;
  std::shared_ptr<asio::ssl::context> current_;
  Stamp stamp_;
  absl::Time checked_ = absl::Now();
};

// The certificate the client presented on `ssl` (the handshake verified it
// against the CA), or nullopt when it presented none.
std::optional<security::CertificateInfo> PeerCertificate(SSL* ssl);

}  // namespace kv::resp
