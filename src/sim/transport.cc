#include "src/sim/transport.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kv::sim {

namespace {

absl::Status Unreachable(const std::string& to) {
  return absl::DeadlineExceededError(absl::StrCat("simulated: no answer from ", to));
}

// One beat from `from` to the node at `to`, carrying a clock sample as the
// real exchange would measure it. With `echo` the receiver beats back, as
// the far end of a real heartbeat stream writes on it: a node hears every
// peer it watches, whether or not that peer watches it.
void SendBeat(Network* net, const dht::Contact& from, uint64_t incarnation, uint64_t epoch,
              const std::string& to, bool echo) {
  const absl::Time sent = net->NowAt(from.address);  // on the sender's clock
  const absl::Time sent_world = net->clock()->Now();
  net->Call(
      from.address, to, "Beat",
      [net, from, incarnation, epoch, to, sent, sent_world, echo](node::PeerApi* n) {
        // One-way, so the receiver's sample is made up as the echo of a real
        // stream would give it: as if it had sent a beat one round trip of
        // this latency before, answered at `sent` (the sender's clock). The
        // offset it measures is then exactly the two clocks' difference.
        const absl::Time at = net->NowAt(to);
        const absl::Duration latency = net->clock()->Now() - sent_world;
        n->HandleHeartbeat(from,
                           membership::ClockSample::FromExchange(at - 2 * latency, sent, sent, at),
                           incarnation, epoch);
        if (echo) {
          SendBeat(net, n->self(), n->incarnation(), n->epoch(), from.address, /*echo=*/false);
        }
      },
      [] {});
}

}  // namespace

template <typename Answer>
void Transport::Roundtrip(const std::string& to, absl::string_view what,
                          std::function<void(node::PeerApi*, std::function<void(Answer)>)> call,
                          std::function<void(Answer)> done) {
  ++calls_;
  // Answers (and failures) reach the caller only while its process lives.
  auto shared_done = std::make_shared<std::function<void(Answer)>>(
      [alive = alive_, done = std::move(done)](Answer a) {
        if (*alive) done(std::move(a));
      });
  auto fail = [shared_done, to] { (*shared_done)(Answer(Unreachable(to))); };
  net_->Call(
      self_.address, to, what,
      [this, to, call = std::move(call), shared_done, fail](node::PeerApi* n) {
        call(n, [this, to, shared_done, fail](Answer a) {
          net_->Answer(
              to, self_.address,
              [shared_done, a = std::move(a)]() mutable { (*shared_done)(std::move(a)); }, fail);
        });
      },
      fail);
}

void Transport::Store(const dht::Contact& to, const std::string& key, const storage::Record& rec,
                      StoreCallback done) {
  Roundtrip<absl::Status>(
      to.address, "Store " + key,
      [this, key, rec](node::PeerApi* n, std::function<void(absl::Status)> answer) {
        n->HandleStore(self_, key, rec, [answer](absl::StatusOr<bool> r) { answer(r.status()); });
      },
      std::move(done));
}

void Transport::Fetch(const dht::Contact& to, const std::string& key, FetchCallback done) {
  using R = absl::StatusOr<std::optional<storage::Record>>;
  Roundtrip<R>(
      to.address, "Fetch " + key,
      [key](node::PeerApi* n, std::function<void(R)> answer) { answer(n->HandleFetch(key)); },
      std::move(done));
}

void Transport::FindNode(const dht::Contact& to, const dht::NodeId& target, FindNodeCallback done) {
  using R = absl::StatusOr<std::vector<dht::Contact>>;
  Roundtrip<R>(
      to.address, "FindNode " + target.ShortHex(),
      [this, target](node::PeerApi* n, std::function<void(R)> answer) {
        answer(n->HandleFindNode(self_, target).closest);
      },
      std::move(done));
}

void Transport::FindOwners(const dht::Contact& to, const dht::NodeId& target, size_t owners,
                           FindOwnersCallback done) {
  using R = absl::StatusOr<Neighbours>;
  Roundtrip<R>(
      to.address, "FindOwners " + target.ShortHex(),
      [this, target, owners](node::PeerApi* n, std::function<void(R)> answer) {
        answer(n->HandleFindNode(self_, target, owners));
      },
      std::move(done));
}

void Transport::Ping(const std::string& address, PingCallback done) {
  using R = absl::StatusOr<dht::Contact>;
  Roundtrip<R>(
      address, "Ping",
      [this](node::PeerApi* n, std::function<void(R)> answer) {
        n->HandlePing(self_);
        answer(n->self());
      },
      std::move(done));
}

void Transport::Join(const std::string& address, JoinCallback done) {
  using R = absl::StatusOr<JoinAnswer>;
  Roundtrip<R>(
      address, "Join",
      [this, address](node::PeerApi* n, std::function<void(R)> answer) {
        answer(JoinAnswer{.contacts = n->HandleJoin(self_), .seed_clock = net_->NowAt(address)});
      },
      std::move(done));
}

void Transport::StoreHint(const dht::Contact& to, const dht::NodeId& target, const std::string& key,
                          const storage::Record& rec, StoreCallback done) {
  Roundtrip<absl::Status>(
      to.address, "StoreHint " + key,
      [this, target, key, rec](node::PeerApi* n, std::function<void(absl::Status)> answer) {
        n->HandleStoreHint(self_, target, key, rec, std::move(answer));
      },
      std::move(done));
}

void Transport::SyncDigest(const dht::Contact& to, const replication::Digest& digest,
                           bool root_only, DigestCallback done) {
  using R = absl::StatusOr<replication::DigestAnswer>;
  Roundtrip<R>(
      to.address, root_only ? "SyncDigest root" : "SyncDigest",
      [this, digest, root_only](node::PeerApi* n, std::function<void(R)> answer) {
        std::optional<replication::Digest> theirs;
        if (!root_only) theirs = digest;
        n->HandleSyncDigest(self_, replication::DigestRoot(digest), theirs, std::move(answer));
      },
      std::move(done));
}

void Transport::Reconcile(const dht::Contact& to, const std::vector<uint32_t>& buckets,
                          const std::vector<uint32_t>& leaves,
                          const std::vector<replication::KeyVersion>& keys,
                          ReconcileCallback done) {
  using R = absl::StatusOr<replication::ReconcilePlan>;
  Roundtrip<R>(
      to.address, "Reconcile",
      [this, buckets, leaves, keys](node::PeerApi* n, std::function<void(R)> answer) {
        n->HandleReconcile(self_, buckets, leaves, keys, std::move(answer));
      },
      std::move(done));
}

void Transport::SyncTree(const dht::Contact& to, const std::vector<replication::TreeRange>& ranges,
                         TreeCallback done) {
  using R = absl::StatusOr<replication::TreeAnswer>;
  if (net_->previous_release(self_.address)) return done(absl::UnimplementedError("SyncTree"));
  Roundtrip<R>(
      to.address, "SyncTree",
      [this, to, ranges](node::PeerApi* n, std::function<void(R)> answer) {
        if (net_->previous_release(to.address)) {
          return answer(absl::UnimplementedError("unknown method SyncTree"));
        }
        answer(n->HandleSyncTree(self_, ranges));
      },
      std::move(done));
}

void Transport::Leaving(const dht::Contact& to, StoreCallback done) {
  Roundtrip<absl::Status>(
      to.address, "Leaving",
      [this](node::PeerApi* n, std::function<void(absl::Status)> answer) {
        n->HandleLeaving(self_, incarnation_);
        answer(absl::OkStatus());
      },
      std::move(done));
}

void Transport::Gossip(const dht::Contact& to, GossipMessage message, GossipCallback done) {
  using R = absl::StatusOr<GossipMessage>;
  ++gossips_;
  Roundtrip<R>(
      to.address, "Gossip",
      [this, message = std::move(message)](node::PeerApi* n, std::function<void(R)> answer) {
        answer(n->HandleGossip(self_, message));
      },
      std::move(done));
}

void Transport::Beat(const dht::Contact& to, uint64_t epoch) {
  ++beats_;
  SendBeat(net_, self_, incarnation_, epoch, to.address, /*echo=*/true);
}

}  // namespace kv::sim
