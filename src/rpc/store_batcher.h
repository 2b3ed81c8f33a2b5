// Coalesces the replica Stores a node sends to one peer into few calls.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/dht/node_id.h"
#include "src/storage/record.h"

namespace kv::rpc {

// One Store waiting to be sent.
struct StoreItem {
  std::string key;
  storage::Record rec;
  std::optional<dht::NodeId> hint_for;  // set: keep as a hint for that replica
  absl::Time deadline;                  // the Store fails if not answered by then
  std::function<void(absl::Status)> done;
};

// Natural batching, as in group commit: a Store goes out at once while fewer
// than `window` calls to the peer are in flight; otherwise it waits, and when
// a call ends everything waiting leaves in the next call (up to `max_items`
// items and about `max_bytes` of keys and values). An idle peer therefore
// sees no added latency, and a busy one gets fewer, larger calls.
//
// Thread-safe. `send` performs one call: it must eventually invoke its
// `finished` argument exactly once, with one status per item, in order (it
// may do so before returning). The items stay valid until then. Items whose
// deadline has passed while they waited fail with DEADLINE_EXCEEDED without
// being sent. Every item's `done` runs exactly once, outside the lock.
class StoreBatcher {
 public:
  using Finished = std::function<void(std::vector<absl::Status>)>;
  using SendFn = std::function<void(const std::vector<StoreItem>& items, Finished finished)>;

  // Zero window or max_items count as 1.
  struct Options {
    size_t window = 2;
    size_t max_items = 256;
    size_t max_bytes = 1 << 20;
  };

  StoreBatcher(Options options, SendFn send);

  StoreBatcher(const StoreBatcher&) = delete;
  StoreBatcher& operator=(const StoreBatcher&) = delete;

  void Add(StoreItem item);

  // Calls in flight and items waiting; for tests.
  size_t in_flight() const;
  size_t waiting() const;

 private:
  // Takes the next call's items off the queue.
  std::vector<StoreItem> TakeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends `batch` (one slot of the window is already held for it), then
  // keeps the slot busy with whatever waits, until nothing does.
  void Run(std::vector<StoreItem> batch);

  // Const after construction.
  const Options options_;
  const SendFn send_;

  mutable absl::Mutex mu_;
  std::deque<StoreItem> queue_ ABSL_GUARDED_BY(mu_);
  size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kv::rpc
