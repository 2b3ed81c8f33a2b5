// Client-side routing ("token-aware" routing in Cassandra's drivers): a
// client that knows the members' IDs sends each request straight to the
// node closest to its key. That node is the key's first replica, so as the
// coordinator it applies or reads its own copy and forwards to the other
// replicas only, instead of to all of them: one network hop fewer on the
// path that decides a read.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/kv.pb.h"
#include "src/dht/node_id.h"

namespace kv::client {

// The members in a node's Admin.Peers answer worth sending requests to: the
// node itself, then every peer that is ALIVE or SUSPECT and has not
// announced a planned leave (DOWN and DEAD peers would only time out).
// Fails with INVALID_ARGUMENT, naming the entry, if an ID is not 40 hex
// characters or an address is empty.
[[nodiscard]] absl::StatusOr<std::vector<dht::Contact>> LiveMembers(
    const kvstore::v1::PeersResponse& peers);

// Picks, for each key, the member whose ID is closest to the key's ID
// (SHA-1 of the key) by XOR distance: the key's first replica while every
// member is up (the nodes rank replicas the same way: docs/architecture.md).
// Const after construction, so safe to share among threads.
class OwnerRouter {
 public:
  // REQUIRES: !members.empty().
  explicit OwnerRouter(std::vector<dht::NodeId> members);

  // Index, in the constructor's vector, of the member closest to `key`.
  size_t Pick(std::string_view key) const;

 private:
  std::vector<dht::NodeId> members_;
};

}  // namespace kv::client
