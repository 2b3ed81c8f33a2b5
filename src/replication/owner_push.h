// Pushing records to peers with a bounded number of calls in flight: the
// step that hint replay, anti-entropy, rebalancing and a planned leave share.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "src/dht/node_id.h"
#include "src/membership/membership.h"
#include "src/replication/peer_transport.h"
#include "src/storage/engine.h"
#include "src/util/executor.h"

namespace kv::replication {

class HintedHandoff;

// One Store of `record` under `key` to `to`.
struct StoreJob {
  dht::Contact to;
  std::string key;
  storage::Record record;
};

// Runs the Stores with at most `window` in flight; once all have ended,
// `done` gets each job's status, in order, on `executor` (also when there
// are no jobs). Never blocks.
void StoreMany(PeerTransport* transport, util::Executor* executor, std::vector<StoreJob> jobs,
               size_t window, std::function<void(std::vector<absl::Status>)> done);

// Reads keys from the local engine and Stores each on its owners: the
// replicas nearest the key among a given set of owner candidates. Owners
// that are not alive get a hint instead. Thread-safe; every pointer is not
// owned and must outlive it and the callbacks of its calls.
class OwnerPush {
 public:
  // Peer calls in flight at once.
  static constexpr size_t kWindow = 32;

  OwnerPush(size_t replicas, storage::Engine* engine, PeerTransport* transport,
            util::Executor* executor, const membership::Membership* membership,
            HintedHandoff* hints)
      : replicas_(replicas),
        engine_(engine),
        transport_(transport),
        executor_(executor),
        membership_(membership),
        hints_(hints) {}

  // One key pushed: its index in the input, the record read and sent, and
  // whether it went to at least one owner and every owner it went to
  // acknowledged it.
  struct Pushed {
    size_t index;
    storage::Record record;
    bool acked;
  };
  // Called with a key's index, its record and its owners; true leaves the
  // key out.
  using SkipFn =
      std::function<bool(size_t, const storage::Record&, const std::vector<dht::Contact>&)>;

  // Pushes each of `keys` to its owners among `candidates`; once all
  // answered, `done` gets what was pushed, on the executor. A key is left
  // out when the engine no longer holds it or `skip` (optional) says so.
  // Reads the engine on the calling thread.
  void Push(const std::vector<std::string>& keys, const std::vector<dht::Contact>& candidates,
            const SkipFn& skip, std::function<void(std::vector<Pushed>)> done) const;

 private:
  const size_t replicas_;
  storage::Engine* const engine_;
  PeerTransport* const transport_;
  util::Executor* const executor_;
  const membership::Membership* const membership_;
  HintedHandoff* const hints_;
};

}  // namespace kv::replication
