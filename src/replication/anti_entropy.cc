#include "src/replication/anti_entropy.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"

namespace kv::replication {

size_t BucketOf(const dht::NodeId& key_id) {
  const auto& b = key_id.bytes();
  return ((size_t{b[0]} << 8) | b[1]) >> (16 - kDigestBucketBits);
}

uint64_t DigestRoot(const Digest& d) {
  uint64_t root = 0;
  for (uint64_t b : d) root ^= b;
  return root;
}

bool ValidTreeRange(uint32_t prefix, int depth) {
  return depth >= 0 && depth <= storage::kTreeDepth && uint64_t{prefix} < (uint64_t{1} << depth);
}

TreeAnswer CompareTree(const storage::DigestTree& mine, const std::vector<TreeRange>& theirs) {
  TreeAnswer answer;
  for (size_t i = 0; i < theirs.size(); ++i) {
    const uint64_t h = mine.Hash(theirs[i].prefix, theirs[i].depth);
    if (h == theirs[i].hash) continue;
    answer.differing.push_back(static_cast<uint32_t>(i));
    answer.hashes.push_back(h);
  }
  return answer;
}

std::vector<uint32_t> DifferingBuckets(const Digest& a, const Digest& b) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < kDigestBuckets; ++i) {
    if (a[i] != b[i]) out.push_back(static_cast<uint32_t>(i));
  }
  return out;
}

ReconcilePlan PlanReconcile(const std::vector<KeyVersion>& theirs, std::vector<KeyRecord> mine,
                            size_t max_newer_bytes) {
  absl::flat_hash_map<std::string_view, const KeyVersion*> by_key;
  by_key.reserve(theirs.size());
  for (const KeyVersion& kv : theirs) by_key[kv.key] = &kv;

  ReconcilePlan plan;
  size_t newer_bytes = 0;
  absl::flat_hash_map<std::string_view, bool> mine_keys;
  mine_keys.reserve(mine.size());
  for (const KeyRecord& r : mine) mine_keys[r.key] = true;
  for (const KeyVersion& kv : theirs) {
    if (!mine_keys.contains(kv.key)) plan.wanted.push_back(kv.key);
  }
  for (KeyRecord& r : mine) {
    auto it = by_key.find(r.key);
    if (it != by_key.end() && it->second->version == r.record.version) continue;
    if (it != by_key.end() && it->second->version > r.record.version) {
      plan.wanted.push_back(r.key);
      continue;
    }
    const size_t bytes = RecordWireBytes(r.key, r.record);
    if (!plan.newer.empty() && newer_bytes + bytes > max_newer_bytes) {
      plan.truncated = true;
      continue;
    }
    newer_bytes += bytes;
    plan.newer.push_back(std::move(r));
  }
  return plan;
}

size_t RecordWireBytes(std::string_view key, const storage::Record& rec) {
  // Field tags, lengths, the 8-byte timestamp and expiry, the tombstone flag.
  constexpr size_t kFraming = 24;
  return key.size() + rec.value.size() + rec.version.node_id.size() + kFraming;
}

}  // namespace kv::replication
