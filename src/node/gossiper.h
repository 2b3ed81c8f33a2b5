// Gossiper: spreads the rumours of membership/rumours.h, SWIM-style, over
// Peer.Gossip exchanges with contacts picked at random from the routing
// table (every bucket, so a rumour crosses the ID space in a few hops;
// heartbeats only reach a node's nearest neighbours).
//
//   - News (a verdict of this node's detector, a refutation, or a rumour a
//     message brought) goes out at once, to `fanout` random live contacts;
//     each answer carries the other side's pending rumours back.
//   - Every maintenance tick flushes what is still pending, and every
//     `pull_interval` one exchange happens even with nothing to send, so a
//     node that missed a rumour still hears the ones in flight. A pull
//     carries a few of this node's settled rumours of deaths; a peer that
//     knows better (the subject alive at a later epoch) answers with that,
//     so a node the random spread missed is corrected within a few pulls.
//   - A node found to be believed dead while it talks to this node is told
//     directly, so it refutes within one exchange.
//
// The cost per node is bounded by the rumours in flight: each is passed on
// Membership::kSendsPerLogN * log2(known nodes) times by each node that
// heard it; with nothing to spread a node sends one exchange per
// pull_interval.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/membership/membership.h"
#include "src/replication/peer_transport.h"
#include "src/util/clock.h"
#include "src/util/executor.h"

namespace kv::node {

// Thread-safe. Every pointer given to the constructor is not owned and must
// outlive the object.
class Gossiper {
 public:
  using GossipMessage = replication::PeerTransport::GossipMessage;
  struct Options {
    size_t fanout = 3;                                    // contacts a flush sends to
    size_t max_rumours = 16;                              // per message
    absl::Duration flush_delay = absl::Milliseconds(10);  // to batch news
    absl::Duration pull_interval = absl::Seconds(5);
    uint64_t rng_seed = 0;
  };
  Gossiper(Options options, membership::Membership* membership,
           replication::PeerTransport* transport, util::Executor* executor,
           const util::Clock* clock);

  // A maintenance tick: passes on what is pending; and, every pull_interval,
  // exchanges with one random contact even with nothing pending.
  void Tick();
  // News arrived: flush within flush_delay (one flush for a burst of news).
  void Soon();
  // Answers a Peer.Gossip exchange from `from`.
  GossipMessage Answer(const dht::Contact& from, const GossipMessage& in);
  // `to` beat with an epoch at which this node believes it dead (`rumour`,
  // from Membership::HeardEpoch): tells it, so it refutes.
  void Tell(const dht::Contact& to, const membership::Rumour& rumour);
  // Sends nothing more. Answers still arrive and are heard.
  void Cancel() { cancelled_ = true; }

 private:
  // Sends the pending rumours to `fanout` random live contacts.
  void Flush();
  void Exchange(const dht::Contact& to, std::vector<membership::Rumour> rumours);
  // Takes in what `from` said in an exchange (either side): its epoch and
  // rumours; news is flushed soon. Returns the rumour `from` must be told,
  // if it does not know it is believed dead (Membership::HeardEpoch).
  // With `newer`, what this node knows that supersedes the rumours heard
  // is appended to it.
  std::optional<membership::Rumour> Heard(const dht::Contact& from, const GossipMessage& m,
                                          std::vector<membership::Rumour>* newer = nullptr);

  // Settled rumours of deaths a pull carries.
  static constexpr size_t kSettledPerPull = 4;

  const Options options_;
  membership::Membership* const membership_;
  replication::PeerTransport* const transport_;
  util::Executor* const executor_;
  const util::Clock* const clock_;

  std::atomic<bool> cancelled_{false};
  std::atomic<bool> flush_scheduled_{false};
  mutable absl::Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  absl::Time next_pull_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace kv::node
