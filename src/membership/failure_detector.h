// Phi-accrual failure detector (Hayashibara et al., as in Akka and Cassandra)
// fed by heartbeats, with the failure timeout as a hard ceiling. Pure: callers
// pass `now`.
//
// For each tracked peer the detector keeps the last `window` intervals between
// proofs of life and models them as a normal distribution (mean, standard
// deviation of at least min_std_dev). After `t` of silence,
//   phi(t) = -log10(P(next interval > t)),
// so phi 8 means "a gap this long happens once in 10^8 beats". The tail
// probability uses Akka's logistic approximation of the normal CDF, evaluated
// in log space so phi stays finite and grows monotonically with silence.
//
// Thresholds on silence, per peer (all measured from the later of the last
// proof of life and the start of tracking):
//   suspect  phi >= phi_suspect, and not down;
//   down     phi >= phi_down and silence >= down_floor_fraction * ceiling,
//            or silence >= failure_timeout (the ceiling, always applies);
//   dead     down continuously for >= dead_after, or announced leave.
// A peer with fewer than 2 recorded intervals has no distribution yet: it is
// alive until failure_timeout of silence, then down (never suspect). Gaps
// longer than failure_timeout are outages, not samples, and are not recorded.
#pragma once

#include <deque>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "src/dht/node_id.h"

namespace kv::membership {

// kSuspect counts as alive for routing and replica choice; it only tells an
// operator that a peer is slower than its own history.
enum class PeerState { kAlive, kSuspect, kDown };

// Not thread-safe: callers synchronize (Membership holds its mutex).
class FailureDetector {
 public:
  struct Options {
    // Ceiling: silence >= this is always down. REQUIRES: > 0.
    absl::Duration failure_timeout = absl::Seconds(3);
    // REQUIRES: 0 < phi_suspect <= phi_down.
    double phi_suspect = 5;
    double phi_down = 8;
    // Floor on the modelled standard deviation: a very regular peer would
    // otherwise be judged on a hair trigger. REQUIRES: > 0.
    absl::Duration min_std_dev = absl::Milliseconds(100);
    // How many of the latest intervals form the distribution. REQUIRES: >= 2.
    size_t window = 100;
    // phi alone declares down only after this fraction of failure_timeout of
    // silence, so a stall of a busy machine does not flap peers. In [0, 1].
    double down_floor_fraction = 0.5;
    // A peer down this long is dead: it stops owning keys.
    absl::Duration dead_after = absl::Minutes(5);
  };

  explicit FailureDetector(Options options);

  // Starts tracking `id` (no-op if tracked). A new peer gets one
  // failure_timeout to start beating.
  void Track(const dht::NodeId& id, absl::Time now);
  // Records a heartbeat (or any answer) from `id`. Ignored for untracked peers:
  // only the peers this node watches are judged. A down peer becomes alive
  // and its down period ends; a left peer stays left.
  void Heard(const dht::NodeId& id, absl::Time now);
  // Stops tracking `id`. Does not clear a leave mark.
  void Forget(const dht::NodeId& id);

  // `id` announced a planned leave: from now on it is down and dead, tracked
  // or not, and whatever it sends, until Rejoined(id) or a beat from another
  // incarnation. `incarnation` is the leaving process's (0: unknown). At
  // most kMaxLeaveMarks are kept: past that, the oldest mark goes, so leave
  // notices naming made-up IDs cannot grow memory without bound.
  static constexpr size_t kMaxLeaveMarks = 4096;
  void MarkLeft(const dht::NodeId& id, absl::Time now, uint64_t incarnation = 0);
  // `id` joined again (sent a Join): clears the leave mark, and counts as
  // proof of life if `id` is tracked. No-op for a peer that had not left.
  void Rejoined(const dht::NodeId& id, absl::Time now);
  // A beat from incarnation `incarnation` of `id`: when `id` left as another
  // (known) incarnation, it is back, restarted under the same ID, so this is
  // Rejoined(id). The leaving process's own beats keep it left.
  void HeardIncarnation(const dht::NodeId& id, uint64_t incarnation, absl::Time now);
  bool Left(const dht::NodeId& id) const { return left_.contains(id); }
  // Whether this detector judges `id`: it is tracked, or it left.
  bool Judges(const dht::NodeId& id) const { return left_.contains(id) || peers_.contains(id); }

  // kAlive for untracked peers (nothing is known against them) unless left.
  PeerState State(const dht::NodeId& id, absl::Time now) const;
  // Down continuously for >= dead_after, or left. False for untracked peers
  // that have not left.
  bool Dead(const dht::NodeId& id, absl::Time now) const;
  // When the current down period began: the moment silence crossed the down
  // threshold, or the leave if earlier. absl::InfiniteFuture() when not down.
  absl::Time DownSince(const dht::NodeId& id, absl::Time now) const;
  // Diagnostics: phi after the silence up to `now`. 0 for untracked peers and
  // for peers with fewer than 2 recorded intervals. Finite; never decreases
  // as `now` grows until the peer is heard.
  double Phi(const dht::NodeId& id, absl::Time now) const;
  // When `id` was last heard from, or absl::InfinitePast() if never.
  absl::Time LastHeard(const dht::NodeId& id) const;

  // One state change of a tracked peer, as seen by Sweep.
  struct Transition {
    dht::NodeId id;
    PeerState state;  // the state now
    // True in exactly one transition per down period: the first Sweep that
    // finds the peer dead. It may come with the change to kDown (state ==
    // kDown then) or in a later Sweep while the state stays kDown.
    bool dead = false;
    bool left = false;  // the peer is dead because it announced a leave
  };
  // The tracked peers whose state, or dead flag, changed since the previous
  // call (for logging). States passed through between two calls are not
  // reported; a peer tracked anew is reported afresh.
  std::vector<Transition> Sweep(absl::Time now);
  // Stops tracking every peer not in `keep`. Leave marks stay.
  template <typename Set>
  void RetainOnly(const Set& keep) {
    absl::erase_if(peers_, [&](const auto& kv) { return !keep.contains(kv.first); });
  }

  const Options& options() const { return options_; }
  absl::Duration timeout() const { return options_.failure_timeout; }

 private:
  struct Entry {
    absl::Time since;  // tracking start or last beat, whichever is later
    absl::Time last_heard = absl::InfinitePast();
    std::deque<double> intervals;  // seconds, oldest first, at most window
    // Derived from `intervals` on each Heard: silence thresholds and the
    // distribution (mean, std dev in seconds; valid with >= 2 intervals).
    absl::Duration suspect_after;
    absl::Duration down_after;
    double mean = 0;
    double std_dev = 0;
    PeerState reported = PeerState::kAlive;
    bool reported_dead = false;
  };
  void Recompute(Entry& e) const;
  PeerState StateOf(const Entry& e, absl::Time now) const;
  absl::Time DownSinceOf(const dht::NodeId& id, const Entry* e, absl::Time now) const;
  bool DeadOf(const dht::NodeId& id, const Entry* e, absl::Time now) const;

  // Const after construction.
  const Options options_;
  const double y_suspect_;  // phi_suspect as a distance from the mean in std devs
  const double y_down_;

  absl::flat_hash_map<dht::NodeId, Entry> peers_;
  struct Leave {
    absl::Time at;             // when the notice arrived
    uint64_t incarnation = 0;  // of the process that left; 0: unknown
  };
  absl::flat_hash_map<dht::NodeId, Leave> left_;
};

}  // namespace kv::membership
