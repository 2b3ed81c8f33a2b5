// Node: owns one kvstore node's components and wires them together:
// storage, membership, the coordinator of client operations (replication/
// coordinator.h), hinted handoff, anti-entropy and rebalancing (repairer.h),
// planned leave (leaver.h), routing (router.h), the clock fence and the
// background maintenance ticks. It speaks in plain C++ types; src/rpc turns
// gRPC calls into calls on it, and implements the PeerTransport it sends with.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/dht/node_id.h"
#include "src/membership/membership.h"
#include "src/node/api.h"
#include "src/node/clock_fence.h"
#include "src/node/gossiper.h"
#include "src/node/maintenance.h"
#include "src/node/router.h"
#include "src/replication/anti_entropy.h"
#include "src/replication/coordinator.h"
#include "src/replication/hint_store.h"
#include "src/replication/hinted_handoff.h"
#include "src/replication/hlc.h"
#include "src/replication/leaver.h"
#include "src/replication/owner_push.h"
#include "src/replication/peer_transport.h"
#include "src/replication/repairer.h"
#include "src/storage/engine.h"
#include "src/util/clock.h"
#include "src/util/executor.h"
#include "src/util/thread_pool.h"
#include "src/util/timer.h"

namespace kv::node {

struct NodeOptions {
  dht::Contact self;  // ID and the address peers dial (--advertise)
  // This process's incarnation (HeartbeatMessage.incarnation): any number
  // that differs from the last process's under the same ID; 0: none.
  uint64_t incarnation = 0;
  std::vector<std::string> seeds;  // --peer addresses to join through
  int replicas = 3;                // N
  size_t k = 20;                   // bucket size
  size_t alpha = 3;                // lookup parallelism
  size_t max_key_bytes = 1024;
  size_t max_value_bytes = 1 << 20;
  replication::Consistency default_consistency = replication::Consistency::kQuorum;
  // A version from another node more than this far ahead of the local clock
  // is refused, never merged into the HLC (replication/hlc.h).
  absl::Duration max_clock_offset = replication::HybridClock::kDefaultMaxOffset;
  // With a data dir: the clock's high-water mark recorded before the last
  // stop (the clock starts above it), and how to record a new one.
  uint64_t hlc_floor = 0;
  replication::HlcPersistence hlc_persistence;
  absl::Duration failure_timeout = absl::Seconds(3);
  // A node down this long stops owning keys: they are re-replicated to the
  // next-closest nodes.
  absl::Duration dead_after = absl::Minutes(5);
  // How often replicas compare digests (anti-entropy), hand off keys they no
  // longer own (rebalancing) and purge old tombstones.
  absl::Duration anti_entropy_interval = absl::Minutes(1);
  // Tombstones (and expired records) are purged this long after they were
  // written; longer than a full anti-entropy cycle, so a deleted key is not
  // resurrected by a replica that missed the delete.
  absl::Duration tombstone_grace = absl::Hours(1);
  // Hints kept for down replicas; when full the oldest go (anti-entropy
  // covers them). Not owned; nullptr makes the node keep a memory-only store
  // of `max_hints_bytes`.
  replication::HintStore* hints = nullptr;
  size_t max_hints_bytes = 64u << 20;
  // Called (once, on the executor) when a planned leave has handed
  // every key to its new owners: the process should shut down.
  std::function<void()> on_left;
  absl::Duration bucket_refresh = absl::Hours(1);  // idle time before a bucket is refreshed
  absl::Duration maintenance_interval = absl::Milliseconds(500);
  // A read still short of answers this long after it started asks one more
  // replica (Coordinator::EnableSpeculativeReads); zero turns that off.
  absl::Duration speculative_read_after = absl::Milliseconds(20);
  // Called from a maintenance tick whenever the routing table's contacts
  // changed, and once more on Stop(), so a data dir can remember them.
  std::function<void(const std::vector<dht::Contact>&)> save_contacts;
  // Writes a consistent copy of the node's storage into a new directory
  // `name` (already checked to be one plain path component) under the backup
  // directory, and returns its path. Unset for the memory engine and when
  // no backup directory is configured.
  std::function<absl::StatusOr<std::string>(const std::string& name)> snapshot;
  // Called from a maintenance tick when the clock fence goes up or down
  // (Node::clock_status), e.g. to set the gRPC health status.
  std::function<void(const ClockStatusChange&)> on_clock_fence;
  // --discover: called before each join attempt; the addresses it returns are
  // tried after `seeds`. When set, the node keeps retrying until a join works.
  std::function<std::vector<std::string>()> discover_seeds;
  // With a group commit (not owned; must outlive the node), the writes of
  // records this node replicates, its own and peers' (Peer.Store), go
  // through it: one WAL write and fsync per group (--data-dir).
  storage::GroupCommit* group_commit = nullptr;
  // This build's version, as Admin.Stats reports it.
  std::string version;
  // The engine's own gauges and counters for Stats (e.g. stored_bytes, or
  // RocksDbEngine::Properties), by name; optional.
  std::function<std::vector<std::pair<std::string, uint64_t>>()> storage_stats;
  // Seeds the node's random choices (bucket refresh targets); 0: a random
  // seed from std::random_device.
  uint64_t rng_seed = 0;
};

// Thread-safe. Callbacks run exactly once, on an arbitrary thread, possibly
// before the call returns. The transport, engine and clock are not owned and
// must outlive the node.
class Node final : public ClientApi, public PeerApi, public AdminApi {
 public:
  // With `storage_pool` (not owned), writes to the engine run there instead
  // of on gRPC's callback threads: for engines whose writes may stall.
  // Background work (maintenance ticks, repair rounds, hint replay, a
  // planned leave) runs as continuations on `executor`; without one the
  // node makes a one-thread ThreadExecutor of its own. REQUIRES: a given
  // executor runs no closure of this node once it is destroyed.
  Node(NodeOptions options, storage::Engine* engine, replication::PeerTransport* transport,
       const util::Clock* clock, util::ThreadPool* storage_pool = nullptr,
       util::Executor* executor = nullptr);
  ~Node() override;

  // The interfaces the layers above see.
  Apis apis() { return {.client = this, .peer = this, .admin = this}; }

  // Starts background work: joining the seeds (retried with backoff until
  // one answers), failure-detector sweeps and bucket refreshes.
  void Start();
  // Asks background work to end at its next step, without waiting: on a
  // simulated executor, run it until idle afterwards, then call Stop().
  void Cancel();
  // Cancel, then waits until background work has ended. Callbacks of calls
  // already started may still run. Never call it from the executor.
  void Stop();
  // For simulators that crash a node: its executor has dropped every closure
  // of the node, so background work in progress will never end. Cancels it
  // and makes Stop() (and the destructor) return at once.
  void Abandon();

  // ---- Client operations (any node coordinates).
  // INVALID_ARGUMENT for a bad key or value, UNAVAILABLE when the quorum is
  // not reachable, RESOURCE_EXHAUSTED when the replicas that failed a write
  // all refused it for lack of room (memory limit, full disk).
  void Put(PutArgs args, WriteCallback done) override;
  void Get(std::string key, std::optional<replication::Consistency> c, GetCallback done) override;
  void Delete(std::string key, std::optional<replication::Consistency> c,
              WriteCallback done) override;
  void Locate(std::string key, LocateCallback done) override;
  // Checkpoints the storage into a new directory called `name` under the
  // backup directory (on the storage pool when there is one); `done` gets the
  // path written. INVALID_ARGUMENT for a name that is not one plain path
  // component; FAILED_PRECONDITION without options().snapshot (memory
  // engine, or no backup directory), or when the name exists.
  void Snapshot(std::string name, std::function<void(absl::StatusOr<std::string>)> done) override;
  std::vector<membership::Membership::PeerView> Peers() const override {
    return membership_.Peers();
  }
  // Counters of background repair work, by name (docs/operations.md).
  std::vector<std::pair<std::string, uint64_t>> Stats() const override;
  Facts facts() const override;
  std::vector<replication::Coordinator::OutcomeCount> CoordinatorOutcomes() const override {
    return coordinator_.Outcomes();
  }
  // Planned leave: tells the peers, hands every key to its new owners on a
  // thread of its own and reports progress; the last report has a final
  // phase. After kDone or kForced it calls options().on_left. After
  // kIncomplete (some key not handed off, and not `force`) the node tells
  // its peers it is back and keeps serving; Leave may be called again.
  // Stop() cuts it short (kStopped). FAILED_PRECONDITION if already leaving.
  [[nodiscard]] absl::Status Leave(bool force,
                                   std::function<void(const LeaveProgress&)> progress) override;

  // ---- Requests from peers. `from` is learned into the routing table.
  // Join: returns this node's contact followed by the peers closest to `from`.
  std::vector<dht::Contact> HandleJoin(const dht::Contact& from) override;
  void HandlePing(const std::optional<dht::Contact>& from) override;
  // `clock`: the clock offset the beat measured, if it carried an echo.
  // `incarnation`: the sender process's (0: not sent); a beat from another
  // incarnation than the one that left brings a left peer back.
  void HandleHeartbeat(const dht::Contact& from,
                       std::optional<membership::ClockSample> clock = std::nullopt,
                       uint64_t incarnation = 0, uint64_t epoch = 0) override;
  replication::PeerTransport::GossipMessage HandleGossip(
      const dht::Contact& from, replication::PeerTransport::GossipMessage in) override;
  replication::PeerTransport::Neighbours HandleFindNode(const dht::Contact& from,
                                                        const dht::NodeId& target,
                                                        size_t owners = 0) override;
  // Applies a replica write; `done` gets whether it was newer than what the
  // engine held.
  void HandleStore(const dht::Contact& from, const std::string& key, storage::Record rec,
                   std::function<void(absl::StatusOr<bool>)> done) override;
  [[nodiscard]] absl::StatusOr<std::optional<storage::Record>> HandleFetch(
      const std::string& key) const override;
  // Keeps `rec` as a hint for `target`, a replica the sender found down.
  // FAILED_PRECONDITION when `target` is not in this node's routing table.
  void HandleStoreHint(const dht::Contact& from, const dht::NodeId& target, const std::string& key,
                       storage::Record rec, std::function<void(absl::Status)> done) override;
  // Anti-entropy, answered on the repairer's thread (a scan of the engine).
  // `theirs` is nullopt when the peer sent only the root. At most
  // Repairer::kMaxRequests of them are queued or running at once; beyond
  // that `done` gets RESOURCE_EXHAUSTED at once (the peer's next round retries).
  void HandleSyncDigest(
      const dht::Contact& from, uint64_t root, std::optional<replication::Digest> theirs,
      std::function<void(absl::StatusOr<replication::DigestAnswer>)> done) override;
  void HandleReconcile(
      const dht::Contact& from, std::vector<uint32_t> buckets, std::vector<uint32_t> leaves,
      std::vector<replication::KeyVersion> keys,
      std::function<void(absl::StatusOr<replication::ReconcilePlan>)> done) override;
  // Answered at once from the engine's digest tree: no scan.
  replication::TreeAnswer HandleSyncTree(
      const dht::Contact& from, const std::vector<replication::TreeRange>& ranges) override;
  // `from` announced a planned leave: it owns no keys from now on, until it
  // joins again or beats as another incarnation than `incarnation`.
  void HandleLeaving(const dht::Contact& from, uint64_t incarnation = 0) override;

  const dht::Contact& self() const override { return options_.self; }
  uint64_t incarnation() const override { return options_.incarnation; }
  uint64_t epoch() const override { return membership_.epoch(); }
  std::vector<dht::Contact> HeartbeatTargets(size_t max) override {
    return membership_.HeartbeatTargets(max);
  }
  const NodeOptions& options() const { return options_; }
  // What this node knows of the others (read-only; for simulators and tests
  // that compare views).
  const membership::Membership& membership() const { return membership_; }
  // True once a seed answered a Join (always true without seeds).
  bool joined() const { return maintenance_.joined(); }
  // Pending reads (Cassandra's pending ranges): a node that joined through
  // seeds, including one restarted under its old ID, takes writes at once but
  // answers no replica read until it has received its data: until a repair
  // round that started after the join, knowing at least N nodes (or all the
  // seed named, if fewer), reconciled with every co-owner in full. Until
  // then a read it is asked for, or coordinates with itself as a replica,
  // fails with FAILED_PRECONDITION and the coordinator reads the other
  // replicas. Latches: OK from then on.
  absl::Status ServesReads() const;

  // This node's clock against its peers', as last judged (every maintenance
  // tick). While `fenced`, Put, Delete and Batch writes coordinated here fail
  // with UNAVAILABLE: this node's clock is more than the max clock offset
  // away from most peers it measures, or (for a node started with seeds) no
  // peer's clock has been measured yet, and its versions could be misordered.
  ClockStatus clock_status() const override { return fence_.status(); }

  // Validation shared with the RPC layer; INVALID_ARGUMENT naming the flag.
  [[nodiscard]] absl::Status ValidateKey(const std::string& key) const override;
  [[nodiscard]] absl::Status ValidateValue(const std::string& value) const override;

 private:
  // Logs that a record from `from` was refused (a version too far ahead or
  // malformed): at most once per 10 s, with the count of those not logged.
  void WarnRefused(const dht::Contact& from, const absl::Status& why);
  // hlc_.Admit, warning about a refused version.
  absl::Status Admit(const dht::Contact& from, const storage::Version& v);
  void Write(const std::string& key, storage::Record rec, std::optional<replication::Consistency> c,
             WriteCallback done);
  // Replication factor for the cluster as this node sees it: N capped by the
  // nodes it knows, and never below the `resolved` replicas it found.
  int EffectiveReplicas(size_t resolved) const;
  // Runs `fn` on the storage pool if there is one, else inline.
  void OnStorage(std::function<void()> fn);

  // Const after construction. Members are declared in the order they are
  // built: each takes pointers to those above it.
  const NodeOptions options_;
  storage::Engine* const engine_;
  replication::PeerTransport* const transport_;
  const util::Clock* const clock_;
  const int64_t started_ms_ = clock_->NowMillis();
  util::ThreadPool* const storage_pool_;
  // The executor of background work: the given one, or owned_executor_.
  // Reset first in ~Node (after Stop), so that no timer of a component
  // fires once components are being destroyed.
  std::unique_ptr<util::ThreadExecutor> owned_executor_;
  util::Executor* const executor_;

  replication::HybridClock hlc_;
  membership::Membership membership_;
  Gossiper gossiper_;
  // A memory-only hint store when options_.hints is null.
  std::unique_ptr<replication::HintStore> owned_hints_;
  Router router_;
  replication::HintedHandoff hints_;
  replication::OwnerPush push_;
  replication::Leaver leaver_;
  replication::Repairer repairer_;
  ClockFence fence_;
  Maintenance maintenance_;
  // Speculative reads' timer; reset first in ~Node, so no read's timer
  // fires into a destroyed coordinator.
  std::unique_ptr<util::TimerThread> read_timer_;
  replication::Coordinator coordinator_;

  // ServesReads has returned OK once.
  mutable std::atomic<bool> serves_reads_{false};
  // Abandon() was called: Stop() must not wait for the executor.
  std::atomic<bool> abandoned_{false};
  // Refused-record warnings: the last one's wall time (unix ms) and how many
  // were held back since, so a peer far ahead logs once per 10 s, not per write.
  std::atomic<int64_t> refused_warned_ms_{std::numeric_limits<int64_t>::min() / 2};
  std::atomic<uint64_t> refused_warnings_held_{0};
};

}  // namespace kv::node
