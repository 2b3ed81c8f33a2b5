#include "src/membership/rumours.h"

#include <algorithm>

namespace kv::membership {

bool Rumours::Offer(const Rumour& r, int sends, absl::Time now, bool renew) {
  auto it = entries_.find(r.subject);
  if (it != entries_.end()) {
    const Rumour& known = it->second.rumour;
    if (!r.Supersedes(known) && !(renew && r == known)) return false;
  } else {
    if (entries_.size() >= kMaxEntries) EvictOldest();
    it = entries_.emplace(r.subject, Entry{}).first;
  }
  Entry& e = it->second;
  if (e.sends_left == 0 && sends > 0) ++pending_;
  if (e.sends_left > 0 && sends <= 0) --pending_;
  e = Entry{.rumour = r, .sends_left = std::max(sends, 0), .sent = 0, .updated = now};
  return true;
}

const Rumour* Rumours::Find(const dht::NodeId& id) const {
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second.rumour;
}

std::vector<Rumour> Rumours::Take(size_t max) {
  // Every exchange answered asks, and most find nothing to pass on: no scan.
  if (pending_ == 0 || max == 0) return {};
  std::vector<Entry*> queued;
  queued.reserve(pending_);
  for (auto& [id, e] : entries_) {
    if (e.sends_left > 0) queued.push_back(&e);
  }
  const size_t n = std::min(max, queued.size());
  std::partial_sort(queued.begin(), queued.begin() + n, queued.end(),
                    [](const Entry* a, const Entry* b) {
                      if (a->sent != b->sent) return a->sent < b->sent;
                      return a->rumour.subject < b->rumour.subject;  // deterministic order
                    });
  std::vector<Rumour> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    Entry& e = *queued[i];
    out.push_back(e.rumour);
    ++e.sent;
    if (--e.sends_left == 0) --pending_;
  }
  return out;
}

std::vector<Rumour> Rumours::SettledDown(size_t max, std::mt19937_64& rng) const {
  std::vector<Rumour> settled;
  for (const auto& [id, e] : entries_) {
    if (e.rumour.down && e.sends_left == 0) settled.push_back(e.rumour);
  }
  // By subject first, so that the sample depends only on the seed.
  std::sort(settled.begin(), settled.end(),
            [](const Rumour& a, const Rumour& b) { return a.subject < b.subject; });
  std::vector<Rumour> out;
  std::sample(settled.begin(), settled.end(), std::back_inserter(out), max, rng);
  return out;
}

void Rumours::EvictOldest() {
  auto oldest = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (oldest == entries_.end() || it->second.updated < oldest->second.updated) oldest = it;
  }
  if (oldest == entries_.end()) return;
  if (oldest->second.sends_left > 0) --pending_;
  entries_.erase(oldest);
}

}  // namespace kv::membership
