#include "src/storage/memory_engine.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace kv::storage {
namespace {

// Debian 12's abseil is built with its own absl::string_view rather than
// std::string_view, and its containers' heterogeneous lookup takes only that.
absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

MemoryEngine::MemoryEngine(size_t shards)
    : num_shards_(std::max<size_t>(shards, 1)), shards_(new Shard[num_shards_]) {}

MemoryEngine::Shard& MemoryEngine::ShardFor(std::string_view key) const {
  // The flat_hash_map inside the shard hashes the key with the same function
  // and uses its low bits; pick the shard from the high bits so that keys in
  // one shard still differ in those.
  const uint64_t hash = absl::Hash<absl::string_view>{}(AsAbsl(key));
  return shards_[(hash >> 32) % num_shards_];
}

absl::StatusOr<bool> MemoryEngine::Apply(std::string_view key, const Record& rec) {
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.records.find(AsAbsl(key));
  if (it == shard.records.end()) {
    shard.records.emplace(std::string(key), rec);
    return true;
  }
  if (it->second.version >= rec.version) return false;
  it->second = rec;
  return true;
}

absl::StatusOr<std::optional<Record>> MemoryEngine::Read(std::string_view key) const {
  Shard& shard = ShardFor(key);
  absl::ReaderMutexLock lock(&shard.mu);
  auto it = shard.records.find(AsAbsl(key));
  if (it == shard.records.end()) return std::optional<Record>();
  return std::optional<Record>(it->second);
}

void MemoryEngine::ForEach(
    const std::function<void(std::string_view key, const Record& rec)>& fn) const {
  for (size_t i = 0; i < num_shards_; ++i) {
    const Shard& shard = shards_[i];
    absl::ReaderMutexLock lock(&shard.mu);
    for (const auto& [key, rec] : shard.records) fn(key, rec);
  }
}

size_t MemoryEngine::Size() const {
  size_t total = 0;
  for (size_t i = 0; i < num_shards_; ++i) {
    const Shard& shard = shards_[i];
    absl::ReaderMutexLock lock(&shard.mu);
    total += shard.records.size();
  }
  return total;
}

void MemoryEngine::TEST_Erase(std::string_view key) {
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  shard.records.erase(AsAbsl(key));
}

}  // namespace kv::storage
