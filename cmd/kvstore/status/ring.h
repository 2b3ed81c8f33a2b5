// The status page's ring: the 160-bit ID space drawn as a circle, each member
// placed by its ID, and the arcs of the space each member is the first owner
// of (the closest node by XOR distance: the first replica of every key whose
// SHA-1 falls there). Positions are fractions of the space, in [0, 1).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "src/dht/node_id.h"

namespace kv::cmd::status {

// The ID's place on the ring: its top 53 bits over 2^53 (exact in a double).
double RingPosition(const dht::NodeId& id);

// A range [begin, end) of the ID space whose every ID has ids[owner] as its
// closest node.
struct OwnerArc {
  size_t owner = 0;
  double begin = 0;
  double end = 0;
};

// The arcs each of `ids` is first owner of, in ring order, covering [0, 1)
// without gaps; neighbouring ranges of one owner are merged. Under XOR
// distance a node may own several separate arcs. Exact (computed on the
// 160-bit prefixes) up to double rounding of the bounds. Equal IDs count as
// one, owned by the first. Empty for no IDs.
std::vector<OwnerArc> OwnerArcs(std::span<const dht::NodeId> ids);

}  // namespace kv::cmd::status
