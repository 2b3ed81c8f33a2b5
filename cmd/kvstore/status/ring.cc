#include "cmd/kvstore/status/ring.h"

#include <cmath>

namespace kv::cmd::status {
namespace {

// Emits the arcs of the subtree of IDs starting with a `depth`-bit prefix
// that begins at `begin` and spans `width`. Invariant: every id in
// `candidates` has the same first `depth` bits, so for every ID of the
// subtree they tie on those bits of the XOR distance and the later bits
// decide.
void Walk(std::span<const dht::NodeId> ids, const std::vector<size_t>& candidates, int depth,
          double begin, double width, std::vector<OwnerArc>* out) {
  if (candidates.size() == 1 || depth == dht::kIdBits) {
    const size_t owner = candidates.front();
    if (!out->empty() && out->back().owner == owner) {
      out->back().end = begin + width;
    } else {
      out->push_back({.owner = owner, .begin = begin, .end = begin + width});
    }
    return;
  }
  for (int bit = 0; bit < 2; ++bit) {
    // IDs whose bit `depth` matches are closer to every ID of this half;
    // when there is none, all candidates tie on that bit too.
    std::vector<size_t> closer;
    for (size_t c : candidates) {
      if (ids[c].Bit(depth) == (bit == 1)) closer.push_back(c);
    }
    Walk(ids, closer.empty() ? candidates : closer, depth + 1, begin + bit * width / 2, width / 2,
         out);
  }
}

}  // namespace

double RingPosition(const dht::NodeId& id) {
  uint64_t top = 0;
  for (int i = 0; i < 8; ++i) top = top << 8 | id.bytes()[i];
  // 53 bits, what a double holds exactly: 2^64 - 1 would round up to 1.
  return std::ldexp(static_cast<double>(top >> 11), -53);
}

std::vector<OwnerArc> OwnerArcs(std::span<const dht::NodeId> ids) {
  std::vector<OwnerArc> out;
  if (ids.empty()) return out;
  std::vector<size_t> all;
  for (size_t i = 0; i < ids.size(); ++i) {
    bool duplicate = false;
    for (size_t j : all) duplicate = duplicate || ids[j] == ids[i];
    if (!duplicate) all.push_back(i);
  }
  Walk(ids, all, 0, 0.0, 1.0, &out);
  out.back().end = 1.0;
  return out;
}

}  // namespace kv::cmd::status
