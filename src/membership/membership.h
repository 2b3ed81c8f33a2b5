// What this node knows about the other nodes: the Kademlia routing table
// plus the failure detector's view of who is alive, down, dead or left.
//
// Two views of the same contacts answer two questions:
//   live   (ClosestLive, IsAlive): alive or suspect, and not left. Where to
//          send a request that wants an answer now.
//   owners (Owners, OwnerCandidates): not dead and not left. Who is
//          responsible for a key: a down peer keeps its keys until it has
//          been down for dead_after (writes for it go to hints meanwhile).
#pragma once

#include <array>
#include <optional>
#include <random>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/dht/node_id.h"
#include "src/dht/routing_table.h"
#include "src/membership/clock_offsets.h"
#include "src/membership/failure_detector.h"
#include "src/membership/rumours.h"
#include "src/util/clock.h"

namespace kv::membership {

// Thread-safe: one mutex guards the routing table and the detector.
class Membership {
 public:
  struct Options {
    dht::Contact self;
    size_t k = 20;
    // Failure detection; see FailureDetector::Options.
    absl::Duration failure_timeout = absl::Seconds(3);
    double phi_suspect = 5;
    double phi_down = 8;
    absl::Duration dead_after = absl::Minutes(5);
    // A full bucket spends at most one claim verification and one ping of
    // its oldest contact per interval (see Observe and WorthVerifying): in a
    // big cluster most senders fall in full buckets, and checking each would
    // cost two pings per request served.
    absl::Duration full_bucket_probe_interval = absl::Seconds(30);
    // This process's first epoch (rumours.h); 0: its clock's time at
    // construction, in microseconds since the Unix epoch.
    uint64_t epoch = 0;
  };
  // `clock` is not owned and must outlive this.
  Membership(Options options, const util::Clock* clock);

  const dht::Contact& self() const { return self_; }
  size_t k() const { return k_; }

  // Learns of `c` because it sent us a message or was named in one. Returns
  // the least-recently-seen contact of `c`'s bucket when that bucket is full
  // and was not probed within full_bucket_probe_interval: the caller pings it
  // and reports with OnPingResult (ping-before-evict). Otherwise `c` waits
  // in the bucket's replacement cache.
  std::optional<dht::Contact> Observe(const dht::Contact& c);
  // Whether a claim that `id` is at some new address deserves a ping to
  // verify it: always when `id` is in the table or its bucket has room;
  // for a full bucket, once per full_bucket_probe_interval (this call
  // spends it), since the claim can at best wait in the replacement cache.
  bool WorthVerifying(const dht::NodeId& id);
  void OnPingResult(const dht::NodeId& id, bool alive);
  // The routing-table contact with this ID, or nullopt.
  std::optional<dht::Contact> Find(const dht::NodeId& id) const;
  // A heartbeat (or other proof of life) arrived from `id`.
  void Heard(const dht::NodeId& id);
  // A clock-offset measurement of `id` (from a heartbeat exchange). Kept
  // only for contacts in the routing table.
  void RecordClock(const dht::NodeId& id, ClockSample sample);
  // This node's clock against the routing-table contacts measured recently.
  ClockOffsets::Verdict JudgeClock(absl::Duration max_offset) const;

  // True if `id` is alive or suspect and has not left. Always true for self.
  bool IsAlive(const dht::NodeId& id) const;
  // kAlive for self and for untracked peers that have not left, unless a
  // node that watches them reported them down within kReportTtl (Reported);
  // kDown for left peers.
  PeerState State(const dht::NodeId& id) const;
  // Whether this node's own failure detector watches `id` and judges it
  // down (or it left): what this node may report to others.
  bool SeesDown(const dht::NodeId& id) const;
  // Word from a node that watches `id` (it named `id` as an owner in a
  // FIND_NODE answer): `id` is down, or it is not. For a peer this node
  // does not watch itself, a report of down makes it down for kReportTtl
  // (it is still an owner: writes leave it hints instead of waiting out a
  // timeout); a report of not down clears it. At most kMaxReports are kept.
  static constexpr absl::Duration kReportTtl = absl::Seconds(10);
  static constexpr size_t kMaxReports = 4096;
  void Reported(const dht::NodeId& id, bool down);
  // A call this node made to `id` failed with `why`: with no answer at all
  // (DEADLINE_EXCEEDED, UNAVAILABLE) `id` counts as reported down, so the
  // next requests skip it or hint it instead of waiting out a deadline too.
  void Unanswered(const dht::NodeId& id, const absl::Status& why);
  // Down for at least dead_after, or left. Never true for self.
  bool IsDead(const dht::NodeId& id) const;
  // `id` announced a planned leave: it is dead (no owner, not alive) at once,
  // even while its beats still arrive, until Rejoined(id).
  void MarkLeft(const dht::NodeId& id, uint64_t incarnation = 0);
  // A beat from `incarnation` of `id`: see FailureDetector::HeardIncarnation.
  void HeardIncarnation(const dht::NodeId& id, uint64_t incarnation);
  // `id` sent a Join: undoes MarkLeft and counts as proof of life. No-op if
  // `id` had not left.
  void Rejoined(const dht::NodeId& id);

  // ---- Dissemination of failures (rumours.h, docs/architecture.md). A node
  // this node does not watch is down when a rumour says so; one it watches
  // is judged by this node's own detector alone.
  //
  // This node's epoch, sent with every beat and gossip message.
  uint64_t epoch() const;
  // A message came from `id` itself, at its epoch `epoch`: proof that it is
  // alive there. A rumour of its death at an older epoch gives way. When
  // this node holds one at `epoch` or later, `id` does not know that it is
  // believed dead: the rumour is returned, at most once per kTellInterval
  // per node, for the caller to tell it (it will refute).
  static constexpr absl::Duration kTellInterval = absl::Seconds(2);
  std::optional<Rumour> HeardEpoch(const dht::NodeId& id, uint64_t epoch);
  // Rumours another node passed on. One about this node that says it is
  // down is refuted: this node raises its epoch above it and queues word
  // that it is alive. Rumours (and, in HeardEpoch, epochs) more than a day
  // ahead of this node's clock are ignored. Returns how many were news
  // (queued to pass on).
  // When `newer` is given, what this node knows that supersedes a rumour
  // heard (about another node) is appended to it, to answer with.
  size_t Hear(const std::vector<Rumour>& rumours, std::vector<Rumour>* newer = nullptr);
  // Up to `max` settled rumours of nodes down (Rumours::SettledDown).
  std::vector<Rumour> SettledDown(size_t max, std::mt19937_64& rng) const;
  // Up to `max` rumours to pass on in one gossip message; each is passed on
  // kSendsPerLogN * log2(known nodes) times in all.
  static constexpr int kSendsPerLogN = 3;
  std::vector<Rumour> RumoursToSend(size_t max);
  size_t PendingRumours() const;
  // Up to `n` distinct routing-table contacts, chosen uniformly at random
  // among those that are not down.
  std::vector<dht::Contact> RandomLive(size_t n, std::mt19937_64& rng) const;

  // Up to `n` nodes closest to `target`, this node included, skipping nodes
  // that are down or left. Closest first.
  std::vector<dht::Contact> ClosestLive(const dht::NodeId& target, size_t n) const;
  // The `n` nodes closest to `target` among this node and every routing-table
  // contact that is neither dead nor left (down ones included). Closest
  // first; fewer than `n` only if fewer such nodes are known.
  std::vector<dht::Contact> Owners(const dht::NodeId& target, size_t n) const;
  // Owners(target, n) (without this node unless `with_self`) when this node
  // has heard of every node that could be among them: the region of the ID
  // space they span is complete in the routing table. nullopt when a full
  // bucket covers that region: a node nearer to target knows it better.
  std::optional<std::vector<dht::Contact>> CertainOwners(const dht::NodeId& target, size_t n,
                                                         bool with_self) const;
  // This node (first) plus every routing-table contact that is neither dead
  // nor left, in no particular order: a snapshot from which dht::ClosestAmong
  // computes Owners for many keys under one lock acquisition.
  std::vector<dht::Contact> OwnerCandidates() const;
  // Up to `n` routing-table contacts closest to `target` that are neither
  // dead nor left (never this node): the answer to FIND_NODE and Join. A
  // departed node is not passed on, so a newcomer (perhaps at the departed
  // node's address) does not take it for an owner.
  std::vector<dht::Contact> Closest(const dht::NodeId& target, size_t n) const;
  // This node plus every routing-table contact, live or not.
  size_t KnownNodes() const;

  struct PeerView {
    dht::Contact contact;
    PeerState state;  // State(): its own detector's verdict, else what it heard
    int bucket;
    absl::Time last_heard;             // absl::InfinitePast() if never
    bool dead = false;                 // IsDead
    bool left = false;                 // announced a leave and has not rejoined
    double phi = 0;                    // FailureDetector::Phi, for diagnostics
    std::optional<ClockSample> clock;  // its clock against ours, if measured
  };
  std::vector<PeerView> Peers() const;
  // The contacts this node keeps heartbeat streams with: its `max` nearest.
  // Only these are judged by the failure detector (tracking starts now for
  // new ones and stops for the rest); other contacts count as alive.
  std::vector<dht::Contact> HeartbeatTargets(size_t max);
  // State changes of tracked peers since the previous call, for logging; see
  // FailureDetector::Transition for the one-time `dead` event. A peer this
  // node finds down becomes a rumour to pass on.
  std::vector<FailureDetector::Transition> Sweep();
  // Random lookup targets, one per bucket idle longer than `idle`; the
  // buckets count as refreshed from now on.
  std::vector<dht::NodeId> BucketsToRefresh(absl::Duration idle, std::mt19937_64& rng);

 private:
  // Whether a full bucket may probe now, given when it `last` did; if so,
  // `last` becomes now. (full_bucket_probe_interval)
  bool SpendProbe(absl::Time& last, absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // State, with mu_ held.
  PeerState StateLocked(const dht::NodeId& id, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // How many times a new rumour is passed on: kSendsPerLogN * log2(n).
  int SendBudget() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The `n` nodes closest to `target` among the routing-table contacts for
  // which `keep(detector_, id)` holds, and self when `with_self` (self is
  // then always kept). Closest first.
  std::vector<dht::Contact> ClosestWhere(
      const dht::NodeId& target, size_t n, bool with_self,
      absl::FunctionRef<bool(const FailureDetector&, const dht::NodeId&)> keep) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Const after construction.
  const dht::Contact self_;
  const size_t k_;
  const absl::Duration probe_interval_;
  const util::Clock* const clock_;

  mutable absl::Mutex mu_;
  dht::RoutingTable table_ ABSL_GUARDED_BY(mu_);
  FailureDetector detector_ ABSL_GUARDED_BY(mu_);
  ClockOffsets clocks_ ABSL_GUARDED_BY(mu_);
  // Per bucket: when a full bucket last pinged its oldest contact, and last
  // let a claim be verified.
  std::array<absl::Time, dht::kIdBits> last_evict_probe_ ABSL_GUARDED_BY(mu_);
  std::array<absl::Time, dht::kIdBits> last_claim_probe_ ABSL_GUARDED_BY(mu_);
  // Peers reported down by nodes that watch them, and until when it counts.
  absl::flat_hash_map<dht::NodeId, absl::Time> reported_down_ ABSL_GUARDED_BY(mu_);
  // Dissemination: this node's epoch, the epochs its watched peers last
  // beat with, what it has heard, and when it last told a node it is
  // believed dead.
  uint64_t epoch_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<dht::NodeId, uint64_t> peer_epochs_ ABSL_GUARDED_BY(mu_);
  Rumours rumours_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<dht::NodeId, absl::Time> told_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kv::membership
