// The calls a node makes to its peers, as seen by the layers above gRPC.
// src/rpc implements it over gRPC; tests implement it in memory.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/dht/node_id.h"
#include "src/storage/record.h"

namespace kv::replication {

// Asynchronous, non-blocking peer calls. Every call ends by invoking its
// callback exactly once, on an arbitrary thread, possibly before the call
// returns; a call that cannot start (shutdown) fails with UNAVAILABLE.
// Implementations are thread-safe and bound every call by a deadline.
class PeerTransport {
 public:
  using StoreCallback = std::function<void(absl::Status)>;
  using FetchCallback = std::function<void(absl::StatusOr<std::optional<storage::Record>>)>;
  using FindNodeCallback = std::function<void(absl::StatusOr<std::vector<dht::Contact>>)>;
  using PingCallback = std::function<void(absl::StatusOr<dht::Contact>)>;
  // A join answer: the seed's own contact first, then the peers it suggested.
  using JoinCallback = std::function<void(absl::StatusOr<std::vector<dht::Contact>>)>;

  virtual ~PeerTransport() = default;

  // Asks `to` to apply `rec` under `key` (last-writer-wins on the replica).
  virtual void Store(const dht::Contact& to, const std::string& key, const storage::Record& rec,
                     StoreCallback done) = 0;
  // Reads the replica's record for `key` (tombstones and expired records included).
  virtual void Fetch(const dht::Contact& to, const std::string& key, FetchCallback done) = 0;
  // Kademlia FIND_NODE: `to`'s closest contacts to `target`.
  virtual void FindNode(const dht::Contact& to, const dht::NodeId& target,
                        FindNodeCallback done) = 0;
  // Liveness probe of the node at `address`; answers with its identity.
  virtual void Ping(const std::string& address, PingCallback done) = 0;
  // Introduces this node to the seed at `address` (any host:port, DNS names included).
  virtual void Join(const std::string& address, JoinCallback done) = 0;
};

}  // namespace kv::replication
