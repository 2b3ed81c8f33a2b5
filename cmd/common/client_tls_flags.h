// The client tools' TLS and token flags (etcdctl's names), shared by kvctl,
// kvbench and kvchaos.
#pragma once

#include <memory>

#include "CLI/CLI.hpp"
#include "grpcpp/security/credentials.h"
#include "src/security/tls.h"

namespace kv::cmd {

// --cacert, --cert, --key and --token on `app`, written to `options`.
void AddClientTlsFlags(CLI::App& app, security::ClientTlsOptions* options);

// The credentials the flags ask for; on a mistake prints "TOOL: what to fix"
// and exits 2.
std::shared_ptr<grpc::ChannelCredentials> ClientCredentialsOrDie(
    const char* tool, const security::ClientTlsOptions& options);

}  // namespace kv::cmd
