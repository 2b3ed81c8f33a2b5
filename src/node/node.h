// Node: owns one kvstore node's layers (storage, membership, replication)
// and wires them together. It speaks in plain C++ types; src/rpc turns gRPC
// calls into calls on it, and implements the PeerTransport it sends with.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/dht/node_id.h"
#include "src/membership/membership.h"
#include "src/replication/coordinator.h"
#include "src/replication/hlc.h"
#include "src/replication/peer_transport.h"
#include "src/storage/engine.h"
#include "src/util/clock.h"
#include "src/util/thread_pool.h"

namespace kv::node {

struct NodeOptions {
  dht::Contact self;               // ID and the address peers dial (--advertise)
  std::vector<std::string> seeds;  // --peer addresses to join through
  int replicas = 3;                // N
  size_t k = 20;                   // bucket size
  size_t alpha = 3;                // lookup parallelism
  size_t max_key_bytes = 1024;
  size_t max_value_bytes = 1 << 20;
  replication::Consistency default_consistency = replication::Consistency::kQuorum;
  absl::Duration failure_timeout = absl::Seconds(3);
  absl::Duration bucket_refresh = absl::Hours(1);  // idle time before a bucket is refreshed
  absl::Duration maintenance_interval = absl::Milliseconds(500);
  // Called from the maintenance thread whenever the routing table's contacts
  // changed, and once more on Stop(), so a data dir can remember them.
  std::function<void(const std::vector<dht::Contact>&)> save_contacts;
  // Writes a consistent copy of the node's storage into a new directory.
  // Unset for the memory engine.
  std::function<absl::Status(const std::string& dir)> snapshot;
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
  // Checkpoints the storage into `dir` (on the storage pool when there is
  // one). FAILED_PRECONDITION for the memory engine, or when `dir` exists.
  void Snapshot(std::string dir, std::function<void(absl::Status)> done);
  std::vector<membership::Membership::PeerView> Peers() const { return membership_.Peers(); }

  // ---- Requests from peers. `from` is learned into the routing table.
  // Join: returns this node's contact followed by the peers closest to `from`.
  std::vector<dht::Contact> HandleJoin(const dht::Contact& from);
  void HandlePing(const std::optional<dht::Contact>& from);
  void HandleHeartbeat(const dht::Contact& from);
  std::vector<dht::Contact> HandleFindNode(const dht::Contact& from, const dht::NodeId& target);
  // Applies a replica write; `done` gets whether it was newer than what the
  // engine held.
  void HandleStore(const dht::Contact& from, const std::string& key, storage::Record rec,
                   std::function<void(absl::StatusOr<bool>)> done);
  [[nodiscard]] absl::StatusOr<std::optional<storage::Record>> HandleFetch(
      const std::string& key) const;

  // Iterative Kademlia lookup: the k live nodes closest to `target` this
  // node can find, closest first (this node included when it is among them).
  void FindClosest(const dht::NodeId& target, ContactsCallback done);
  // The replica set of `key_id`: the N closest live nodes. Resolved from the
  // routing table when it knows the whole cluster, else by a lookup.
  void ResolveReplicas(const dht::NodeId& key_id, ContactsCallback done);

  const dht::Contact& self() const { return options_.self; }
  const NodeOptions& options() const { return options_; }
  membership::Membership& membership() { return membership_; }
  // True once a seed answered a Join (always true without seeds).
  bool joined() const;

  // Validation shared with the RPC layer; INVALID_ARGUMENT naming the flag.
  [[nodiscard]] absl::Status ValidateKey(const std::string& key) const;
  [[nodiscard]] absl::Status ValidateValue(const std::string& value) const;

 private:
  // Adds `c` to the routing table; pings the oldest contact of a full bucket.
  void Learn(const dht::Contact& c);
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

  // Const after construction.
  const NodeOptions options_;
  storage::Engine* const engine_;
  replication::PeerTransport* const transport_;
  const util::Clock* const clock_;
  util::ThreadPool* const storage_pool_;

  replication::HybridClock hlc_;
  membership::Membership membership_;
  replication::Coordinator coordinator_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool joined_ ABSL_GUARDED_BY(mu_) = false;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  std::vector<dht::Contact> saved_contacts_;  // maintenance thread only
  std::thread maintenance_;
};

}  // namespace kv::node
