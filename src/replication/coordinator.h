// Quorum coordination of one client operation across a key's replicas.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/dht/node_id.h"
#include "src/replication/hlc.h"
#include "src/replication/peer_transport.h"
#include "src/storage/engine.h"
#include "src/storage/group_commit.h"
#include "src/storage/record.h"
#include "src/util/thread_pool.h"
#include "src/util/timer.h"

namespace kv::replication {

enum class Consistency { kOne, kQuorum, kAll };

// Acknowledgements `c` needs from a replica set of `replicas` nodes:
// ONE = 1, QUORUM = a majority, ALL = every replica. REQUIRES: replicas >= 1.
int RequiredAcks(Consistency c, int replicas);
absl::string_view ConsistencyName(Consistency c);

struct WriteResult {
  storage::Version version;
  uint32_t acks = 0;  // replicas that had acknowledged when the answer was given
};

struct ReadResult {
  // The newest record any answering replica held (it may be a tombstone or
  // expired: the caller decides visibility); nullopt if none held one.
  std::optional<storage::Record> record;
  uint32_t responses = 0;
};

// Runs writes and reads against a key's replica set: the local engine for
// this node, the transport for the others. Thread-safe; never blocks on the
// network. `local` and `transport` are not owned and must outlive every
// operation, including the background work that follows an answer.
class Coordinator {
 public:
  using WriteCallback = std::function<void(absl::StatusOr<WriteResult>)>;
  using ReadCallback = std::function<void(absl::StatusOr<ReadResult>)>;

  // Called, on any thread, for every peer replica whose Store of a Write
  // failed for a reason a later retry may fix (not RESOURCE_EXHAUSTED or
  // INVALID_ARGUMENT), with why: the node keeps a hint for it.
  using ReplicaFailedFn = std::function<void(const dht::Contact&, const std::string& key,
                                             const storage::Record&, const absl::Status& why)>;
  struct Options {
    dht::NodeId self;
    // With a pool, local writes run there instead of on the calling thread
    // (for engines whose writes may stall on fsync). Not owned.
    util::ThreadPool* storage_pool = nullptr;
    // With a group commit, local writes go through it instead (and not to
    // the pool): one fsync per group of writes. Not owned.
    storage::GroupCommit* group_commit = nullptr;
    // With a clock, a record a peer returns to a read must pass
    // HybridClock::Admit, or that peer's answer counts as a failure. Not owned.
    HybridClock* hlc = nullptr;
    // Speculative reads (Cassandra's speculative retry): a read that has not
    // heard from enough replicas `speculate_after` after it started asks one
    // more, so a replica that hangs, or is cut off and not yet known to be
    // down, delays reads by that much instead of the peer call's deadline.
    // Off without a timer (not owned; must outlive every operation).
    util::Timer* timer = nullptr;
    absl::Duration speculate_after = absl::ZeroDuration();
    ReplicaFailedFn replica_failed;  // optional
    // Whether this node may answer reads as a replica now (optional: always).
    // A node that has not yet received its data (Node's pending reads)
    // counts as a failed replica in the reads it coordinates too.
    std::function<absl::Status()> local_reads;
  };
  Coordinator(Options options, storage::Engine* local, PeerTransport* transport);
  // Sends `rec` to every live replica in parallel. `n` is the size the
  // replica set should have (the replication factor, capped by the cluster
  // size); replicas missing from `replicas` count as failed. `done` runs
  // once: OK after RequiredAcks(c, n) acknowledgements, or UNAVAILABLE as
  // soon as too many replicas have failed for that to happen (the message
  // says how many answered of how many were needed). If every replica that
  // failed did so with RESOURCE_EXHAUSTED (refused the write for lack of
  // memory or disk), the error is RESOURCE_EXHAUSTED instead, with the last
  // replica's message and the counts. Replicas that answer after `done`
  // still apply the write. REQUIRES: replicas.size() <= n, n >= 1.
  void Write(const std::string& key, const storage::Record& rec,
             const std::vector<dht::Contact>& replicas, int n, Consistency c, WriteCallback done);

  // Reads `key` from RequiredAcks(c, n) of `replicas` (this node first when
  // it is one of them, then in the given order), as Cassandra does: each
  // replica that fails is replaced by the next one not yet asked, and, with
  // speculative reads enabled, one more is asked if the answers are not all
  // in after the delay. `done` runs once with the newest record among the
  // first RequiredAcks(c, n) answers, or UNAVAILABLE when too many replicas
  // failed. When every asked replica has answered, those that returned an
  // older record or none are sent the newest one in the background (read
  // repair); replicas not asked are left to hints and anti-entropy.
  // REQUIRES: replicas.size() <= n, n >= 1.
  void Read(std::string key, std::vector<dht::Contact> replicas, int n, Consistency c,
            ReadCallback done);

  // How the operations this node coordinated ended, per kind, consistency
  // and outcome (metrics: kvstore_coordinator_operations_total).
  enum class Op { kWrite, kRead };
  enum class Outcome {
    kOk,
    kUnavailable,  // too few replicas answered (UNAVAILABLE)
    kRefused,      // replicas out of memory or disk (RESOURCE_EXHAUSTED)
    kError,        // any other error
  };
  struct OutcomeCount {
    Op op;
    Consistency consistency;
    Outcome outcome;
    uint64_t count;
  };
  // Every (op, consistency, outcome), zeros included, in a fixed order.
  std::vector<OutcomeCount> Outcomes() const;

  // Repairs started by reads so far (for tests and metrics).
  uint64_t read_repairs() const;
  // Replicas asked because a read's answers were late (for tests and metrics).
  uint64_t speculative_reads() const;

 private:
  struct ReadState;
  // Asks replica `i` of the read (marked as asked by the caller).
  void Ask(const std::shared_ptr<ReadState>& state, size_t i);
  // Runs `fn` on the storage pool if there is one, else inline.
  void OnStorage(std::function<void()> fn);
  // Read repair: writes `newest` to each replica in `stale`.
  void Repair(const std::string& key, const storage::Record& newest,
              const std::vector<dht::Contact>& stale);

  // Const after construction.
  const Options options_;
  storage::Engine* const local_;
  PeerTransport* const transport_;

  // Counts one finished operation.
  void CountOutcome(Op op, Consistency c, const absl::Status& s);

  static constexpr size_t kOutcomeSlots = 2 * 3 * 4;  // ops x consistencies x outcomes
  std::array<std::atomic<uint64_t>, kOutcomeSlots> outcomes_{};
  std::atomic<uint64_t> read_repairs_{0};
  std::atomic<uint64_t> speculative_reads_{0};
};

}  // namespace kv::replication
