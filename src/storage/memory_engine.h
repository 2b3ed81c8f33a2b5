// An in-memory Engine: fast, lost on restart.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/config.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "src/storage/engine.h"
#include "src/storage/record.h"

namespace kv::storage {

// Hash map split into shards, each with its own absl::Mutex (reader-shared
// locks for Read), so readers and writers of different keys don't serialize
// on one lock. Shard chosen by absl::Hash of the key. Thread-safe. Its
// methods never fail.
class MemoryEngine final : public Engine {
 public:
  // `shards` is the number of independently locked partitions; 0 is treated
  // as 1.
  explicit MemoryEngine(size_t shards = 32);

  MemoryEngine(const MemoryEngine&) = delete;
  MemoryEngine& operator=(const MemoryEngine&) = delete;

  [[nodiscard]] absl::StatusOr<bool> Apply(std::string_view key, const Record& rec) override;
  [[nodiscard]] absl::StatusOr<std::optional<Record>> Read(std::string_view key) const override;
  void ForEach(
      const std::function<void(std::string_view key, const Record& rec)>& fn) const override;
  size_t Size() const override;
  void TEST_Erase(std::string_view key) override;

 private:
  // Aligned to a cache line so that shards' mutexes don't false-share.
  struct alignas(ABSL_CACHELINE_SIZE) Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, Record> records ABSL_GUARDED_BY(mu);
  };

  Shard& ShardFor(std::string_view key) const;

  // Const after construction.
  const size_t num_shards_;
  const std::unique_ptr<Shard[]> shards_;  // num_shards_ elements
};

}  // namespace kv::storage
