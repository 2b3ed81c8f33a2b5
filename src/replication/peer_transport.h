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
#include "src/membership/rumours.h"
#include "src/replication/anti_entropy.h"
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
  // A FIND_NODE answer that may also name a key's owners: `owners` is empty
  // unless the answering node is certain of them
  // (membership::Membership::CertainOwners).
  struct Neighbours {
    std::vector<dht::Contact> closest;
    std::vector<dht::Contact> owners;
    std::vector<dht::NodeId> down;  // of `owners`, those the answering node sees down
  };
  using FindOwnersCallback = std::function<void(absl::StatusOr<Neighbours>)>;
  // A join answer: the seed's own contact first, then the peers it
  // suggested; and the seed's wall clock when it answered (nullopt from
  // seeds that do not send it), the joiner's first measurement of a peer's
  // clock.
  struct JoinAnswer {
    std::vector<dht::Contact> contacts;
    std::optional<absl::Time> seed_clock;
  };
  using JoinCallback = std::function<void(absl::StatusOr<JoinAnswer>)>;

  // One side of a gossip exchange (Peer.Gossip): the sender's epoch and the
  // rumours it passes on (membership/rumours.h).
  struct GossipMessage {
    uint64_t epoch = 0;
    std::vector<membership::Rumour> rumours;
  };
  using GossipCallback = std::function<void(absl::StatusOr<GossipMessage>)>;

  // Anti-entropy answers (see anti_entropy.h and docs/protocol.md).
  using DigestCallback = std::function<void(absl::StatusOr<DigestAnswer>)>;
  using ReconcileCallback = std::function<void(absl::StatusOr<ReconcilePlan>)>;
  using TreeCallback = std::function<void(absl::StatusOr<TreeAnswer>)>;

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

  // The calls below have defaults that fail with UNIMPLEMENTED, so that test
  // transports only implement what their tests use.

  // FIND_NODE that also asks `to` for the `owners` nodes owning target's
  // keys, if it is certain of them.
  virtual void FindOwners(const dht::Contact& to, const dht::NodeId& target, size_t owners,
                          FindOwnersCallback done) {
    done(absl::UnimplementedError("FindOwners"));
  }
  // Asks `to` to keep `rec` as a hint for `target`, a replica that is down.
  virtual void StoreHint(const dht::Contact& to, const dht::NodeId& target, const std::string& key,
                         const storage::Record& rec, StoreCallback done) {
    done(absl::UnimplementedError("StoreHint"));
  }
  // Anti-entropy step 1: `to` compares its digest of the records both nodes
  // own with `digest`: the roots only when `root_only`, else every bucket.
  virtual void SyncDigest(const dht::Contact& to, const Digest& digest, bool root_only,
                          DigestCallback done) {
    done(absl::UnimplementedError("SyncDigest"));
  }
  // Anti-entropy over digest trees: `to` answers which of `ranges` it
  // hashes otherwise (nodes of the previous release: UNIMPLEMENTED).
  virtual void SyncTree(const dht::Contact& to, const std::vector<TreeRange>& ranges,
                        TreeCallback done) {
    done(absl::UnimplementedError("SyncTree"));
  }
  // Anti-entropy step 2: `keys` are this node's records in `buckets` (of
  // the 1024-bucket digest) and `leaves` (of the digest tree) that both
  // nodes own; `to` answers what it has newer and what it wants.
  virtual void Reconcile(const dht::Contact& to, const std::vector<uint32_t>& buckets,
                         const std::vector<uint32_t>& leaves, const std::vector<KeyVersion>& keys,
                         ReconcileCallback done) {
    done(absl::UnimplementedError("Reconcile"));
  }
  // Dissemination: gives `to` this node's epoch and rumours; the answer
  // carries `to`'s.
  virtual void Gossip(const dht::Contact& to, GossipMessage message, GossipCallback done) {
    done(absl::UnimplementedError("Gossip"));
  }
  // Tells `to` that this node is leaving the cluster (planned leave).
  virtual void Leaving(const dht::Contact& to, StoreCallback done) {
    done(absl::UnimplementedError("Leaving"));
  }
};

}  // namespace kv::replication
