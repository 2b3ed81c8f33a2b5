// kvstore's security flags: TLS files, the member CN, the auth file, and
// what they imply at start (the node ID a certificate proves, the access
// policy, the plaintext warning).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "src/dht/node_id.h"
#include "src/security/access_policy.h"
#include "src/security/tls.h"
#include "src/util/address_prefix.h"

namespace kv::cmd {

struct SecurityFlags {
  std::string cert_file;
  std::string key_file;
  std::string trusted_ca_file;
  bool client_cert_auth = false;
  std::string peer_cert_allowed_cn = "node";
  std::string auth_file;
  std::string cert_reload_interval = "1m";
  bool print_node_id = false;
};

void AddSecurityFlags(CLI::App& app, SecurityFlags* f);

struct Security {
  std::unique_ptr<security::NodeTls> tls;  // null: plaintext
  std::optional<dht::NodeId> id;           // the certificate's node ID
  security::AccessPolicy policy;
  absl::Duration reload_interval = absl::Minutes(1);  // --cert-reload-interval
};

// Checks the flags and reads the files; exits with a sentence saying what to
// fix when they are wrong. `admin_from` is --admin-from.
Security SetUpSecurity(const SecurityFlags& f, std::vector<util::AddressPrefix> admin_from);

// gRPC re-reads --cert-file and --key-file and serves whatever pair it
// finds, even one with another key, while the node keeps the ID of the key
// it started with: its peers then refuse every call it makes. Called every
// --cert-reload-interval, this logs an error when the file's key stops
// proving `self` (and once more when it is back). `*mismatch` carries the
// state between calls.
void CheckCertificateKey(const SecurityFlags& f, const dht::NodeId& self, bool* mismatch);

// True when `host_port` (an --addr or --advertise) is on loopback.
bool IsLoopbackAddress(const std::string& host_port);

}  // namespace kv::cmd
