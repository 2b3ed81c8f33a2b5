#include "src/replication/ownership.h"

#include <algorithm>
#include <utility>

namespace kv::replication {

namespace {

struct Candidate {
  uint32_t top;  // the first kTreeDepth bits of the ID
  const dht::NodeId* id;
};

class Walker {
 public:
  Walker(const std::vector<dht::Contact>& candidates, const dht::NodeId& self, size_t n)
      : self_(self), n_(n) {
    for (const dht::Contact& c : candidates) cands_.push_back({LeafOfId(c.id), &c.id});
  }

  void Walk(uint32_t prefix, int depth, std::vector<OwnedRange>* out) {
    // For a key under `prefix`, a node whose ID differs from the prefix in
    // its first `depth` bits by more (as a number) is farther than one that
    // differs by less, whatever the key's other bits. Nodes that differ by
    // the same amount form a class whose order depends on those other bits.
    const int shift = storage::kTreeDepth - depth;
    std::vector<std::pair<uint32_t, const Candidate*>> by_class;
    by_class.reserve(cands_.size());
    for (const Candidate& c : cands_) by_class.emplace_back((c.top >> shift) ^ prefix, &c);
    std::sort(by_class.begin(), by_class.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : *a.second->id < *b.second->id;
    });
    // Whole classes while they fit in n; the first that does not is the
    // boundary, and ownership varies within the range.
    size_t taken = 0;
    size_t boundary_end = 0;
    while (taken < by_class.size() && taken < n_) {
      size_t end = taken;
      while (end < by_class.size() && by_class[end].first == by_class[taken].first) ++end;
      if (end - taken > n_ - taken) {
        boundary_end = end;
        break;
      }
      taken = end;
    }
    const size_t listed = boundary_end == 0 ? taken : boundary_end;
    const bool self_listed =
        std::any_of(by_class.begin(), by_class.begin() + static_cast<ptrdiff_t>(listed),
                    [&](const auto& e) { return *e.second->id == self_; });
    if (!self_listed) return;  // at least n nodes are closer to every key here
    if (boundary_end != 0 && depth < storage::kTreeDepth) {
      Walk(prefix << 1, depth + 1, out);
      Walk((prefix << 1) | 1, depth + 1, out);
      return;
    }
    OwnedRange range{.prefix = prefix, .depth = depth, .partial = boundary_end != 0};
    for (size_t i = 0; i < listed; ++i) range.owners.push_back(*by_class[i].second->id);
    out->push_back(std::move(range));
  }

 private:
  const dht::NodeId self_;
  const size_t n_;
  std::vector<Candidate> cands_;
};

}  // namespace

std::vector<OwnedRange> RangesOwnedBy(const std::vector<dht::Contact>& candidates,
                                      const dht::NodeId& self, size_t n) {
  std::vector<OwnedRange> out;
  if (n == 0) return out;
  Walker(candidates, self, n).Walk(0, 0, &out);
  return out;
}

}  // namespace kv::replication
