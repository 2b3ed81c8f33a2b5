#include "src/dht/routing_table.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace kv::dht {
namespace {

// Position of the contact with `id` in `v`, or v.end().
template <typename Container>
auto FindById(Container& v, const NodeId& id) {
  return std::find_if(v.begin(), v.end(), [&](const Contact& c) { return c.id == id; });
}

}  // namespace

RoutingTable::RoutingTable(NodeId self, Options options, absl::Time now)
    : self_(self), options_(options) {
  assert(options_.k >= 1);
  for (KBucket& b : buckets_) b.last_touched = now;
}

int RoutingTable::BucketIndex(const NodeId& id) const {
  assert(id != self_);
  return self_.CommonPrefixLength(id);
}

void RoutingTable::AddReplacement(KBucket& b, const Contact& c) {
  if (options_.replacement_cache_size == 0) return;
  if (auto it = FindById(b.replacements, c.id); it != b.replacements.end()) {
    b.replacements.erase(it);
  }
  b.replacements.push_back(c);
  while (b.replacements.size() > options_.replacement_cache_size) b.replacements.pop_front();
}

RoutingTable::UpdateResult RoutingTable::Update(const Contact& c, absl::Time now) {
  if (c.id == self_) return {UpdateOutcome::kIgnoredSelf, std::nullopt};
  KBucket& b = BucketFor(c.id);
  b.last_touched = now;
  if (auto it = FindById(b.contacts, c.id); it != b.contacts.end()) {
    b.contacts.erase(it);
    b.contacts.push_back(c);
    return {UpdateOutcome::kRefreshed, std::nullopt};
  }
  if (b.contacts.size() < options_.k) {
    if (auto it = FindById(b.replacements, c.id); it != b.replacements.end()) {
      b.replacements.erase(it);
    }
    b.contacts.push_back(c);
    ++size_;
    return {UpdateOutcome::kInserted, std::nullopt};
  }
  AddReplacement(b, c);
  return {UpdateOutcome::kBucketFull, b.contacts.front()};
}

void RoutingTable::OnPingResult(const NodeId& id, bool alive, absl::Time now) {
  if (id == self_) return;
  KBucket& b = BucketFor(id);
  auto it = FindById(b.contacts, id);
  if (it == b.contacts.end()) return;
  if (!alive) {
    Remove(id);
    return;
  }
  Contact c = std::move(*it);
  b.contacts.erase(it);
  b.contacts.push_back(std::move(c));
  b.last_touched = now;
}

void RoutingTable::Remove(const NodeId& id) {
  if (id == self_) return;
  KBucket& b = BucketFor(id);
  if (auto it = FindById(b.replacements, id); it != b.replacements.end()) {
    b.replacements.erase(it);
  }
  auto it = FindById(b.contacts, id);
  if (it == b.contacts.end()) return;
  b.contacts.erase(it);
  --size_;
  if (!b.replacements.empty()) {
    b.contacts.push_back(std::move(b.replacements.back()));
    b.replacements.pop_back();
    ++size_;
  }
}

std::vector<Contact> RoutingTable::Closest(const NodeId& target, size_t n) const {
  std::vector<std::pair<NodeId, const Contact*>> by_distance;
  by_distance.reserve(size_);
  // Random IDs fill the low buckets (index = common prefix length): stop at
  // the last contact instead of visiting all 160.
  for (size_t i = 0; i < buckets_.size() && by_distance.size() < size_; ++i) {
    for (const Contact& c : buckets_[i].contacts) by_distance.emplace_back(c.id ^ target, &c);
  }
  n = std::min(n, by_distance.size());
  // Distances of distinct IDs are distinct, so comparing them alone is a strict order.
  std::partial_sort(by_distance.begin(), by_distance.begin() + n, by_distance.end(),
                    [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<Contact> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(*by_distance[i].second);
  return out;
}

bool RoutingTable::Complete(const NodeId& target, int depth) const {
  // The IDs sharing `depth` bits with target share them with self too when
  // target and self agree that far: they are self plus buckets depth..159.
  // Otherwise they lie inside bucket cpl(self, target), whose contacts
  // differ from self at that bit just as target does. Either way they lie
  // in the region around self made of buckets `from`..159.
  const int from = std::min(depth, self_.CommonPrefixLength(target));
  size_t held = 0;
  for (int i = from; i < kIdBits; ++i) {
    if (!buckets_[i].replacements.empty()) return false;
    held += buckets_[i].contacts.size();
  }
  // Fewer than k nodes there: each of them, joining, looked up its own ID
  // and so asked self (one of its k closest), and self heard of it.
  return held < options_.k;
}

std::vector<Contact> RoutingTable::All() const {
  std::vector<Contact> out;
  out.reserve(size_);
  for (size_t i = 0; i < buckets_.size() && out.size() < size_; ++i) {
    out.insert(out.end(), buckets_[i].contacts.begin(), buckets_[i].contacts.end());
  }
  return out;
}

std::optional<Contact> RoutingTable::Find(const NodeId& id) const {
  if (id == self_) return std::nullopt;
  const KBucket& b = BucketFor(id);
  auto it = FindById(b.contacts, id);
  if (it == b.contacts.end()) return std::nullopt;
  return *it;
}

std::vector<int> RoutingTable::StaleBuckets(absl::Time now, absl::Duration idle) const {
  int deepest = -1;
  for (int i = kIdBits - 1; i >= 0; --i) {
    if (!buckets_[i].contacts.empty()) {
      deepest = i;
      break;
    }
  }
  std::vector<int> out;
  for (int i = 0; i <= deepest; ++i) {
    if (now - buckets_[i].last_touched > idle) out.push_back(i);
  }
  return out;
}

void RoutingTable::MarkRefreshed(int bucket_index, absl::Time now) {
  assert(bucket_index >= 0 && bucket_index < kIdBits);
  buckets_[bucket_index].last_touched = now;
}

NodeId RoutingTable::RandomIdInBucket(int bucket_index, std::mt19937_64& rng) const {
  assert(bucket_index >= 0 && bucket_index < kIdBits);
  // Keep self's first bucket_index bits, flip the next one, randomize the rest.
  std::array<uint8_t, kIdBytes> bytes = NodeId::Random(rng).bytes();
  const std::array<uint8_t, kIdBytes>& mine = self_.bytes();
  const int byte = bucket_index / 8;
  const int bit_in_byte = bucket_index % 8;  // 0 = most significant
  const uint8_t flip = static_cast<uint8_t>(0x80u >> bit_in_byte);
  const uint8_t prefix_mask = static_cast<uint8_t>(0xff00u >> bit_in_byte);  // bits before
  for (int i = 0; i < byte; ++i) bytes[i] = mine[i];
  bytes[byte] = static_cast<uint8_t>((mine[byte] & prefix_mask) | (~mine[byte] & flip) |
                                     (bytes[byte] & ~prefix_mask & ~flip));
  return NodeId(bytes);
}

std::vector<Contact> RoutingTable::ReplacementCache(int bucket_index) const {
  assert(bucket_index >= 0 && bucket_index < kIdBits);
  const KBucket& b = buckets_[bucket_index];
  return std::vector<Contact>(b.replacements.begin(), b.replacements.end());
}

std::vector<Contact> RoutingTable::Bucket(int bucket_index) const {
  assert(bucket_index >= 0 && bucket_index < kIdBits);
  return buckets_[bucket_index].contacts;
}

}  // namespace kv::dht
