// The node's view of who is where: learning contacts (verified before they
// enter the routing table), iterative Kademlia lookups, and a key's replica
// set.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "src/dht/node_id.h"
#include "src/membership/membership.h"
#include "src/replication/peer_transport.h"
#include "src/util/executor.h"

namespace kv::node {

// Thread-safe. Every pointer given to the constructor is not owned and must
// outlive the object; so must the transport's callbacks.
class Router {
 public:
  struct Options {
    dht::Contact self;
    size_t replicas = 3;  // N
    size_t k = 20;        // bucket size, and the number of nodes a lookup finds
    size_t alpha = 3;     // lookup parallelism
  };
  using ContactsCallback = std::function<void(std::vector<dht::Contact>)>;

  // `leaving` tells whether this node is leaving: it then owns no keys.
  // LearnAll's and Lookup's callbacks run on `executor`.
  Router(Options options, membership::Membership* membership, replication::PeerTransport* transport,
         util::Executor* executor, std::function<bool()> leaving);

  // Learns of `c` from someone's word: a request's sender, or a contact an
  // answer named. A contact the table holds at that address is refreshed.
  // Any other is first pinged at its address and inserted only if it answers
  // with its ID (verify before insert, as S/Kademlia recommends), so invented
  // IDs pointing nowhere never enter; for an ID the table holds at another
  // address, the known address is pinged first and keeps the ID if it still
  // answers. A claim that could at best wait in a full bucket's replacement
  // cache is verified at most once per probe interval
  // (Membership::WorthVerifying); the rest are dropped, as are claims beyond
  // kMaxVerifying verifications at once (a real node is met again).
  static constexpr size_t kMaxVerifying = 64;
  void Learn(const dht::Contact& c);
  // Learn, then `then` once the contact is in the table or was dropped.
  void LearnThen(const dht::Contact& c, std::function<void()> then);
  // Learns each of `contacts`; `done` runs on the executor once every
  // verification ended (or timed out).
  void LearnAll(std::vector<dht::Contact> contacts, std::function<void()> done);
  // Adds `c`, which answered a call this node made to c.address as c.id, to
  // the routing table; pings the oldest contact of a full bucket.
  void Insert(const dht::Contact& c);

  // Iterative Kademlia lookup: the k live nodes closest to `target` this
  // node can find, closest first (this node included when it is among them).
  void FindClosest(const dht::NodeId& target, ContactsCallback done);
  // FindClosest for its side effects (the contacts it meets are learned);
  // `done` runs on the executor when it ends, or after 30 s at most.
  void Lookup(const dht::NodeId& target, std::function<void()> done);
  // The replica set of `key_id`: the N closest nodes that are not dead
  // (down nodes included: they keep their keys until --dead-after, and
  // writes leave hints for them). Resolved from the routing table when it
  // holds every node of the key's region (Membership::CertainOwners); else
  // by asking the closest known nodes, nearest first, until one is certain
  // (one hop when the cluster is not much bigger than k squared, two for
  // about k cubed); after kMaxOwnerHops such questions, or when old peers
  // never answer with owners, by a full lookup (which finds live nodes only).
  static constexpr int kMaxOwnerHops = 6;
  void ResolveReplicas(const dht::NodeId& key_id, ContactsCallback done);
  // The answer to a peer's FIND_NODE for `target`: the k closest contacts
  // and, when `owners` is not 0 and this node is certain of them (and not
  // leaving), the `owners` nodes owning target's keys, with those of them
  // its own failure detector judges down.
  replication::PeerTransport::Neighbours AnswerFindNode(const dht::NodeId& target,
                                                        size_t owners) const;
  // Nodes that may own keys now: this node (unless leaving) and every
  // contact neither dead nor left.
  std::vector<dht::Contact> OwnerCandidates() const;

 private:
  struct OwnerSearch;
  // Asks the nearest candidate of `search` not asked yet for the owners.
  void AskForOwners(std::shared_ptr<OwnerSearch> search);
  // The lookup ResolveReplicas falls back on.
  void LookupReplicas(const dht::NodeId& key_id, ContactsCallback done);

  // Learn's ping of c.address; `done` runs once with whether it answered as
  // c.id (false also when the verification was dropped).
  void Verify(const dht::Contact& c, std::function<void(bool)> done);

  const Options options_;
  membership::Membership* const membership_;
  replication::PeerTransport* const transport_;
  util::Executor* const executor_;
  const std::function<bool()> leaving_;

  // IDs whose claimed address Learn is pinging.
  absl::Mutex verify_mu_;
  absl::flat_hash_set<dht::NodeId> verifying_ ABSL_GUARDED_BY(verify_mu_);
};

}  // namespace kv::node
