// Node: owns one kvstore node's layers (storage, membership, replication)
// and wires them together. It speaks in plain C++ types; src/rpc turns gRPC
// calls into calls on it, and implements the PeerTransport it sends with.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/dht/node_id.h"
#include "src/membership/membership.h"
#include "src/replication/anti_entropy.h"
#include "src/replication/coordinator.h"
#include "src/replication/hint_store.h"
#include "src/replication/hlc.h"
#include "src/replication/peer_transport.h"
#include "src/storage/engine.h"
#include "src/util/clock.h"
#include "src/util/thread_pool.h"
#include "src/util/timer.h"

namespace kv::node {

// What NodeOptions::on_clock_fence is told.
struct ClockStatusChange {
  bool fenced = false;
  std::string description;
};

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
  // Serves Admin.DropKeys (forgets keys, for repair tests). Off in production.
  bool test_hooks = false;
  // Called (once, from the leave thread) when a planned leave has handed
  // every key to its new owners: the process should shut down.
  std::function<void()> on_left;
  absl::Duration bucket_refresh = absl::Hours(1);  // idle time before a bucket is refreshed
  absl::Duration maintenance_interval = absl::Milliseconds(500);
  // A read still short of answers this long after it started asks one more
  // replica (Coordinator::EnableSpeculativeReads); zero turns that off.
  absl::Duration speculative_read_after = absl::Milliseconds(20);
  // Called from the maintenance thread whenever the routing table's contacts
  // changed, and once more on Stop(), so a data dir can remember them.
  std::function<void(const std::vector<dht::Contact>&)> save_contacts;
  // Writes a consistent copy of the node's storage into a new directory
  // `name` (already checked to be one plain path component) under the backup
  // directory, and returns its path. Unset for the memory engine and when
  // no backup directory is configured.
  std::function<absl::StatusOr<std::string>(const std::string& name)> snapshot;
  // Called from the maintenance thread when the clock fence goes up or down
  // (Node::clock_status), e.g. to set the gRPC health status.
  std::function<void(const ClockStatusChange&)> on_clock_fence;
  // --discover: called before each join attempt; the addresses it returns are
  // tried after `seeds`. When set, the node keeps retrying until a join works.
  std::function<std::vector<std::string>()> discover_seeds;
};

struct PutArgs {
  std::string key;
  std::string value;
  std::optional<replication::Consistency> consistency;  // nullopt: the node's default
  uint32_t ttl_seconds = 0;
};

struct GetReply {
  bool found = false;
  std::string value;
  storage::Version version;
};

// The phases of a planned leave, in order; the last three end it.
enum class LeavePhase {
  kAnnouncing,  // telling the peers
  kHandoff,     // pushing every record to its new owners
  kDone,        // every record handed off; the node leaves
  // Some records were not acknowledged by every new owner after the last
  // pass: the node takes the leave back and stays in the cluster, serving.
  kIncomplete,
  kForced,   // as kIncomplete, but the caller forced the leave: it leaves
  kStopped,  // the node was stopped first
};
// "announcing", "handoff", "done", "incomplete", "forced", "stopped".
const char* LeavePhaseName(LeavePhase p);
// True for the phases that end a leave.
inline bool IsFinal(LeavePhase p) { return p >= LeavePhase::kDone; }

// Progress of a planned leave (Node::Leave).
struct LeaveProgress {
  LeavePhase phase = LeavePhase::kAnnouncing;
  uint32_t pass = 0;
  uint64_t keys_total = 0;
  uint64_t keys_moved = 0;
  uint64_t bytes_moved = 0;
  uint64_t keys_failed = 0;
};

struct ReplicaLocation {
  dht::Contact node;
  bool reachable = false;
  bool holds = false;  // a live value (not deleted, not expired)
  std::optional<storage::Version> version;
  std::string error;
};

struct LocateReply {
  dht::NodeId key_id;
  std::vector<ReplicaLocation> replicas;  // closest first
};

// Thread-safe. Callbacks run exactly once, on an arbitrary thread, possibly
// before the call returns. The transport, engine and clock are not owned and
// must outlive the node.
class Node {
 public:
  using WriteCallback = std::function<void(absl::StatusOr<replication::WriteResult>)>;
  using GetCallback = std::function<void(absl::StatusOr<GetReply>)>;
  using LocateCallback = std::function<void(absl::StatusOr<LocateReply>)>;
  using ContactsCallback = std::function<void(std::vector<dht::Contact>)>;

  // With `storage_pool` (not owned), writes to the engine run there instead
  // of on gRPC's callback threads: for engines whose writes may stall.
  Node(NodeOptions options, storage::Engine* engine, replication::PeerTransport* transport,
       const util::Clock* clock, util::ThreadPool* storage_pool = nullptr);
  ~Node();

  // Starts background work: joining the seeds (retried with backoff until
  // one answers), failure-detector sweeps and bucket refreshes.
  void Start();
  // Stops background work. Callbacks of calls already started may still run.
  void Stop();

  // ---- Client operations (any node coordinates).
  // INVALID_ARGUMENT for a bad key or value, UNAVAILABLE when the quorum is
  // not reachable, RESOURCE_EXHAUSTED when the replicas that failed a write
  // all refused it for lack of room (memory limit, full disk).
  void Put(PutArgs args, WriteCallback done);
  void Get(std::string key, std::optional<replication::Consistency> c, GetCallback done);
  void Delete(std::string key, std::optional<replication::Consistency> c, WriteCallback done);
  void Locate(std::string key, LocateCallback done);
  // Checkpoints the storage into a new directory called `name` under the
  // backup directory (on the storage pool when there is one); `done` gets the
  // path written. INVALID_ARGUMENT for a name that is not one plain path
  // component; FAILED_PRECONDITION without options().snapshot (memory
  // engine, or no backup directory), or when the name exists.
  void Snapshot(std::string name, std::function<void(absl::StatusOr<std::string>)> done);
  std::vector<membership::Membership::PeerView> Peers() const { return membership_.Peers(); }
  // Counters of background repair work, by name (docs/operations.md).
  std::vector<std::pair<std::string, uint64_t>> Stats() const;
  // Planned leave: tells the peers, hands every key to its new owners on a
  // thread of its own and reports progress; the last report has a final
  // phase. After kDone or kForced it calls options().on_left. After
  // kIncomplete (some key not handed off, and not `force`) the node tells
  // its peers it is back and keeps serving; Leave may be called again.
  // Stop() cuts it short (kStopped). FAILED_PRECONDITION if already leaving.
  [[nodiscard]] absl::Status Leave(bool force, std::function<void(const LeaveProgress&)> progress);
  // Test hook (options().test_hooks): forgets up to `limit` (0: all) keys
  // starting with `prefix`, as if a disk lost them. FAILED_PRECONDITION
  // without test hooks.
  [[nodiscard]] absl::StatusOr<uint64_t> DropKeys(const std::string& prefix, uint32_t limit);

  // ---- Requests from peers. `from` is learned into the routing table.
  // Join: returns this node's contact followed by the peers closest to `from`.
  std::vector<dht::Contact> HandleJoin(const dht::Contact& from);
  void HandlePing(const std::optional<dht::Contact>& from);
  // `clock`: the clock offset the beat measured, if it carried an echo.
  // `incarnation`: the sender process's (0: not sent); a beat from another
  // incarnation than the one that left brings a left peer back.
  void HandleHeartbeat(const dht::Contact& from,
                       std::optional<membership::ClockSample> clock = std::nullopt,
                       uint64_t incarnation = 0);
  std::vector<dht::Contact> HandleFindNode(const dht::Contact& from, const dht::NodeId& target);
  // Applies a replica write; `done` gets whether it was newer than what the
  // engine held.
  void HandleStore(const dht::Contact& from, const std::string& key, storage::Record rec,
                   std::function<void(absl::StatusOr<bool>)> done);
  [[nodiscard]] absl::StatusOr<std::optional<storage::Record>> HandleFetch(
      const std::string& key) const;
  // Keeps `rec` as a hint for `target`, a replica the sender found down.
  // FAILED_PRECONDITION when `target` is not in this node's routing table.
  void HandleStoreHint(const dht::Contact& from, const dht::NodeId& target, const std::string& key,
                       storage::Record rec, std::function<void(absl::Status)> done);
  // Anti-entropy, answered on the repair thread (a scan of the engine).
  // `theirs` is nullopt when the peer sent only the root.
  // At most kMaxRepairRequests of them are queued or running at once; beyond
  // that `done` gets RESOURCE_EXHAUSTED at once (the peer's next round retries).
  void HandleSyncDigest(const dht::Contact& from, uint64_t root,
                        std::optional<replication::Digest> theirs,
                        std::function<void(absl::StatusOr<replication::DigestAnswer>)> done);
  void HandleReconcile(const dht::Contact& from, std::vector<uint32_t> buckets,
                       std::vector<replication::KeyVersion> keys,
                       std::function<void(absl::StatusOr<replication::ReconcilePlan>)> done);
  // `from` announced a planned leave: it owns no keys from now on, until it
  // joins again or beats as another incarnation than `incarnation`.
  void HandleLeaving(const dht::Contact& from, uint64_t incarnation = 0);

  // Iterative Kademlia lookup: the k live nodes closest to `target` this
  // node can find, closest first (this node included when it is among them).
  void FindClosest(const dht::NodeId& target, ContactsCallback done);
  // The replica set of `key_id`: the N closest nodes that are not dead
  // (down nodes included: they keep their keys until --dead-after, and
  // writes leave hints for them). Resolved from the routing table when it
  // knows the whole cluster, else by a lookup (which finds live nodes only).
  void ResolveReplicas(const dht::NodeId& key_id, ContactsCallback done);

  const dht::Contact& self() const { return options_.self; }
  const NodeOptions& options() const { return options_; }
  membership::Membership& membership() { return membership_; }
  // True once a seed answered a Join (always true without seeds).
  bool joined() const;

  // This node's clock against its peers', as last judged (every maintenance
  // tick). While `fenced`, Put, Delete and Batch writes coordinated here fail
  // with UNAVAILABLE: this node's clock is more than the max clock offset
  // away from most peers it measures, or (for a node started with seeds) no
  // peer's clock has been measured yet, and its versions could be misordered.
  struct ClockStatus {
    bool fenced = false;
    std::string description;
  };
  ClockStatus clock_status() const;

  // Validation shared with the RPC layer; INVALID_ARGUMENT naming the flag.
  [[nodiscard]] absl::Status ValidateKey(const std::string& key) const;
  [[nodiscard]] absl::Status ValidateValue(const std::string& value) const;

 private:
  // Logs that a record from `from` was refused (a version too far ahead or
  // malformed): at most once per 10 s, with the count of those not logged.
  void WarnRefused(const dht::Contact& from, const absl::Status& why);
  // Learns of `c` from someone's word: a request's sender, or a contact an
  // answer named. A contact the table holds at that address is refreshed.
  // Any other is first pinged at its address and inserted only if it answers
  // with its ID (verify before insert, as S/Kademlia recommends), so invented
  // IDs pointing nowhere never enter; for an ID the table holds at another
  // address, the known address is pinged first and keeps the ID if it still
  // answers. At most kMaxVerifying verifications run at once; claims beyond
  // that are dropped (a real node is met again).
  void Learn(const dht::Contact& c);
  // Learn, then `then` once the contact is in the table or was dropped.
  void LearnThen(const dht::Contact& c, std::function<void()> then);
  // Learns each of `contacts` and blocks until every verification ended (or
  // timed out).
  void LearnBlocking(const std::vector<dht::Contact>& contacts);
  // Adds `c`, which answered a call this node made to c.address as c.id, to
  // the routing table; pings the oldest contact of a full bucket.
  void Insert(const dht::Contact& c);
  // Learn's ping of c.address; `done` runs once with whether it answered as
  // c.id (false also when the verification was dropped).
  void Verify(const dht::Contact& c, std::function<void(bool)> done);
  void Write(const std::string& key, storage::Record rec, std::optional<replication::Consistency> c,
             WriteCallback done);
  // Replication factor for the cluster as this node sees it: N capped by the
  // nodes it knows, and never below the `resolved` replicas it found.
  int EffectiveReplicas(size_t resolved) const;
  void MaintenanceLoop();
  bool JoinSeeds();  // blocking; only on the maintenance thread
  void LookupBlocking(const dht::NodeId& target);
  // Calls options_.save_contacts if the contacts changed since the last call.
  void SaveContactsIfChanged();

  // Logs the failure detector's state changes; a death triggers a repair.
  void LogTransitions();
  // Judges this node's clock against its peers' and raises or lowers the
  // write fence (maintenance thread, and a heartbeat's first measurement).
  void UpdateClockFence();

  // ---- Repair (node_repair.cc, node_sync.cc, node_leave.cc).
  // Nodes that may own keys now: this node (unless leaving) and every
  // contact neither dead nor left.
  std::vector<dht::Contact> OwnerCandidates() const;
  // True for a tombstone, or an expired record, whose grace has passed: the
  // purge erases it, and anti-entropy no longer exchanges it.
  bool PastGrace(const storage::Record& rec, int64_t now_ms) const;
  // Keeps a hint for `target` on the next-closest live node outside the
  // replica set (this node if there is none).
  void SendHint(const dht::Contact& target, const std::string& key, const storage::Record& rec);
  void KeepHint(const dht::NodeId& target, const std::string& key, const storage::Record& rec);
  void ReplayHints();  // maintenance thread
  void RepairRound();  // maintenance thread: anti-entropy, handoff, purge
  // Calls fn(key, record, key id) for every record, not past its grace, that
  // this node and `peer` both own among `candidates`.
  void ForEachShared(const dht::NodeId& peer, const std::vector<dht::Contact>& candidates,
                     const std::function<void(std::string_view, const storage::Record&,
                                              const dht::NodeId&)>& fn) const;
  void SyncWith(const dht::Contact& peer, const replication::Digest& mine,
                const std::vector<dht::Contact>& candidates);
  // Pushes records this node no longer owns to their owners, then drops them.
  void HandOff(const std::vector<replication::KeyVersion>& keys,
               const std::vector<dht::Contact>& candidates);
  struct StoreJob {
    dht::Contact to;
    std::string key;
    storage::Record record;
  };
  // Runs the Stores with at most `window` in flight; blocks until all end.
  std::vector<absl::Status> StoreMany(const std::vector<StoreJob>& jobs, size_t window);
  // One key pushed by PushToOwners: its index in the input, the record read
  // and sent, and whether it went to at least one owner and every owner it
  // went to acknowledged it.
  struct Pushed {
    size_t index;
    storage::Record record;
    bool acked;
  };
  // Reads each of `keys` and Stores it on the key's owners among
  // `candidates`, blocking until all answered. A key is left out when it is
  // gone or `skip(index, record, owners)` is true. Owners that are not alive
  // get a hint instead of a Store (handoff skips such keys first).
  using SkipFn =
      std::function<bool(size_t, const storage::Record&, const std::vector<dht::Contact>&)>;
  std::vector<Pushed> PushToOwners(const std::vector<std::string>& keys,
                                   const std::vector<dht::Contact>& candidates, const SkipFn& skip);
  // The leave thread.
  void LeaveLoop(bool force, std::function<void(const LeaveProgress&)> progress);
  // Tells every contact this node is back after an incomplete leave (a Join,
  // which clears "left" on the receiver); blocks until all answered.
  void Unleave();

  // Const after construction.
  const NodeOptions options_;
  storage::Engine* const engine_;
  replication::PeerTransport* const transport_;
  const util::Clock* const clock_;
  util::ThreadPool* const storage_pool_;

  replication::HybridClock hlc_;
  membership::Membership membership_;
  replication::Coordinator coordinator_;
  // Speculative reads' timer; after coordinator_, so it stops first.
  std::unique_ptr<util::TimerThread> read_timer_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool joined_ ABSL_GUARDED_BY(mu_) = false;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  std::vector<dht::Contact> saved_contacts_;  // maintenance thread only
  std::unique_ptr<replication::HintStore> owned_hints_;
  replication::HintStore* hints_;
  // Answers anti-entropy requests: they scan the engine, which must not
  // happen on gRPC's callback threads.
  std::unique_ptr<util::ThreadPool> repair_pool_;
  // Anti-entropy requests queued on or running in repair_pool_.
  static constexpr int kMaxRepairRequests = 16;
  std::atomic<int> repair_requests_{0};
  // Takes a slot for one request; false when all are taken.
  bool QueueRepairRequest();
  absl::Status RepairRequestRefused() const;
  std::atomic<bool> leaving_{false};
  std::atomic<bool> repair_soon_{false};  // run a repair round at the next tick
  // The write fence (UpdateClockFence): raised while this node's clock is
  // off from most peers it measures, or, for a node started with seeds,
  // until it has measured one.
  std::atomic<bool> clock_fenced_{false};
  std::atomic<bool> clock_measured_{false};  // some peer's clock was measured
  mutable absl::Mutex clock_mu_;
  std::string clock_description_ ABSL_GUARDED_BY(clock_mu_) = "clock not measured yet";
  // True for a node started without --peer or --discover: a cluster of one.
  bool SeedsEmpty() const { return options_.seeds.empty() && !options_.discover_seeds; }
  // Refused-record warnings: the last one's wall time (unix ms) and how many
  // were held back since, so a peer far ahead logs once per 10 s, not per write.
  std::atomic<int64_t> refused_warned_ms_{std::numeric_limits<int64_t>::min() / 2};
  std::atomic<uint64_t> refused_warnings_held_{0};
  // Serializes Leave() and Stop() around leave_thread_ (never taken by the
  // leave thread itself).
  absl::Mutex leave_mu_;
  std::thread leave_thread_ ABSL_GUARDED_BY(leave_mu_);
  // IDs whose claimed address Learn is pinging.
  static constexpr size_t kMaxVerifying = 64;
  absl::Mutex verify_mu_;
  absl::flat_hash_set<dht::NodeId> verifying_ ABSL_GUARDED_BY(verify_mu_);
  std::thread maintenance_;

  // Counters reported by Stats(); relaxed atomics.
  struct Counters {
    std::atomic<uint64_t> hints_sent{0}, hints_kept{0}, hints_replayed{0}, hints_dropped{0};
    std::atomic<uint64_t> ae_rounds{0}, ae_exchanges{0}, ae_buckets_differing{0};
    std::atomic<uint64_t> ae_keys_pulled{0}, ae_keys_pushed{0}, ae_keys_served{0};
    std::atomic<uint64_t> ae_bytes_sent{0}, ae_bytes_received{0};
    std::atomic<uint64_t> handoff_keys_pushed{0}, handoff_keys_dropped{0}, handoff_bytes{0};
    std::atomic<uint64_t> purged_expired{0}, purged_tombstones{0};
    std::atomic<uint64_t> leave_keys_moved{0}, leave_bytes_moved{0};
  };
  mutable Counters counters_;
};

}  // namespace kv::node
