#include "src/storage/digest_tree.h"

#include <algorithm>

#include "src/util/sha1.h"

namespace kv::storage {
namespace {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

uint64_t Fnv(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The depths at which the tree is stored, below the shards' own (kShardBits).
constexpr int kStoredDepths[] = {8, 12, kTreeDepth};

uint32_t NodeKey(int depth, uint32_t prefix) {
  return static_cast<uint32_t>(depth) << kTreeDepth | prefix;
}

}  // namespace

uint32_t LeafOf(std::string_view key) {
  static_assert(kTreeDepth == 16, "LeafOf takes the first two bytes of the key's ID");
  const std::array<uint8_t, util::kSha1Bytes> id = util::Sha1(key);
  return (uint32_t{id[0]} << 8) | id[1];
}

uint64_t RecordHash(std::string_view key, const Version& version) {
  uint64_t h = Fnv(kFnvOffset, key);
  h ^= 0xff;                                     // separates the key from what follows
  for (int shift = 0; shift < 64; shift += 8) {  // little-endian on every host
    h ^= (version.timestamp >> shift) & 0xff;
    h *= kFnvPrime;
  }
  h = Fnv(h, version.node_id);
  return SplitMix(h);
}

DigestTree::DigestTree() : shards_(new Shard[size_t{1} << kShardBits]) {}

void DigestTree::Replace(std::string_view key, const Version* before, const Version* after) {
  if (before == nullptr && after == nullptr) return;
  if (before != nullptr && after != nullptr && *before == *after) return;
  const uint64_t hash = (before == nullptr ? 0 : RecordHash(key, *before)) ^
                        (after == nullptr ? 0 : RecordHash(key, *after));
  if (hash != 0) Toggle(LeafOf(key), hash);
}

void DigestTree::Toggle(uint32_t leaf, uint64_t hash) {
  Shard& shard = shards_[leaf >> (kTreeDepth - kShardBits)];
  absl::MutexLock lock(&shard.mu);
  shard.top ^= hash;
  for (int depth : kStoredDepths) {
    const uint32_t key = NodeKey(depth, leaf >> (kTreeDepth - depth));
    auto [it, inserted] = shard.nodes.try_emplace(key, 0);
    it->second ^= hash;
    if (it->second == 0) shard.nodes.erase(it);
  }
}

uint64_t DigestTree::StoredHash(const Shard& shard, uint32_t prefix, int depth) {
  if (depth == kShardBits) return shard.top;
  auto it = shard.nodes.find(NodeKey(depth, prefix));
  return it == shard.nodes.end() ? 0 : it->second;
}

uint64_t DigestTree::Hash(uint32_t prefix, int depth) const {
  if (depth < 0 || depth > kTreeDepth || prefix >= (uint64_t{1} << depth)) return 0;
  // Every node at depth <= kShardBits is the XOR of whole shards' tops.
  if (depth <= kShardBits) {
    const int span = kShardBits - depth;
    uint64_t hash = 0;
    for (uint32_t s = prefix << span; s < (prefix + 1) << span; ++s) {
      const Shard& shard = shards_[s];
      absl::ReaderMutexLock lock(&shard.mu);
      hash ^= shard.top;
    }
    return hash;
  }
  // Deeper nodes lie within one shard: XOR of their descendants at the next
  // stored depth (themselves if stored).
  const int stored = (depth + kShardBits - 1) / kShardBits * kShardBits;
  const int span = stored - depth;
  const Shard& shard = shards_[prefix >> (depth - kShardBits)];
  absl::ReaderMutexLock lock(&shard.mu);
  uint64_t hash = 0;
  for (uint32_t p = prefix << span; p < (prefix + 1) << span; ++p) {
    hash ^= StoredHash(shard, p, stored);
  }
  return hash;
}

std::vector<uint32_t> DigestTree::NonEmptyLeaves() const {
  std::vector<uint32_t> leaves;
  // Shard s holds the leaves whose first kShardBits bits are s: sorting each
  // shard's and appending them in shard order sorts them all.
  for (size_t s = 0; s < (size_t{1} << kShardBits); ++s) {
    const Shard& shard = shards_[s];
    const size_t first = leaves.size();
    {
      absl::ReaderMutexLock lock(&shard.mu);
      for (const auto& [key, hash] : shard.nodes) {
        if (key >> kTreeDepth == kTreeDepth) leaves.push_back(key & (kTreeLeaves - 1));
      }
    }
    std::sort(leaves.begin() + static_cast<std::ptrdiff_t>(first), leaves.end());
  }
  return leaves;
}

}  // namespace kv::storage
