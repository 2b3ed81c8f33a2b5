#include "src/membership/membership.h"

#include <algorithm>
#include <bit>

#include "absl/container/flat_hash_set.h"

namespace kv::membership {

Membership::Membership(Options options, const util::Clock* clock)
    : self_(options.self),
      k_(options.k),
      probe_interval_(options.full_bucket_probe_interval),
      clock_(clock),
      table_(options.self.id,
             dht::RoutingTable::Options{.k = options.k, .replacement_cache_size = options.k},
             clock->Now()),
      detector_(FailureDetector::Options{.failure_timeout = options.failure_timeout,
                                         .phi_suspect = options.phi_suspect,
                                         .phi_down = options.phi_down,
                                         .dead_after = options.dead_after}) {
  last_evict_probe_.fill(absl::InfinitePast());
  last_claim_probe_.fill(absl::InfinitePast());
  epoch_ = options.epoch != 0
               ? options.epoch
               : static_cast<uint64_t>(std::max<int64_t>(1, absl::ToUnixMicros(clock->Now())));
}

std::optional<dht::Contact> Membership::Observe(const dht::Contact& c) {
  if (c.id == self_.id || c.address.empty()) return std::nullopt;
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  std::optional<dht::Contact> oldest = table_.Update(c, now).ping_candidate;
  if (!oldest || !SpendProbe(last_evict_probe_[table_.BucketIndex(c.id)], now)) {
    return std::nullopt;
  }
  return oldest;
}

bool Membership::SpendProbe(absl::Time& last, absl::Time now) const {
  if (now - last < probe_interval_) return false;
  last = now;
  return true;
}

bool Membership::WorthVerifying(const dht::NodeId& id) {
  if (id == self_.id) return false;
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  const int bucket = table_.BucketIndex(id);
  if (table_.Find(id) || table_.BucketSize(bucket) < k_) return true;
  return SpendProbe(last_claim_probe_[bucket], now);
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

std::optional<dht::Contact> Membership::Find(const dht::NodeId& id) const {
  absl::MutexLock l(&mu_);
  return table_.Find(id);
}

void Membership::RecordClock(const dht::NodeId& id, ClockSample sample) {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  if (table_.Find(id)) clocks_.Record(id, sample, now);
}

ClockOffsets::Verdict Membership::JudgeClock(absl::Duration max_offset) const {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  return clocks_.Judge(now, max_offset);
}

void Membership::Heard(const dht::NodeId& id) {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  detector_.Heard(id, now);
}

bool Membership::IsAlive(const dht::NodeId& id) const { return State(id) != PeerState::kDown; }

PeerState Membership::State(const dht::NodeId& id) const {
  if (id == self_.id) return PeerState::kAlive;
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  return StateLocked(id, now);
}

PeerState Membership::StateLocked(const dht::NodeId& id, absl::Time now) const {
  if (!detector_.Judges(id)) {
    auto it = reported_down_.find(id);
    if (it != reported_down_.end() && now < it->second) return PeerState::kDown;
    const Rumour* r = rumours_.Find(id);
    if (r != nullptr && r->down) return PeerState::kDown;
  }
  return detector_.State(id, now);
}

bool Membership::SeesDown(const dht::NodeId& id) const {
  if (id == self_.id) return false;
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  return detector_.Judges(id) && detector_.State(id, now) == PeerState::kDown;
}

void Membership::Unanswered(const dht::NodeId& id, const absl::Status& why) {
  if (absl::IsDeadlineExceeded(why) || absl::IsUnavailable(why)) Reported(id, true);
}

void Membership::Reported(const dht::NodeId& id, bool down) {
  if (id == self_.id) return;
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  if (!down) {
    reported_down_.erase(id);
    return;
  }
  if (reported_down_.size() >= kMaxReports) {
    absl::erase_if(reported_down_, [&](const auto& r) { return r.second <= now; });
    if (reported_down_.size() >= kMaxReports) return;
  }
  reported_down_[id] = now + kReportTtl;
}

bool Membership::IsDead(const dht::NodeId& id) const {
  if (id == self_.id) return false;
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  return detector_.Dead(id, now);
}

void Membership::MarkLeft(const dht::NodeId& id, uint64_t incarnation) {
  if (id == self_.id) return;
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  detector_.MarkLeft(id, now, incarnation);
}

void Membership::HeardIncarnation(const dht::NodeId& id, uint64_t incarnation) {
  if (incarnation == 0) return;
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  detector_.HeardIncarnation(id, incarnation, now);
}

void Membership::Rejoined(const dht::NodeId& id) {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  detector_.Rejoined(id, now);
}

std::vector<dht::Contact> Membership::ClosestWhere(
    const dht::NodeId& target, size_t n, bool with_self,
    absl::FunctionRef<bool(const FailureDetector&, const dht::NodeId&)> keep) const {
  // Ask for a margin beyond n so a few rejected nodes do not force a full
  // scan; widen to the whole table if the margin was not enough.
  for (size_t want = n + 4;; want = table_.size()) {
    std::vector<dht::Contact> candidates;
    for (dht::Contact& c : table_.Closest(target, want)) {
      if (keep(detector_, c.id)) candidates.push_back(std::move(c));
    }
    // Every contact beyond the `want` closest is farther than each of these,
    // so with n of them kept, none of those beyond can be among the n closest.
    // (Self alone does not count: it may be farther than unseen contacts.)
    if (candidates.size() >= n || want >= table_.size()) {
      if (with_self) candidates.push_back(self_);
      return dht::ClosestAmong(candidates, target, n);
    }
  }
}

std::vector<dht::Contact> Membership::ClosestLive(const dht::NodeId& target, size_t n) const {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  return ClosestWhere(target, n, /*with_self=*/true,
                      [&](const FailureDetector&, const dht::NodeId& id) {
                        return StateLocked(id, now) != PeerState::kDown;
                      });
}

std::vector<dht::Contact> Membership::Owners(const dht::NodeId& target, size_t n) const {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  return ClosestWhere(
      target, n, /*with_self=*/true,
      [&](const FailureDetector& fd, const dht::NodeId& id) { return !fd.Dead(id, now); });
}

std::optional<std::vector<dht::Contact>> Membership::CertainOwners(const dht::NodeId& target,
                                                                   size_t n, bool with_self) const {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  std::vector<dht::Contact> owners = ClosestWhere(
      target, n, with_self,
      [&](const FailureDetector& fd, const dht::NodeId& id) { return !fd.Dead(id, now); });
  // Any node nearer to target than the farthest owner shares at least as
  // many leading bits with target; with fewer than n owners, any node at all
  // would be one.
  const int depth = owners.size() < n ? 0 : owners.back().id.CommonPrefixLength(target);
  if (!table_.Complete(target, depth)) return std::nullopt;
  return owners;
}

std::vector<dht::Contact> Membership::OwnerCandidates() const {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  std::vector<dht::Contact> out{self_};
  for (dht::Contact& c : table_.All()) {
    if (!detector_.Dead(c.id, now)) out.push_back(std::move(c));
  }
  return out;
}

std::vector<dht::Contact> Membership::Closest(const dht::NodeId& target, size_t n) const {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  return ClosestWhere(
      target, n, /*with_self=*/false,
      [&](const FailureDetector& fd, const dht::NodeId& id) { return !fd.Dead(id, now); });
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
               .state = StateLocked(c.id, now),
               .bucket = table_.BucketIndex(c.id),
               .last_heard = detector_.LastHeard(c.id),
               .dead = detector_.Dead(c.id, now),
               .left = detector_.Left(c.id),
               .phi = detector_.Phi(c.id, now),
               .clock = clocks_.Estimate(c.id, now)};
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
  clocks_.RetainOnly(ids);
  absl::erase_if(peer_epochs_, [&](const auto& e) { return !ids.contains(e.first); });
  return targets;
}

std::vector<FailureDetector::Transition> Membership::Sweep() {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  std::vector<FailureDetector::Transition> changes = detector_.Sweep(now);
  for (const FailureDetector::Transition& t : changes) {
    if (t.state != PeerState::kDown || t.left) continue;
    // This node's own verdict, at the latest epoch it knows of the peer, so
    // that it replaces any word of the peer being alive at that epoch.
    uint64_t epoch = 0;
    if (auto it = peer_epochs_.find(t.id); it != peer_epochs_.end()) epoch = it->second;
    if (const Rumour* r = rumours_.Find(t.id)) epoch = std::max(epoch, r->epoch);
    rumours_.Offer({t.id, /*down=*/true, epoch}, SendBudget(), now);
  }
  return changes;
}

int Membership::SendBudget() const {
  // log2 of the nodes known, rounded up: the routing table holds about
  // k log2(n) of n nodes, so this is about log2(log2 n) short of log2 n; the
  // factor covers it.
  const int log2_known = std::bit_width(table_.size() + 1);
  return kSendsPerLogN * std::max(log2_known, 1);
}

uint64_t Membership::epoch() const {
  absl::MutexLock l(&mu_);
  return epoch_;
}

namespace {

// Epochs start at a process's start time in microseconds and grow by one per
// refutation: one more than a day ahead of this node's clock is made up, and
// would leave its subject no epoch to refute from.
bool Plausible(uint64_t epoch, absl::Time now) {
  return epoch <= static_cast<uint64_t>(absl::ToUnixMicros(now + absl::Hours(24)));
}

}  // namespace

std::optional<Rumour> Membership::HeardEpoch(const dht::NodeId& id, uint64_t epoch) {
  if (id == self_.id || epoch == 0) return std::nullopt;
  const absl::Time now = clock_->Now();
  if (!Plausible(epoch, now)) return std::nullopt;
  absl::MutexLock l(&mu_);
  if (detector_.Judges(id)) peer_epochs_[id] = epoch;
  const Rumour* r = rumours_.Find(id);
  if (r == nullptr || !r->down) return std::nullopt;
  if (r->epoch < epoch) {
    // Alive at a later epoch than it was found dead: pass that on.
    rumours_.Offer({id, /*down=*/false, epoch}, SendBudget(), now);
    return std::nullopt;
  }
  absl::Time& told = told_[id];
  if (now - told < kTellInterval) return std::nullopt;
  told = now;
  if (told_.size() > Rumours::kMaxEntries) {
    absl::erase_if(told_, [&](const auto& t) { return now - t.second >= kTellInterval; });
  }
  return *r;
}

size_t Membership::Hear(const std::vector<Rumour>& rumours, std::vector<Rumour>* newer) {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  size_t news = 0;
  for (const Rumour& r : rumours) {
    if (!Plausible(r.epoch, now)) continue;
    if (r.subject != self_.id) {
      if (rumours_.Offer(r, SendBudget(), now)) {
        ++news;
      } else if (const Rumour* known = rumours_.Find(r.subject);
                 newer != nullptr && known != nullptr && known->Supersedes(r)) {
        newer->push_back(*known);
      }
      continue;
    }
    // About this node. Word of it alive at a later epoch than its own (its
    // clock went back across a restart) moves its epoch there, so that its
    // watchers' verdicts, made at the epoch it beats with, are not older.
    // Word of its death is refuted from an epoch above it, even when this
    // node refuted it before: some node still passes the old word on.
    const uint64_t floor = r.down ? r.epoch + 1 : r.epoch;
    if (floor <= epoch_ && !r.down) continue;
    epoch_ = std::max(epoch_, floor);
    news += rumours_.Offer({self_.id, /*down=*/false, epoch_}, SendBudget(), now,
                           /*renew=*/r.down)
                ? 1
                : 0;
  }
  return news;
}

std::vector<Rumour> Membership::SettledDown(size_t max, std::mt19937_64& rng) const {
  absl::MutexLock l(&mu_);
  return rumours_.SettledDown(max, rng);
}

std::vector<Rumour> Membership::RumoursToSend(size_t max) {
  absl::MutexLock l(&mu_);
  return rumours_.Take(max);
}

size_t Membership::PendingRumours() const {
  absl::MutexLock l(&mu_);
  return rumours_.pending();
}

std::vector<dht::Contact> Membership::RandomLive(size_t n, std::mt19937_64& rng) const {
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  std::vector<dht::Contact> live;
  for (dht::Contact& c : table_.All()) {
    if (StateLocked(c.id, now) != PeerState::kDown) live.push_back(std::move(c));
  }
  // Partial Fisher-Yates: the first n are a uniform sample.
  n = std::min(n, live.size());
  for (size_t i = 0; i < n; ++i) {
    std::uniform_int_distribution<size_t> pick(i, live.size() - 1);
    std::swap(live[i], live[pick(rng)]);
  }
  live.resize(n);
  return live;
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
