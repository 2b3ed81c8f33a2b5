#include "src/membership/membership.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"

namespace kv::membership {

Membership::Membership(Options options, const util::Clock* clock)
    : self_(options.self),
      k_(options.k),
      clock_(clock),
      table_(options.self.id,
             dht::RoutingTable::Options{.k = options.k, .replacement_cache_size = options.k},
             clock->Now()),
      detector_(options.failure_timeout) {}

std::optional<dht::Contact> Membership::Observe(const dht::Contact& c) {
  if (c.id == self_.id || c.address.empty()) return std::nullopt;
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  return table_.Update(c, now).ping_candidate;
}

void Membership::OnPingResult(const dht::NodeId& id, bool alive) {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  table_.OnPingResult(id, alive, now);
  if (alive) {
    detector_.Heard(id, now);
  } else if (!table_.Find(id)) {
    detector_.Forget(id);
  }
}

void Membership::Heard(const dht::NodeId& id) {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  detector_.Heard(id, now);
}

bool Membership::IsAlive(const dht::NodeId& id) const {
  if (id == self_.id) return true;
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  return detector_.State(id, now) == PeerState::kAlive;
}

std::vector<dht::Contact> Membership::ClosestLive(const dht::NodeId& target, size_t n) const {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  // Ask for a margin beyond n so a few down nodes do not force a full scan.
  for (size_t want = n + 4;; want = table_.size()) {
    std::vector<dht::Contact> candidates = table_.Closest(target, want);
    candidates.push_back(self_);
    std::sort(candidates.begin(), candidates.end(),
              [&](const dht::Contact& a, const dht::Contact& b) {
                return dht::CloserTo(target, a.id, b.id);
              });
    std::vector<dht::Contact> live;
    for (dht::Contact& c : candidates) {
      if (live.size() == n) break;
      if (c.id == self_.id || detector_.State(c.id, now) == PeerState::kAlive) {
        live.push_back(std::move(c));
      }
    }
    if (live.size() == n || want >= table_.size()) return live;
  }
}

std::vector<dht::Contact> Membership::Closest(const dht::NodeId& target, size_t n) const {
  absl::MutexLock l(&mu_);
  return table_.Closest(target, n);
}

size_t Membership::KnownNodes() const {
  absl::MutexLock l(&mu_);
  return table_.size() + 1;
}

std::vector<Membership::PeerView> Membership::Peers() const {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  std::vector<PeerView> out;
  for (dht::Contact& c : table_.Closest(self_.id, table_.size())) {
    PeerView v{.contact = c,
               .state = detector_.State(c.id, now),
               .bucket = table_.BucketIndex(c.id),
               .last_heard = detector_.LastHeard(c.id)};
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<dht::Contact> Membership::HeartbeatTargets(size_t max) {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  std::vector<dht::Contact> targets = table_.Closest(self_.id, max);
  absl::flat_hash_set<dht::NodeId> ids;
  for (const dht::Contact& c : targets) {
    ids.insert(c.id);
    detector_.Track(c.id, now);
  }
  detector_.RetainOnly(ids);
  return targets;
}

std::vector<FailureDetector::Transition> Membership::Sweep() {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  return detector_.Sweep(now);
}

std::vector<dht::NodeId> Membership::BucketsToRefresh(absl::Duration idle, std::mt19937_64& rng) {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  std::vector<dht::NodeId> targets;
  for (int b : table_.StaleBuckets(now, idle)) {
    targets.push_back(table_.RandomIdInBucket(b, rng));
    table_.MarkRefreshed(b, now);
  }
  return targets;
}

}  // namespace kv::membership
