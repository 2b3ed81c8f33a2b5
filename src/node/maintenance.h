// The node's background work, on one thread: joining through the seeds
// (retried with backoff), settling lookups after the join, failure-detector
// sweeps, the clock fence, saving contacts, hint replay, repair rounds and
// bucket refreshes.
#pragma once

#include <atomic>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/membership/membership.h"
#include "src/node/clock_fence.h"
#include "src/node/router.h"
#include "src/replication/hinted_handoff.h"
#include "src/replication/peer_transport.h"
#include "src/replication/repairer.h"
#include "src/util/clock.h"

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
  };
  struct Parts {
    membership::Membership* membership;
    Router* router;
    replication::PeerTransport* transport;
    const util::Clock* clock;
    ClockFence* fence;
    replication::HintedHandoff* hints;
    replication::Repairer* repairer;
  };

  Maintenance(Options options, Parts parts);
  ~Maintenance();

  // True for a node started without --peer or --discover: a cluster of one.
  bool alone() const { return options_.seeds.empty() && !options_.discover_seeds; }
  // True once a seed answered a Join (always true when alone()).
  bool joined() const;

  // Starts the thread. REQUIRES: called once.
  void Start();
  // Stops the thread after its current step and saves the contacts.
  // Idempotent.
  void Stop();
  // Runs a repair round soon (at most a second from now) instead of at the
  // next interval: keys move.
  void RepairSoon() { repair_soon_ = true; }

 private:
  void Loop();
  // Blocking; only on the maintenance thread.
  bool JoinSeeds();
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
  bool joined_ ABSL_GUARDED_BY(mu_) = false;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> repair_soon_{false};
  std::vector<dht::Contact> saved_contacts_;  // maintenance thread only
  std::thread thread_;
};

}  // namespace kv::node
