// The digest tree an engine keeps of its records, updated on every change,
// so that anti-entropy compares replicas without reading the store
// (src/replication/repairer.h). Merkle trees as Cassandra and Dynamo use
// them, but kept current on write instead of built by a scan.
//
// A record's place in the tree is the first kTreeDepth bits of its key's ID
// (SHA-1 of the key, as dht::NodeId::FromKey computes it): the key space is
// cut into kTreeLeaves leaves, and a node of the tree at depth d (0..16)
// covers the 2^(16-d) leaves that share its d-bit prefix. A node's hash is
// the XOR of RecordHash of every record under it, so it changes in O(1) per
// write, an empty node hashes to 0, and two stores hash a node alike iff
// (but for a 2^-64 chance) they hold the same versions under it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "src/storage/record.h"

namespace kv::storage {

inline constexpr int kTreeDepth = 16;
inline constexpr uint32_t kTreeLeaves = uint32_t{1} << kTreeDepth;

// The leaf of `key`: the first kTreeDepth bits of SHA-1(key), which are the
// first bits of dht::NodeId::FromKey(key). Thread-safe (pure).
uint32_t LeafOf(std::string_view key);

// A hash of one record's identity, the key and the version, stable across
// processes and builds (FNV-1a then a SplitMix64 finalizer). The tombstone
// flag is left out on purpose: a version names one write, and an expired
// record turned into a tombstone by the purge keeps its version.
uint64_t RecordHash(std::string_view key, const Version& version);

// Thread-safe. Sparse: memory follows the number of non-empty nodes (none
// for an empty store, about 2.4 MB when every leaf holds a record: 70,000
// nodes in hash maps of 16-byte slots at about half load).
class DigestTree {
 public:
  DigestTree();
  DigestTree(const DigestTree&) = delete;
  DigestTree& operator=(const DigestTree&) = delete;

  // Records that the record stored under `key` changed from `before` to
  // `after` (nullptr: no record). Engines call it once per change, while
  // they hold the key's lock, so that changes of one key arrive in order.
  void Replace(std::string_view key, const Version* before, const Version* after);

  // The hash of the node at `depth` (0..kTreeDepth) with prefix `prefix`
  // (< 2^depth): XOR of RecordHash of every record whose leaf starts with
  // those bits. Depth 0 is the root. 0 for a depth or prefix out of range.
  // A node at depth < 4 (the root included) reads its depth-4 descendants
  // one after another: not a snapshot of concurrent Replaces of keys under
  // different ones.
  uint64_t Hash(uint32_t prefix, int depth) const;

  // Leaves under which at least one record is stored (precisely: whose hash
  // is not 0, so a leaf whose records' hashes cancel out, a 2^-64 chance,
  // is left out), ascending.
  std::vector<uint32_t> NonEmptyLeaves() const;

 private:
  // The tree is stored at depths 4, 8, 12 and 16; a node at another depth is
  // the XOR of its descendants at the next stored depth. Split by the first
  // 4 bits (the depth-4 node) so that writers under different nodes do not
  // share a lock.
  static constexpr int kShardBits = 4;
  struct alignas(64) Shard {
    mutable absl::Mutex mu;
    // Key: depth << 16 | prefix, for stored depths 8, 12 and 16; the
    // shard's own depth-4 hash is `top`. Nodes whose hash returns to 0 are
    // removed.
    absl::flat_hash_map<uint32_t, uint64_t> nodes ABSL_GUARDED_BY(mu);
    uint64_t top ABSL_GUARDED_BY(mu) = 0;
  };
  // XORs `hash` into the leaf and every stored ancestor.
  void Toggle(uint32_t leaf, uint64_t hash);
  // The hash of the node at a stored depth (4, 8, 12 or 16) of `shard`.
  static uint64_t StoredHash(const Shard& shard, uint32_t prefix, int depth)
      ABSL_SHARED_LOCKS_REQUIRED(shard.mu);

  std::unique_ptr<Shard[]> shards_;  // 2^kShardBits
};

}  // namespace kv::storage
