// The node's background work, a tick every interval on the node's executor:
// joining through the seeds (retried with backoff), settling lookups after
// the join, failure-detector sweeps and gossip, the clock fence, saving contacts, hint
// replay, repair rounds and bucket refreshes. A tick's steps are
// continuations: none blocks, and the next tick is scheduled when the last
// step of this one has ended.
#pragma once

#include <atomic>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/membership/membership.h"
#include "src/node/clock_fence.h"
#include "src/node/gossiper.h"
#include "src/node/router.h"
#include "src/replication/hinted_handoff.h"
#include "src/replication/peer_transport.h"
#include "src/replication/repairer.h"
#include "src/util/clock.h"
#include "src/util/executor.h"

namespace kv::node {

// Thread-safe. Every pointer given to the constructor is not owned and must
// outlive the object.
class Maintenance {
 public:
  struct Options {
    dht::Contact self;
    std::vector<std::string> seeds;  // --peer addresses to join through
    // --discover: called before each join attempt; the addresses it returns
    // are tried after `seeds`. When set, joining is retried until it works.
    std::function<std::vector<std::string>()> discover_seeds;
    absl::Duration interval = absl::Milliseconds(500);  // one tick
    absl::Duration anti_entropy_interval = absl::Minutes(1);
    absl::Duration bucket_refresh = absl::Hours(1);  // idle time before a refresh
    absl::Duration dead_after = absl::Minutes(5);    // for the log
    // Called whenever the routing table's contacts changed, and once more
    // on Stop(), so a data dir can remember them.
    std::function<void(const std::vector<dht::Contact>&)> save_contacts;
    uint64_t rng_seed = 0;  // bucket refresh targets
    // True while the node still waits for its data (Node::ServesReads):
    // a repair round then runs on every tick instead of every
    // anti_entropy_interval. Optional.
    std::function<bool()> awaiting_data;
  };
  struct Parts {
    membership::Membership* membership;
    Router* router;
    replication::PeerTransport* transport;
    const util::Clock* clock;
    util::Executor* executor;
    ClockFence* fence;
    replication::HintedHandoff* hints;
    replication::Repairer* repairer;
    Gossiper* gossiper;
  };

  Maintenance(Options options, Parts parts);
  ~Maintenance();

  // True for a node started without --peer or --discover: a cluster of one.
  bool alone() const { return options_.seeds.empty() && !options_.discover_seeds; }
  // True once a seed answered a Join (always true when alone()).
  bool joined() const;
  // When a seed first answered (absl::InfinitePast() when alone(),
  // absl::InfiniteFuture() before).
  absl::Time joined_at() const;
  // How many nodes the seeds' join answers named, the seed included (the
  // most of any answer): the cluster as the seed saw it, down nodes too.
  size_t nodes_named_at_join() const;

  // Schedules the first tick. REQUIRES: called once.
  void Start();
  // Ends the ticks after the current step, without waiting. Idempotent.
  void Cancel();
  // For simulators, after the executor dropped this node's closures (a
  // crash): the tick in progress will never end; Stop() must not wait for
  // it, nor save contacts.
  void Abandon();
  // Cancel, then waits until the tick in progress has ended, and saves the
  // contacts. Idempotent. Never call it from the executor.
  void Stop();
  // Runs a repair round soon (at most a second from now) instead of at the
  // next interval: keys move.
  void RepairSoon() { repair_soon_ = true; }

 private:
  // One tick, step after step; each step ends by calling the next.
  void Tick();
  void JoinStep();
  void SettleStep();
  void SweepStep();
  void RepairStep();
  void RefreshStep();
  // The tick is over: schedules the next one, or ends the ticks if stopping.
  void TickEnded();
  // Joins through each seed in turn; then `done(any seed answered)`.
  void JoinSeeds(std::function<void(bool)> done);
  // After a seed answered: the Kademlia join lookups, then introductions.
  void AfterJoin(std::shared_ptr<const std::vector<std::string>> seeds,
                 std::function<void(bool)> done);
  // Looks up each target in turn; then `done`.
  void LookupAll(std::vector<dht::NodeId> targets, std::function<void()> done);
  // The seeds to try: `seeds`, then the discovered ones.
  std::vector<std::string> Seeds() const;
  // Logs the failure detector's state changes; a death triggers a repair.
  void LogTransitions();
  // Calls options_.save_contacts if the contacts changed since the last call.
  void SaveContactsIfChanged();
  std::vector<dht::NodeId> RefreshTargets(absl::Duration idle);
  bool stopping() const;

  const Options options_;
  const Parts parts_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool ticking_ ABSL_GUARDED_BY(mu_) = false;  // a tick is in progress
  bool started_ ABSL_GUARDED_BY(mu_) = false;  // Start ran and Stop did not yet
  bool joined_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time joined_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  size_t nodes_named_at_join_ ABSL_GUARDED_BY(mu_) = 0;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> repair_soon_{false};

  // The ticks' own state: only the tick in progress touches it (ticks never
  // overlap), so it needs no lock.
  std::vector<dht::Contact> saved_contacts_;
  absl::Duration join_backoff_ = absl::Milliseconds(500);
  absl::Time next_join_ = absl::InfinitePast();
  absl::Time next_refresh_;
  absl::Time next_repair_;
  size_t known_nodes_ = 0;
  // Settling lookups of this node's own ID, 1, 2, 4, 8 and 16 s after it
  // joined: contacts enter routing tables only once verified (Router::Learn),
  // so nodes that joined at about the same time may not have been in their
  // seed's table yet; each lookup introduces this node to its closest nodes
  // again and learns the ones that were verified meanwhile.
  absl::Duration settle_step_ = absl::Seconds(1);
  absl::Time next_settle_ = absl::InfiniteFuture();
  absl::Time tick_start_;  // when the tick in progress started
};

}  // namespace kv::node
