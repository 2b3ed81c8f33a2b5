// One simulated node's PeerTransport: each call goes through the Network to
// the PeerApi of the node at the address called, and its answer comes back
// the same way. Heartbeats, which the real binary sends on gRPC streams
// (src/rpc/heartbeat.cc), are single messages here (Beat), each answered by
// one from the receiver as the stream's far end would.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "src/replication/peer_transport.h"
#include "src/sim/network.h"

namespace kv::sim {

// Not thread-safe: runs on the network's executor. `net` is not owned.
class Transport final : public replication::PeerTransport {
 public:
  Transport(Network* net, dht::Contact self, uint64_t incarnation)
      : net_(net), self_(std::move(self)), incarnation_(incarnation) {}

  // The process crashed: answers to its calls are dropped from now on, so
  // none of its code runs again (a durable engine it shared may be reused).
  void Kill() { *alive_ = false; }

  void Store(const dht::Contact& to, const std::string& key, const storage::Record& rec,
             StoreCallback done) override;
  void Fetch(const dht::Contact& to, const std::string& key, FetchCallback done) override;
  void FindNode(const dht::Contact& to, const dht::NodeId& target, FindNodeCallback done) override;
  void FindOwners(const dht::Contact& to, const dht::NodeId& target, size_t owners,
                  FindOwnersCallback done) override;
  void Ping(const std::string& address, PingCallback done) override;
  void Join(const std::string& address, JoinCallback done) override;
  void StoreHint(const dht::Contact& to, const dht::NodeId& target, const std::string& key,
                 const storage::Record& rec, StoreCallback done) override;
  void SyncDigest(const dht::Contact& to, const replication::Digest& digest, bool root_only,
                  DigestCallback done) override;
  void Reconcile(const dht::Contact& to, const std::vector<uint32_t>& buckets,
                 const std::vector<uint32_t>& leaves,
                 const std::vector<replication::KeyVersion>& keys, ReconcileCallback done) override;
  void SyncTree(const dht::Contact& to, const std::vector<replication::TreeRange>& ranges,
                TreeCallback done) override;
  void Leaving(const dht::Contact& to, StoreCallback done) override;
  void Gossip(const dht::Contact& to, GossipMessage message, GossipCallback done) override;

  // One heartbeat to `to`, carrying a clock sample as the real exchange
  // would measure it (the receiver's clock read when the beat arrives), and
  // `to`'s beat back. `epoch`: the sending node's.
  void Beat(const dht::Contact& to, uint64_t epoch);

  // Calls sent by this transport so far (not answers), heartbeats apart.
  uint64_t calls() const { return calls_; }
  uint64_t beats() const { return beats_; }
  // Of calls(), the gossip exchanges.
  uint64_t gossips() const { return gossips_; }

 private:
  // Sends `call` to `to`; its answer, or UNAVAILABLE/DEADLINE_EXCEEDED, to
  // `done`. `Answer` is what the receiving node computes.
  template <typename Answer>
  void Roundtrip(const std::string& to, absl::string_view what,
                 std::function<void(node::PeerApi*, std::function<void(Answer)>)> call,
                 std::function<void(Answer)> done);

  Network* const net_;
  const dht::Contact self_;
  const uint64_t incarnation_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  uint64_t calls_ = 0;
  uint64_t beats_ = 0;
  uint64_t gossips_ = 0;
};

}  // namespace kv::sim
