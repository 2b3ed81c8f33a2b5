// Group commit: durable writes share one WAL write and one fsync.
//
// Writes are queued; one thread takes every write queued so far as a group,
// hands it to Engine::ApplyGroup (one WriteBatch, one fsync on RocksDB), then
// answers each. Writes that arrive while a group is being made durable form
// the next one, so the group grows with the load, as etcd batches its
// pending proposals and LevelDB its queued writers, and no thread waits per
// write. The hot path pays one hand-off to this thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "src/storage/engine.h"

namespace kv::storage {

class GroupCommit {
 public:
  // Called with Engine::Apply's result for the write, on the committing thread,
  // once its whole group is durable (or failed). Must not block.
  using Done = std::function<void(absl::StatusOr<bool>)>;

  struct Options {
    // Upper bounds of one group; a write larger than max_bytes forms a group alone.
    size_t max_writes = 1024;
    size_t max_bytes = size_t{8} << 20;
  };

  // Starts the committing thread. `engine` is not owned and must outlive this.
  GroupCommit(Engine* engine, Options options);
  explicit GroupCommit(Engine* engine) : GroupCommit(engine, Options{}) {}
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;
  // Stop().
  ~GroupCommit();

  // Queues the write of `rec` under `key`. After Stop, fails it with
  // UNAVAILABLE at once (on the calling thread).
  void Apply(std::string key, Record rec, Done done) ABSL_LOCKS_EXCLUDED(mu_);

  // Commits and answers every write queued so far, then stops the thread.
  // Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Groups written, and writes in them, since the start (kvctl stats).
  uint64_t groups() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t writes() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Pending {
    KeyedRecord write;
    Done done;
  };

  void Run();
  // Takes the next group off the queue, or returns false once stopping with
  // nothing queued.
  bool NextGroup(std::vector<Pending>* group) ABSL_LOCKS_EXCLUDED(mu_);

  Engine* const engine_;
  const Options options_;

  mutable absl::Mutex mu_;
  std::vector<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t groups_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t writes_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread thread_;  // last: started once the members above exist
};

}  // namespace kv::storage
