// --route owner: the cluster's members, learnt from the nodes in --addr.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "src/dht/node_id.h"

namespace kv::bench {

// Asks the addresses in turn for their view of the cluster (Admin.Peers,
// each call with `timeout` as its deadline) and returns the live members of
// the first answer (client::LiveMembers). The list is read once: a node that
// joins later gets no requests, and requests for keys of a node that fails
// during the run fail (and are counted). Fails with UNAVAILABLE, naming the
// last error, when no address answers.
[[nodiscard]] absl::StatusOr<std::vector<dht::Contact>> DiscoverMembers(
    const std::vector<std::string>& addrs, absl::Duration timeout,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials);

}  // namespace kv::bench
