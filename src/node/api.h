// The narrow interfaces a node offers the layers above it. The gRPC services
// (src/rpc) and any other front door see these, never node::Node:
//   ClientApi: what any client may ask of any node (Put, Get, Delete);
//   PeerApi:   the requests other members send (and Join, Ping, Heartbeat);
//   AdminApi:  the operator's calls.
// Each is thread-safe. Callbacks run exactly once, on an arbitrary thread,
// possibly before the call returns.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/dht/node_id.h"
#include "src/membership/clock_offsets.h"
#include "src/membership/membership.h"
#include "src/node/clock_fence.h"
#include "src/replication/anti_entropy.h"
#include "src/replication/coordinator.h"
#include "src/replication/leaver.h"
#include "src/replication/peer_transport.h"
#include "src/storage/record.h"

namespace kv::node {

struct PutArgs {
  std::string key;
  std::string value;
  std::optional<replication::Consistency> consistency;  // nullopt: the node's default
  // How long the value lives; zero (or less): forever. Millisecond precision.
  absl::Duration ttl = absl::ZeroDuration();
};

struct GetReply {
  bool found = false;
  std::string value;
  storage::Version version;
  int64_t expires_at_ms = 0;  // when found: its expiry, unix milliseconds; 0 = never
};

// The planned leave's types (replication/leaver.h), as the rpc layer names them.
using replication::IsFinal;
using replication::LeavePhase;
using replication::LeavePhaseName;
using replication::LeaveProgress;

struct ReplicaLocation {
  dht::Contact node;
  bool reachable = false;
  bool holds = false;  // a live value (not deleted, not expired)
  std::optional<storage::Version> version;
  std::string error;
};

struct LocateReply {
  dht::NodeId key_id;
  int replication_factor = 0;             // N, as configured
  std::vector<ReplicaLocation> replicas;  // closest first
};

// This node's clock against its peers', as last judged. While `fenced`,
// writes coordinated here fail with UNAVAILABLE: the node's clock is more
// than the max clock offset away from most peers it measures, or (for a node
// started with seeds) no peer's clock has been measured yet.
using ClockStatus = ClockStatusChange;

class ClientApi {
 public:
  using WriteCallback = std::function<void(absl::StatusOr<replication::WriteResult>)>;
  using GetCallback = std::function<void(absl::StatusOr<GetReply>)>;

  virtual ~ClientApi() = default;

  // Any node coordinates. INVALID_ARGUMENT for a bad key or value,
  // UNAVAILABLE when the quorum is not reachable (or this node's clock is
  // fenced, for writes), RESOURCE_EXHAUSTED when the replicas that failed a
  // write all refused it for lack of room (memory limit, full disk).
  virtual void Put(PutArgs args, WriteCallback done) = 0;
  virtual void Get(std::string key, std::optional<replication::Consistency> c,
                   GetCallback done) = 0;
  virtual void Delete(std::string key, std::optional<replication::Consistency> c,
                      WriteCallback done) = 0;

  // INVALID_ARGUMENT naming the flag whose limit a key or value breaks.
  [[nodiscard]] virtual absl::Status ValidateKey(const std::string& key) const = 0;
  [[nodiscard]] virtual absl::Status ValidateValue(const std::string& value) const = 0;
};

class PeerApi {
 public:
  virtual ~PeerApi() = default;

  virtual const dht::Contact& self() const = 0;
  // This process's incarnation (NodeOptions::incarnation), sent in beats.
  virtual uint64_t incarnation() const = 0;
  // This node's epoch (membership/rumours.h), sent in beats and gossip.
  virtual uint64_t epoch() const = 0;
  virtual ClockStatus clock_status() const = 0;
  // The peers this node should keep heartbeat streams with, at most `max`.
  virtual std::vector<dht::Contact> HeartbeatTargets(size_t max) = 0;
  [[nodiscard]] virtual absl::Status ValidateKey(const std::string& key) const = 0;
  [[nodiscard]] virtual absl::Status ValidateValue(const std::string& value) const = 0;

  // Every request learns `from` into the routing table (after verifying it).
  // Join: returns this node's contact followed by the peers closest to `from`.
  virtual std::vector<dht::Contact> HandleJoin(const dht::Contact& from) = 0;
  virtual void HandlePing(const std::optional<dht::Contact>& from) = 0;
  // `clock`: the clock offset the beat measured, if it carried an echo.
  // `incarnation`: the sender process's (0: not sent); a beat from another
  // incarnation than the one that left brings a left peer back.
  // `epoch`: the sender's (0: not sent).
  virtual void HandleHeartbeat(const dht::Contact& from,
                               std::optional<membership::ClockSample> clock = std::nullopt,
                               uint64_t incarnation = 0, uint64_t epoch = 0) = 0;
  // A gossip exchange: takes the sender's epoch and rumours, answers with
  // this node's.
  virtual replication::PeerTransport::GossipMessage HandleGossip(
      const dht::Contact& from, replication::PeerTransport::GossipMessage in) = 0;
  // FIND_NODE: this node's closest contacts to `target` and, when `owners`
  // is not 0, the `owners` nodes owning target's keys if it is certain of
  // them (Router::AnswerFindNode).
  virtual replication::PeerTransport::Neighbours HandleFindNode(const dht::Contact& from,
                                                                const dht::NodeId& target,
                                                                size_t owners = 0) = 0;
  // Applies a replica write; `done` gets whether it was newer than what the
  // engine held.
  virtual void HandleStore(const dht::Contact& from, const std::string& key, storage::Record rec,
                           std::function<void(absl::StatusOr<bool>)> done) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::optional<storage::Record>> HandleFetch(
      const std::string& key) const = 0;
  // Keeps `rec` as a hint for `target`, a replica the sender found down.
  // FAILED_PRECONDITION when `target` is not in this node's routing table.
  virtual void HandleStoreHint(const dht::Contact& from, const dht::NodeId& target,
                               const std::string& key, storage::Record rec,
                               std::function<void(absl::Status)> done) = 0;
  // Anti-entropy (replication/repairer.h), answered off the caller's thread;
  // RESOURCE_EXHAUSTED when too many are queued. `theirs` is nullopt when
  // the peer sent only the root.
  virtual void HandleSyncDigest(
      const dht::Contact& from, uint64_t root, std::optional<replication::Digest> theirs,
      std::function<void(absl::StatusOr<replication::DigestAnswer>)> done) = 0;
  virtual void HandleReconcile(
      const dht::Contact& from, std::vector<uint32_t> buckets, std::vector<uint32_t> leaves,
      std::vector<replication::KeyVersion> keys,
      std::function<void(absl::StatusOr<replication::ReconcilePlan>)> done) = 0;
  // Anti-entropy over digest trees, answered at once from the engine's tree.
  // REQUIRES: every range valid (replication::ValidTreeRange).
  virtual replication::TreeAnswer HandleSyncTree(
      const dht::Contact& from, const std::vector<replication::TreeRange>& ranges) = 0;
  // `from` announced a planned leave: it owns no keys from now on, until it
  // joins again or beats as another incarnation than `incarnation`.
  virtual void HandleLeaving(const dht::Contact& from, uint64_t incarnation = 0) = 0;
};

class AdminApi {
 public:
  using LocateCallback = std::function<void(absl::StatusOr<LocateReply>)>;

  virtual ~AdminApi() = default;

  virtual const dht::Contact& self() const = 0;
  virtual ClockStatus clock_status() const = 0;
  virtual std::vector<membership::Membership::PeerView> Peers() const = 0;
  // The replicas of `key` and what each holds.
  virtual void Locate(std::string key, LocateCallback done) = 0;
  // Checkpoints the storage into a new directory called `name` under the
  // backup directory; `done` gets the path written. INVALID_ARGUMENT for a
  // name that is not one plain path component; FAILED_PRECONDITION for the
  // memory engine, without a backup directory, or when the name exists.
  virtual void Snapshot(std::string name,
                        std::function<void(absl::StatusOr<std::string>)> done) = 0;
  // Counters of background repair work, by name (docs/operations.md).
  virtual std::vector<std::pair<std::string, uint64_t>> Stats() const = 0;
  // What a member tells about itself (Admin.Stats; kvctl status).
  struct Facts {
    std::string version;
    absl::Duration uptime;
    uint64_t coordinated_operations = 0;
  };
  virtual Facts facts() const = 0;
  // How the client operations this node coordinated ended, by consistency.
  virtual std::vector<replication::Coordinator::OutcomeCount> CoordinatorOutcomes() const = 0;
  // Planned leave (replication/leaver.h): tells the peers, hands every key to
  // its new owners on a thread of its own and reports progress; the last
  // report has a final phase. FAILED_PRECONDITION if already leaving.
  [[nodiscard]] virtual absl::Status Leave(bool force,
                                           std::function<void(const LeaveProgress&)> progress) = 0;
};

// The three, as one node serves them.
struct Apis {
  ClientApi* client = nullptr;
  PeerApi* peer = nullptr;
  AdminApi* admin = nullptr;
};

}  // namespace kv::node
