#include "cmd/common/client_tls_flags.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace kv::cmd {

void AddClientTlsFlags(CLI::App& app, security::ClientTlsOptions* o) {
  app.add_option("--cacert", o->cacert,
                 "PEM CA certificate that verifies the node's certificate (turns TLS on)");
  app.add_option("--cert", o->cert, "PEM client certificate to present (with --key)");
  app.add_option("--key", o->key, "PEM private key of --cert");
  app.add_option("--token", o->token,
                 "bearer token, sent as 'authorization: Bearer TOKEN' (needs --cacert)");
}

std::shared_ptr<grpc::ChannelCredentials> ClientCredentialsOrDie(
    const char* tool, const security::ClientTlsOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds =
      security::ClientCredentials(options);
  if (!creds.ok()) {
    std::fprintf(stderr, "%s: %s\n", tool, std::string(creds.status().message()).c_str());
    std::exit(2);
  }
  return *creds;
}

}  // namespace kv::cmd
