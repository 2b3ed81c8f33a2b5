// Which parts of the key space a node owns, cut along the digest tree
// (storage/digest_tree.h): the prefix ranges of key IDs on which the N
// closest nodes stay the same. Anti-entropy compares two replicas' trees over
// the ranges both own, without reading a record. Pure: no I/O, no locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "src/dht/node_id.h"
#include "src/storage/digest_tree.h"

namespace kv::replication {

// Keys whose IDs start with the `depth` bits of `prefix`.
struct OwnedRange {
  uint32_t prefix = 0;
  int depth = 0;  // 0..storage::kTreeDepth
  // The owners of every key in the range, by distance to the range. For a
  // partial leaf, every node that owns some of its keys and perhaps more.
  std::vector<dht::NodeId> owners;
  // A leaf (depth == kTreeDepth) whose keys do not all have the same owners:
  // node IDs share more than kTreeDepth bits there.
  bool partial = false;

  // The leaves the range covers: [first_leaf(), end_leaf()).
  uint32_t first_leaf() const { return prefix << (storage::kTreeDepth - depth); }
  uint32_t end_leaf() const { return (prefix + 1) << (storage::kTreeDepth - depth); }
};

// The ranges, in ascending order and not overlapping, where `self` is one of
// the `n` closest to the keys among `candidates` (which include `self`), or
// may be one for a partial leaf. Exact: a key whose range is not listed is
// not owned by `self`, and a key in a listed range that is not partial has
// exactly that range's owners. Costs O(C log C) per range it visits (C
// candidates); it visits only ranges where `self` may own keys.
std::vector<OwnedRange> RangesOwnedBy(const std::vector<dht::Contact>& candidates,
                                      const dht::NodeId& self, size_t n);

// The first kTreeDepth bits of `id` (for keys, storage::LeafOf).
inline uint32_t LeafOfId(const dht::NodeId& id) {
  const auto& b = id.bytes();
  return (uint32_t{b[0]} << 8 | b[1]) >> (16 - storage::kTreeDepth);
}

}  // namespace kv::replication
