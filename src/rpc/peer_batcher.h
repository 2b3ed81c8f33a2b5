// Coalesces the calls a node makes to one peer (replica Stores, Fetches)
// into few batch calls.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
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

// One Fetch waiting to be sent.
struct FetchItem {
  using Result = absl::StatusOr<std::optional<storage::Record>>;
  std::string key;
  absl::Time deadline;
  std::function<void(Result)> done;
};

// What an item counts toward Options::max_bytes: its key and value, plus
// about what the rest of its encoding (version, node ID, framing) takes.
inline size_t BatchBytes(const StoreItem& item) {
  return item.key.size() + item.rec.value.size() + 64;
}
inline size_t BatchBytes(const FetchItem& item) { return item.key.size() + 8; }

// Natural batching, as in group commit: an item goes out at once while fewer
// than `window` calls to the peer are in flight; otherwise it waits, and when
// a call ends everything waiting leaves in the next call (up to `max_items`
// items and about `max_bytes`, by BatchBytes). An idle peer therefore sees
// no added latency, and a busy one gets fewer, larger calls.
//
// Thread-safe. `send` performs one call: it must eventually invoke its
// `finished` argument exactly once, with one result per item, in order (it
// may do so before returning). The items stay valid until then. Items whose
// deadline has passed while they waited fail with DEADLINE_EXCEEDED without
// being sent. Every item's `done` runs exactly once, outside the lock.
template <typename Item, typename Result>
class Batcher {
 public:
  using Finished = std::function<void(std::vector<Result>)>;
  using SendFn = std::function<void(const std::vector<Item>& items, Finished finished)>;

  // Zero window or max_items count as 1.
  struct Options {
    size_t window = 2;
    size_t max_items = 256;
    size_t max_bytes = 1 << 20;
  };

  Batcher(Options options, SendFn send) : options_(Normalized(options)), send_(std::move(send)) {}

  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  void Add(Item item) {
    std::vector<Item> batch;
    {
      absl::MutexLock l(&mu_);
      queue_.push_back(std::move(item));
      if (in_flight_ >= options_.window) return;  // leaves when a call ends
      ++in_flight_;
      batch = TakeLocked();
    }
    Run(std::move(batch));
  }

  // Calls in flight and items waiting; for tests.
  size_t in_flight() const {
    absl::MutexLock l(&mu_);
    return in_flight_;
  }
  size_t waiting() const {
    absl::MutexLock l(&mu_);
    return queue_.size();
  }

 private:
  static Options Normalized(Options o) {
    if (o.window == 0) o.window = 1;
    if (o.max_items == 0) o.max_items = 1;
    return o;
  }

  // Takes the next call's items off the queue.
  std::vector<Item> TakeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<Item> batch;
    size_t bytes = 0;
    while (!queue_.empty() && batch.size() < options_.max_items) {
      const size_t b = BatchBytes(queue_.front());
      if (!batch.empty() && bytes + b > options_.max_bytes) break;
      bytes += b;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    return batch;
  }

  // The next batch for the slot a call just gave back, or none (and the
  // slot is released) when nothing waits.
  std::optional<std::vector<Item>> NextOrRelease() {
    absl::MutexLock l(&mu_);
    if (queue_.empty()) {
      --in_flight_;
      return std::nullopt;
    }
    return TakeLocked();
  }

  // Sends `batch` (one slot of the window is already held for it), then
  // keeps the slot busy with whatever waits, until nothing does. A loop
  // rather than recursion, for sends that finish before returning (a
  // transport that is shutting down fails every call at once).
  void Run(std::vector<Item> batch) {
    while (true) {
      std::vector<Item> live;
      const absl::Time now = absl::Now();
      for (Item& item : batch) {
        if (item.deadline <= now) {
          item.done(Result(absl::DeadlineExceededError(
              "the call waited for a slot to the peer until its deadline passed")));
        } else {
          live.push_back(std::move(item));
        }
      }
      if (!live.empty()) {
        // Who continues with the queue: the finished callback if send_ has
        // already returned by then, else this loop. 0: sending, 1: finished,
        // 2: send_ returned.
        auto items = std::make_shared<std::vector<Item>>(std::move(live));
        auto phase = std::make_shared<std::atomic<int>>(0);
        send_(*items, [this, items, phase](std::vector<Result> results) {
          for (size_t i = 0; i < items->size(); ++i) {
            (*items)[i].done(i < results.size() ? std::move(results[i])
                                                : Result(absl::InternalError(
                                                      "the peer's answer lacks this item")));
          }
          if (phase->exchange(1) != 2) return;  // Run's loop goes on
          if (std::optional<std::vector<Item>> next = NextOrRelease()) Run(*std::move(next));
        });
        if (phase->exchange(2) == 0) return;  // the callback goes on
      }
      std::optional<std::vector<Item>> next = NextOrRelease();
      if (!next) return;
      batch = *std::move(next);
    }
  }

  // Const after construction.
  const Options options_;
  const SendFn send_;

  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

using StoreBatcher = Batcher<StoreItem, absl::Status>;
using FetchBatcher = Batcher<FetchItem, FetchItem::Result>;

}  // namespace kv::rpc
