#include "src/rpc/store_batcher.h"

#include <atomic>
#include <memory>
#include <utility>

namespace kv::rpc {

namespace {

// What an item counts toward Options::max_bytes: its key and value, plus
// about what the rest of its encoding (version, node ID, framing) takes.
size_t ItemBytes(const StoreItem& item) { return item.key.size() + item.rec.value.size() + 64; }

StoreBatcher::Options Normalized(StoreBatcher::Options o) {
  if (o.window == 0) o.window = 1;
  if (o.max_items == 0) o.max_items = 1;
  return o;
}

}  // namespace

StoreBatcher::StoreBatcher(Options options, SendFn send)
    : options_(Normalized(options)), send_(std::move(send)) {}

void StoreBatcher::Add(StoreItem item) {
  std::vector<StoreItem> batch;
  {
    absl::MutexLock l(&mu_);
    queue_.push_back(std::move(item));
    if (in_flight_ >= options_.window) return;  // leaves when a call ends
    ++in_flight_;
    batch = TakeLocked();
  }
  Run(std::move(batch));
}

std::vector<StoreItem> StoreBatcher::TakeLocked() {
  std::vector<StoreItem> batch;
  size_t bytes = 0;
  while (!queue_.empty() && batch.size() < options_.max_items) {
    size_t b = ItemBytes(queue_.front());
    if (!batch.empty() && bytes + b > options_.max_bytes) break;
    bytes += b;
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return batch;
}

void StoreBatcher::Run(std::vector<StoreItem> batch) {
  // A loop rather than recursion, for sends that finish before returning
  // (a transport that is shutting down fails every call at once).
  while (true) {
    std::vector<StoreItem> live;
    const absl::Time now = absl::Now();
    for (StoreItem& item : batch) {
      if (item.deadline <= now) {
        item.done(absl::DeadlineExceededError(
            "the store waited for a slot to the replica until its deadline passed"));
      } else {
        live.push_back(std::move(item));
      }
    }
    if (!live.empty()) {
      // Who continues with the queue: the finished callback if send_ has
      // already returned by then, else this loop. 0: sending, 1: finished,
      // 2: send_ returned.
      auto items = std::make_shared<std::vector<StoreItem>>(std::move(live));
      auto phase = std::make_shared<std::atomic<int>>(0);
      send_(*items, [this, items, phase](std::vector<absl::Status> results) {
        for (size_t i = 0; i < items->size(); ++i) {
          (*items)[i].done(i < results.size()
                               ? std::move(results[i])
                               : absl::InternalError("the replica's answer lacks this store"));
        }
        if (phase->exchange(1) != 2) return;  // Run's loop goes on
        std::vector<StoreItem> next;
        {
          absl::MutexLock l(&mu_);
          if (queue_.empty()) {
            --in_flight_;
            return;
          }
          next = TakeLocked();
        }
        Run(std::move(next));
      });
      if (phase->exchange(2) == 0) return;  // the callback goes on
    }
    absl::MutexLock l(&mu_);
    if (queue_.empty()) {
      --in_flight_;
      return;
    }
    batch = TakeLocked();
  }
}

size_t StoreBatcher::in_flight() const {
  absl::MutexLock l(&mu_);
  return in_flight_;
}

size_t StoreBatcher::waiting() const {
  absl::MutexLock l(&mu_);
  return queue_.size();
}

}  // namespace kv::rpc
