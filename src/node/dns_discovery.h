// Peer discovery through DNS: `--discover dns:NAME:PORT` resolves every A and
// AAAA record of NAME (for a Kubernetes headless Service: one per pod) and
// turns each address into a "host:port" seed.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kv::node {

struct DnsTarget {
  std::string name;
  int port = 0;
};

// Parses "dns:NAME:PORT" (NAME may be a bracketed IPv6 literal).
absl::StatusOr<DnsTarget> ParseDnsTarget(const std::string& spec);

// All addresses of target.name as "a.b.c.d:PORT" or "[v6]:PORT", deduplicated,
// sorted. NOT_FOUND when the name has no address (yet), UNAVAILABLE on other
// resolver errors. Blocks on the system resolver (getaddrinfo).
absl::StatusOr<std::vector<std::string>> ResolveDnsSeeds(const DnsTarget& target);

}  // namespace kv::node
