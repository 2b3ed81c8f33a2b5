#include "cmd/kvstore/security_flags.h"

#include <cstdio>
#include <cstdlib>

#include "cmd/kvstore/flags.h"
#include "spdlog/spdlog.h"
#include "src/security/auth_file.h"
#include "src/security/certificate.h"
#include "src/util/duration.h"

namespace kv::cmd {

void AddSecurityFlags(CLI::App& app, SecurityFlags* f) {
  app.add_option("--cert-file", f->cert_file,
                 "PEM certificate: serve TLS on --addr and present it to peers (mTLS between "
                 "nodes); needs serverAuth and clientAuth, and SANs for the addresses peers dial "
                 "and 127.0.0.1. The node's ID becomes SHA-1 of its public key");
  app.add_option("--key-file", f->key_file, "PEM private key of --cert-file");
  app.add_option("--trusted-ca-file", f->trusted_ca_file,
                 "PEM CA certificate(s) that verify every peer's and client's certificate");
  app.add_flag("--client-cert-auth", f->client_cert_auth,
               "clients must present a certificate the CA signed (otherwise TLS alone will do)");
  app.add_option("--peer-cert-allowed-cn", f->peer_cert_allowed_cn,
                 "subject CN that makes a certificate a cluster member; any other is a client")
      ->capture_default_str();
  app.add_option("--auth-file", f->auth_file,
                 "who may do what, one principal per line: 'cn:NAME ROLE [PREFIX]' or "
                 "'token-sha256:HEX ROLE [PREFIX]', ROLE one of read, write, admin (needs "
                 "--cert-file)");
  app.add_option("--cert-reload-interval", f->cert_reload_interval,
                 "how often the certificate, key and CA files are re-read; new connections use "
                 "the new ones")
      ->capture_default_str();
  app.add_flag("--print-node-id", f->print_node_id,
               "print the node ID --cert-file proves (SHA-1 of its public key) and exit");
}

void CheckCertificateKey(const SecurityFlags& f, const dht::NodeId& self, bool* mismatch) {
  absl::StatusOr<security::CertificateInfo> cert = security::ReadCertificateFile(f.cert_file);
  if (!cert.ok()) return;  // mid-rewrite, or gone: gRPC keeps the last good pair
  if (cert->id != self && !*mismatch) {
    spdlog::error(
        "--cert-file {} now holds another key (node ID {}), but this node is {}: a node's ID is "
        "its key's, so peers refuse this node's calls once the new pair is loaded. Put back a "
        "certificate for the key this node started with (renewals must keep the key), or "
        "restart it as a new node on a fresh data dir (docs/security.md)",
        f.cert_file, cert->id.ToHex(), self.ToHex());
    *mismatch = true;
  } else if (cert->id == self && *mismatch) {
    spdlog::info("--cert-file {} proves this node's ID again", f.cert_file);
    *mismatch = false;
  }
}

bool IsLoopbackAddress(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  std::string host = host_port.substr(0, colon == std::string::npos ? host_port.size() : colon);
  if (host == "localhost") return true;
  absl::StatusOr<util::IpAddress> ip = util::IpAddress::Parse(host);
  return ip.ok() && ip->IsLoopback();
}

Security SetUpSecurity(const SecurityFlags& f, std::vector<util::AddressPrefix> admin_from) {
  Security out;
  const bool any_tls = !f.cert_file.empty() || !f.key_file.empty() || !f.trusted_ca_file.empty();
  if (f.print_node_id && f.cert_file.empty()) Die("--print-node-id needs --cert-file");
  if (f.print_node_id) {
    absl::StatusOr<security::CertificateInfo> cert = security::ReadCertificateFile(f.cert_file);
    if (!cert.ok()) Die("--cert-file: " + std::string(cert.status().message()));
    std::printf("%s\n", cert->id.ToHex().c_str());
    std::exit(0);
  }
  if (any_tls && (f.cert_file.empty() || f.key_file.empty() || f.trusted_ca_file.empty())) {
    Die("TLS needs all three of --cert-file, --key-file and --trusted-ca-file");
  }
  if (!any_tls && f.client_cert_auth) Die("--client-cert-auth needs --cert-file (TLS)");
  if (!any_tls && !f.auth_file.empty()) {
    Die("--auth-file needs --cert-file: over plaintext, certificate names and tokens prove "
        "nothing and tokens could be read off the network");
  }
  if (f.peer_cert_allowed_cn.empty()) Die("--peer-cert-allowed-cn must not be empty");
  std::optional<security::AuthFile> auth;
  if (!f.auth_file.empty()) {
    absl::StatusOr<std::string> text = security::ReadSmallFile(f.auth_file);
    if (!text.ok()) Die("--auth-file: " + std::string(text.status().message()));
    absl::StatusOr<security::AuthFile> parsed =
        security::AuthFile::Parse(*text, f.peer_cert_allowed_cn);
    if (!parsed.ok()) {
      Die("--auth-file " + f.auth_file + ": " + std::string(parsed.status().message()));
    }
    auth.emplace(*std::move(parsed));
  }
  out.policy = security::AccessPolicy({.tls = any_tls,
                                       .client_cert_auth = f.client_cert_auth,
                                       .member_cn = f.peer_cert_allowed_cn,
                                       .auth = std::move(auth),
                                       .admin = security::AdminAccess(std::move(admin_from))});
  if (!any_tls) return out;
  absl::StatusOr<absl::Duration> reload =
      util::ParseDurationFlag("--cert-reload-interval", f.cert_reload_interval);
  if (!reload.ok()) Die(std::string(reload.status().message()));
  if (*reload < absl::Seconds(1)) Die("--cert-reload-interval must be at least 1s");
  absl::StatusOr<std::unique_ptr<security::NodeTls>> tls =
      security::NodeTls::Create({.cert_file = f.cert_file,
                                 .key_file = f.key_file,
                                 .trusted_ca_file = f.trusted_ca_file,
                                 .client_cert_auth = f.client_cert_auth,
                                 .reload_interval = *reload});
  if (!tls.ok()) Die(std::string(tls.status().message()));
  out.reload_interval = *reload;
  out.tls = *std::move(tls);
  const security::CertificateInfo* cert = &out.tls->certificate();
  if (cert->common_name != f.peer_cert_allowed_cn) {
    Die("--cert-file's subject CN is '" + cert->common_name + "', not the member CN '" +
        f.peer_cert_allowed_cn +
        "': peers would refuse this node; issue it a certificate with CN=" +
        f.peer_cert_allowed_cn + " (or set --peer-cert-allowed-cn on every node)");
  }
  out.id = cert->id;
  return out;
}

}  // namespace kv::cmd
