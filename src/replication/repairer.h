// Anti-entropy between replicas, handoff of keys a node no longer owns
// (rebalancing after joins, deaths and leaves) and the tombstone purge: the
// repair round a node runs every --anti-entropy-interval, and the answers it
// gives to its peers' rounds.
//
// A round reads no record unless something differs. It cuts the key space
// into the ranges this node owns (ownership.h) and, with each co-owner,
// compares the engines' digest trees (storage/digest_tree.h) over the
// ranges both own: the roots of those ranges first, then the children of
// each range that differs, down to leaves of 1/65,536 of the key space.
// Only the leaves that differ are reconciled key by key, which takes one
// scan of the store on each side. Records in leaves this node does not own
// are found from the tree too, handed to their owners and then dropped.
// Peers of the previous release, which do not answer SyncTree, get the
// older exchange: a 1024-bucket digest built by a scan (anti_entropy.h).
// The answers to peers' rounds are in repairer_serve.cc.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/dht/node_id.h"
#include "src/membership/membership.h"
#include "src/replication/anti_entropy.h"
#include "src/replication/owner_push.h"
#include "src/replication/ownership.h"
#include "src/replication/peer_transport.h"
#include "src/storage/engine.h"
#include "src/util/clock.h"
#include "src/util/executor.h"

namespace kv::replication {

// Thread-safe. Every pointer given to the constructor is not owned and must
// outlive the object.
class Repairer {
 public:
  struct Options {
    dht::NodeId self;
    size_t replicas = 3;  // N
    // Tombstones and expired records are purged this long after they were
    // written, and no longer exchanged.
    absl::Duration tombstone_grace = absl::Hours(1);
  };
  using CandidatesFn = std::function<std::vector<dht::Contact>()>;
  // Checks a record a peer sent before it is applied (the HLC's bound on
  // versions from the future); a refused record is skipped.
  using AdmitFn = std::function<absl::Status(const dht::Contact& from, const storage::Version&)>;

  // A round's continuations run on `executor`.
  Repairer(Options options, storage::Engine* engine, PeerTransport* transport,
           util::Executor* executor, const membership::Membership* membership,
           const util::Clock* clock, const OwnerPush* push, CandidatesFn owner_candidates,
           AdmitFn admit);

  // One round: purge, anti-entropy with every co-owner that is alive, one
  // at a time, then handoff of what this node no longer owns; `done` runs
  // on the executor when it is over (early once Stop() was called). Call
  // from the executor: the round starts with a scan of the engine.
  void Round(std::function<void()> done);

  // Answers a peer's tree ranges from the engine's digest tree, at once, on
  // the caller's thread: no scan. REQUIRES: every range valid.
  TreeAnswer ServeTree(const dht::Contact& from, const std::vector<TreeRange>& ranges);
  // Answers a peer's digest (`theirs` is nullopt when the peer sent only
  // its root; peers of the previous release) and a peer's reconcile request
  // (records in `buckets` of the 1024-bucket digest and in `leaves` of the
  // tree). Both scan the engine on the executor, never on the caller's
  // thread. At most kMaxRequests are queued or running at once; beyond that
  // `done` gets RESOURCE_EXHAUSTED at once (the peer's next round retries).
  static constexpr int kMaxRequests = 16;
  void ServeDigest(const dht::Contact& from, uint64_t root, std::optional<Digest> theirs,
                   std::function<void(absl::StatusOr<DigestAnswer>)> done);
  void ServeReconcile(const dht::Contact& from, std::vector<uint32_t> buckets,
                      std::vector<uint32_t> leaves, std::vector<KeyVersion> keys,
                      std::function<void(absl::StatusOr<ReconcilePlan>)> done);

  // The latest complete round: one that reconciled with every co-owner it
  // had a digest for (none skipped as down, none failed, no answer cut
  // short), so this node then held every record any of them did. When it
  // started (absl::InfinitePast() before the first), and how many owner
  // candidates, this node included, it knew of.
  struct CompleteRound {
    absl::Time started = absl::InfinitePast();
    size_t candidates = 0;
  };
  CompleteRound last_complete_round() const;

  // Ends a running round at its next step, and serves later requests on
  // the caller's thread (nothing more is queued). Idempotent; never waits.
  void Stop() { stopping_ = true; }
  // Waits until every request queued before Stop() has been answered.
  // Never call it from the executor.
  void Drain();

  // Counters (docs/operations.md): anti_entropy_*, handoff_*, purged_*.
  void AppendStats(std::vector<std::pair<std::string, uint64_t>>* out) const;

 private:
  // A range of the tree to compare with a peer.
  struct Probe {
    uint32_t prefix = 0;
    int depth = 0;
  };
  // A leaf the peer hashes otherwise.
  struct LeafDiff {
    uint32_t leaf = 0;
    uint64_t mine = 0, theirs = 0;
  };
  struct TreeWalk;
  using Candidates = std::shared_ptr<const std::vector<dht::Contact>>;

  // True for a tombstone, or an expired record, whose grace has passed.
  bool PastGrace(const storage::Record& rec, int64_t now_ms) const;
  void Purge(int64_t now_ms);
  // Calls fn(key, record, key id) for every record, not past its grace, that
  // this node and `peer` both own among `candidates`. Reads the whole store.
  void ForEachShared(const dht::NodeId& peer, const std::vector<dht::Contact>& candidates,
                     const std::function<void(std::string_view, const storage::Record&,
                                              const dht::NodeId&)>& fn) const;
  // The exchange with one co-owner over the ranges both own; then `done`.
  void SyncTreeWith(const dht::Contact& peer, std::vector<Probe> probes, Candidates candidates,
                    uint64_t view, std::function<void()> done);
  // One level of the comparison: the walk's probes, then their children
  // that differ, until only leaves are left.
  void Descend(const dht::Contact& peer, std::shared_ptr<TreeWalk> walk, Candidates candidates,
               uint64_t view, std::function<void()> done);
  // Reconciles the leaves that differ, but for those an earlier exchange
  // found nothing to move in at the same hashes; first (unless `rechecked`)
  // compares them again after kRecheckDelay.
  void ReconcileLeaves(const dht::Contact& peer, std::vector<LeafDiff> leaves,
                       Candidates candidates, uint64_t view, std::function<void()> done,
                       bool rechecked = false);
  // A write still on its way to one of the two nodes makes its leaf differ
  // for a moment; a record one side lacks makes it differ a moment later
  // too. So the leaves are compared once more, one level of Descend, before
  // a scan is paid for.
  static constexpr absl::Duration kRecheckDelay = absl::Milliseconds(200);
  void Recheck(const dht::Contact& peer, std::vector<LeafDiff> leaves, Candidates candidates,
               uint64_t view, std::function<void()> done);
  // The exchange of the previous release with a peer that does not answer
  // SyncTree: a 1024-bucket digest built by a scan.
  void LegacySync(const dht::Contact& peer, Candidates candidates, std::function<void()> done);
  void SyncDigestWith(const dht::Contact& peer, std::shared_ptr<const Digest> mine,
                      Candidates candidates, std::function<void()> done);
  // Reconciles, key by key, the records both own in `units` (sorted): tree
  // leaves, or buckets of the 1024-bucket digest. done(quiet): true when
  // every answer was complete and found nothing to move either way.
  void Reconcile(const dht::Contact& peer, bool leaves, const std::vector<uint32_t>& units,
                 const std::vector<dht::Contact>& candidates, std::function<void(bool)> done);
  // Pulls the newer records of a reconcile plan, then pushes the wanted
  // ones; then `done`.
  void Exchange(const dht::Contact& peer, size_t units, ReconcilePlan plan,
                std::function<void()> done);
  // Finds records this node holds in leaves it does not own (all of), from
  // the tree, and hands them off; then `done`.
  void HandOffStrays(std::shared_ptr<const std::vector<OwnedRange>> ranges, Candidates candidates,
                     uint64_t view, std::function<void()> done);
  // Pushes records this node no longer owns to their owners, then drops
  // them; then `done`.
  void HandOff(std::shared_ptr<const std::vector<KeyVersion>> keys, Candidates candidates,
               std::function<void()> done);
  // Takes a slot for one served request; false when all are taken.
  bool QueueRequest();
  // Runs a queued request's `work` on the executor, or at once after
  // Stop(); then frees its slot.
  void Serve(std::function<void()> work);
  absl::Status Refused() const;

  const Options options_;
  storage::Engine* const engine_;
  PeerTransport* const transport_;
  util::Executor* const executor_;
  const membership::Membership* const membership_;
  const util::Clock* const clock_;
  const OwnerPush* const push_;
  const CandidatesFn owner_candidates_;
  const AdmitFn admit_;

  std::atomic<bool> stopping_{false};
  // The round in progress missed a co-owner or part of an answer. Rounds
  // never overlap.
  std::atomic<bool> round_incomplete_{false};
  mutable absl::Mutex complete_mu_;
  CompleteRound last_complete_ ABSL_GUARDED_BY(complete_mu_);
  // What earlier rounds learnt, valid while the hashes and this node's view
  // of the cluster (a fingerprint of the owner candidates) are the same:
  // leaves whose reconcile with a peer found nothing to move (partial
  // leaves, or views that differ), and partial leaves the handoff's scan
  // found no stray record in. Bounded; cleared when full.
  struct QuietLeaf {
    uint64_t mine = 0, theirs = 0, view = 0;
  };
  static constexpr size_t kMaxRemembered = 1 << 16;
  absl::Mutex cache_mu_;
  absl::flat_hash_map<std::pair<dht::NodeId, uint32_t>, QuietLeaf> quiet_leaves_
      ABSL_GUARDED_BY(cache_mu_);
  absl::flat_hash_map<uint32_t, std::pair<uint64_t, uint64_t>> no_strays_
      ABSL_GUARDED_BY(cache_mu_);
  absl::Mutex serve_mu_;
  int requests_ ABSL_GUARDED_BY(serve_mu_) = 0;  // requests queued or being answered

  struct Counters {
    std::atomic<uint64_t> rounds{0}, exchanges{0}, buckets_differing{0}, leaves_differing{0};
    // Reads of the whole store by rounds (reconcile, handoff, the previous
    // release's digest) and by answers to peers' reconcile requests.
    std::atomic<uint64_t> scans{0}, tree_requests{0};
    std::atomic<uint64_t> keys_pulled{0}, keys_pushed{0}, keys_served{0};
    std::atomic<uint64_t> bytes_sent{0}, bytes_received{0};
    std::atomic<uint64_t> handoff_keys_pushed{0}, handoff_keys_dropped{0}, handoff_bytes{0};
    std::atomic<uint64_t> purged_expired{0}, purged_tombstones{0};
    // Tombstones the last purge that read the store left (a level, not a
    // count).
    std::atomic<uint64_t> tombstones_seen{0};
  };
  mutable Counters counters_;
};

}  // namespace kv::replication
