// Hinted handoff: a write meant for a replica that is down is kept as a hint
// on the next-closest live node outside the key's replica set (or on this
// node when there is none) and replayed once the replica is alive again.
// This class owns the whole policy: where a hint goes, which hints a node
// accepts for others, when they are replayed or dropped.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "src/dht/node_id.h"
#include "src/membership/membership.h"
#include "src/replication/hint_store.h"
#include "src/replication/peer_transport.h"
#include "src/storage/record.h"
#include "src/util/clock.h"
#include "src/util/executor.h"
#include "src/util/thread_pool.h"

namespace kv::replication {

// Thread-safe. Every pointer given to the constructor is not owned and must
// outlive the object.
class HintedHandoff {
 public:
  struct Options {
    dht::NodeId self;
    size_t replicas = 3;  // N
    // Hints are off at 0: anti-entropy alone repairs a replica that missed
    // writes.
    size_t max_hints_bytes = 64u << 20;
    // A hint of a write older than this is dropped rather than replayed: it
    // could meet a replica after a newer tombstone was purged everywhere.
    absl::Duration tombstone_grace = absl::Hours(1);
  };
  // The nodes that may own keys now (this node unless it is leaving).
  using CandidatesFn = std::function<std::vector<dht::Contact>()>;

  // With `storage_pool`, hints are added to `store` there (a durable hint
  // store writes to disk); otherwise on the calling thread. Replay's
  // continuations run on `executor`.
  HintedHandoff(Options options, HintStore* store, PeerTransport* transport,
                util::Executor* executor, const membership::Membership* membership,
                const util::Clock* clock, util::ThreadPool* storage_pool,
                CandidatesFn owner_candidates);

  // `target`, a replica of `key`, missed `rec`: keeps a hint for it on the
  // next-closest live node outside the replica set, or here when there is
  // none or that node fails to take it. Never blocks on the network.
  void Send(const dht::Contact& target, const std::string& key, const storage::Record& rec);

  // A peer asks this node to keep `rec` as a hint for `target`. `done` gets
  // FAILED_PRECONDITION when `target` is not a node this node knows (hints
  // are kept only for members), else the store's answer.
  void Accept(const dht::NodeId& target, const std::string& key, storage::Record rec,
              std::function<void(absl::Status)> done);

  // Replays up to a batch of hints to each target that is alive again, one
  // target at a time, and drops those of targets that are dead for good or
  // older than the grace; `done` runs on the executor once every replayed
  // Store answered. Call from the executor (it reads the hint store).
  void Replay(std::function<void()> done);

  // Counters (docs/operations.md): hints_sent, hints_kept, hints_replayed,
  // hints_dropped, hints_pending, hints_bytes.
  void AppendStats(std::vector<std::pair<std::string, uint64_t>>* out) const;

 private:
  // Replays (or drops) the oldest hints of `target`; then `done`.
  void ReplayTarget(const dht::NodeId& target, std::function<void()> done);
  // Adds the hint to this node's store (on the storage pool if any).
  void Keep(const dht::NodeId& target, const std::string& key, const storage::Record& rec);

  const Options options_;
  HintStore* const store_;
  PeerTransport* const transport_;
  util::Executor* const executor_;
  const membership::Membership* const membership_;
  const util::Clock* const clock_;
  util::ThreadPool* const storage_pool_;
  const CandidatesFn owner_candidates_;

  std::atomic<uint64_t> sent_{0}, kept_{0}, replayed_{0}, dropped_{0};
};

}  // namespace kv::replication
