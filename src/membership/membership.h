// What this node knows about the other nodes: the Kademlia routing table
// plus the failure detector's view of who is alive.
#pragma once

#include <optional>
#include <random>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/dht/node_id.h"
#include "src/dht/routing_table.h"
#include "src/membership/failure_detector.h"
#include "src/util/clock.h"

namespace kv::membership {

// Thread-safe: one mutex guards the routing table and the detector.
class Membership {
 public:
  struct Options {
    dht::Contact self;
    size_t k = 20;
    absl::Duration failure_timeout = absl::Seconds(3);
  };
  // `clock` is not owned and must outlive this.
  Membership(Options options, const util::Clock* clock);

  const dht::Contact& self() const { return self_; }
  size_t k() const { return k_; }

  // Learns of `c` because it sent us a message or was named in one. Returns
  // the least-recently-seen contact of `c`'s bucket when that bucket is full:
  // the caller pings it and reports with OnPingResult (ping-before-evict).
  std::optional<dht::Contact> Observe(const dht::Contact& c);
  void OnPingResult(const dht::NodeId& id, bool alive);
  // A heartbeat (or other proof of life) arrived from `id`.
  void Heard(const dht::NodeId& id);

  bool IsAlive(const dht::NodeId& id) const;
  // Up to `n` nodes closest to `target`, this node included, skipping nodes
  // the failure detector holds down. Closest first.
  std::vector<dht::Contact> ClosestLive(const dht::NodeId& target, size_t n) const;
  // Up to `n` routing-table contacts closest to `target` (never this node):
  // the answer to FIND_NODE.
  std::vector<dht::Contact> Closest(const dht::NodeId& target, size_t n) const;
  // This node plus every routing-table contact, live or not.
  size_t KnownNodes() const;

  struct PeerView {
    dht::Contact contact;
    PeerState state;
    int bucket;
    absl::Time last_heard;  // absl::InfinitePast() if never
  };
  std::vector<PeerView> Peers() const;
  // The contacts this node keeps heartbeat streams with: its `max` nearest.
  // Only these are judged by the failure detector (tracking starts now for
  // new ones and stops for the rest); other contacts count as alive.
  std::vector<dht::Contact> HeartbeatTargets(size_t max);
  // State changes since the previous call, for logging.
  std::vector<FailureDetector::Transition> Sweep();
  // Random lookup targets, one per bucket idle longer than `idle`; the
  // buckets count as refreshed from now on.
  std::vector<dht::NodeId> BucketsToRefresh(absl::Duration idle, std::mt19937_64& rng);

 private:
  // Const after construction.
  const dht::Contact self_;
  const size_t k_;
  const util::Clock* const clock_;

  mutable absl::Mutex mu_;
  dht::RoutingTable table_ ABSL_GUARDED_BY(mu_);
  FailureDetector detector_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kv::membership
