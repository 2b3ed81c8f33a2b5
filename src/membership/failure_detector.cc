#include "src/membership/failure_detector.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace kv::membership {
namespace {

// phi for a silence `y` standard deviations past the mean. Akka's logistic
// approximation of the normal tail: P(X > y) ~= 1 / (1 + exp(f(y))) with
// f(y) = y * (1.5976 + 0.070566 y^2), so phi = log10(1 + exp(f(y))). f is
// strictly increasing, and the softplus below never overflows, so phi is
// finite and monotone in y.
double PhiOfY(double y) {
  const double f = y * (1.5976 + 0.070566 * y * y);
  const double softplus = f > 0 ? f + std::log1p(std::exp(-f)) : std::log1p(std::exp(f));
  return softplus / std::log(10.0);
}

// The smallest y with PhiOfY(y) >= phi, by bisection (computed once per
// threshold, so the thresholds agree with PhiOfY itself).
double YForPhi(double phi) {
  double lo = -64, hi = 1;
  while (PhiOfY(hi) < phi) hi *= 2;
  for (int i = 0; i < 200 && lo < hi; ++i) {
    const double mid = lo + (hi - lo) / 2;
    if (mid == lo || mid == hi) break;
    (PhiOfY(mid) >= phi ? hi : lo) = mid;
  }
  return hi;
}

}  // namespace

FailureDetector::FailureDetector(Options options)
    : options_(options),
      y_suspect_(YForPhi(options.phi_suspect)),
      y_down_(YForPhi(options.phi_down)) {}

void FailureDetector::Track(const dht::NodeId& id, absl::Time now) {
  auto [it, inserted] = peers_.try_emplace(id, Entry{.since = now});
  if (inserted) Recompute(it->second);
}

void FailureDetector::Heard(const dht::NodeId& id, absl::Time now) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  Entry& e = it->second;
  if (e.last_heard != absl::InfinitePast() && now > e.last_heard &&
      now - e.last_heard <= options_.failure_timeout) {
    e.intervals.push_back(absl::ToDoubleSeconds(now - e.last_heard));
    if (e.intervals.size() > options_.window) e.intervals.pop_front();
    Recompute(e);
  }
  e.since = std::max(e.since, now);
  e.last_heard = std::max(e.last_heard, now);
}

void FailureDetector::Forget(const dht::NodeId& id) { peers_.erase(id); }

void FailureDetector::MarkLeft(const dht::NodeId& id, absl::Time now, uint64_t incarnation) {
  if (left_.contains(id)) return;
  if (left_.size() >= kMaxLeaveMarks) {
    // The oldest mark (by arrival, then ID, so the choice does not depend on
    // the map's order).
    auto oldest = left_.begin();
    for (auto it = left_.begin(); it != left_.end(); ++it) {
      if (std::tie(it->second.at, it->first) < std::tie(oldest->second.at, oldest->first)) {
        oldest = it;
      }
    }
    left_.erase(oldest);
  }
  left_.emplace(id, Leave{.at = now, .incarnation = incarnation});
}

void FailureDetector::HeardIncarnation(const dht::NodeId& id, uint64_t incarnation,
                                       absl::Time now) {
  auto it = left_.find(id);
  if (it == left_.end() || incarnation == 0 || it->second.incarnation == 0 ||
      it->second.incarnation == incarnation) {
    return;
  }
  Rejoined(id, now);
}

void FailureDetector::Rejoined(const dht::NodeId& id, absl::Time now) {
  if (left_.erase(id) > 0) Heard(id, now);
}

void FailureDetector::Recompute(Entry& e) const {
  const absl::Duration ceiling = options_.failure_timeout;
  if (e.intervals.size() < 2) {
    e.suspect_after = e.down_after = ceiling;
    return;
  }
  double sum = 0, sum_sq = 0;
  for (double x : e.intervals) {
    sum += x;
    sum_sq += x * x;
  }
  const double n = static_cast<double>(e.intervals.size());
  e.mean = sum / n;
  const double variance = std::max(0.0, sum_sq / n - e.mean * e.mean);
  e.std_dev = std::max(std::sqrt(variance), absl::ToDoubleSeconds(options_.min_std_dev));
  const absl::Duration floor = ceiling * options_.down_floor_fraction;
  const absl::Duration phi_down = absl::Seconds(e.mean + e.std_dev * y_down_);
  e.down_after = std::min(ceiling, std::max(floor, phi_down));
  e.suspect_after = std::min(e.down_after, absl::Seconds(e.mean + e.std_dev * y_suspect_));
}

PeerState FailureDetector::StateOf(const Entry& e, absl::Time now) const {
  const absl::Duration silence = now - e.since;
  if (silence >= e.down_after) return PeerState::kDown;
  if (silence >= e.suspect_after) return PeerState::kSuspect;
  return PeerState::kAlive;
}

PeerState FailureDetector::State(const dht::NodeId& id, absl::Time now) const {
  if (left_.contains(id)) return PeerState::kDown;
  auto it = peers_.find(id);
  return it == peers_.end() ? PeerState::kAlive : StateOf(it->second, now);
}

absl::Time FailureDetector::DownSinceOf(const dht::NodeId& id, const Entry* e,
                                        absl::Time now) const {
  absl::Time since = absl::InfiniteFuture();
  if (e != nullptr && StateOf(*e, now) == PeerState::kDown) since = e->since + e->down_after;
  if (auto it = left_.find(id); it != left_.end()) since = std::min(since, it->second.at);
  return since;
}

bool FailureDetector::DeadOf(const dht::NodeId& id, const Entry* e, absl::Time now) const {
  if (left_.contains(id)) return true;
  const absl::Time down_since = DownSinceOf(id, e, now);
  return down_since != absl::InfiniteFuture() && now - down_since >= options_.dead_after;
}

absl::Time FailureDetector::DownSince(const dht::NodeId& id, absl::Time now) const {
  auto it = peers_.find(id);
  return DownSinceOf(id, it == peers_.end() ? nullptr : &it->second, now);
}

bool FailureDetector::Dead(const dht::NodeId& id, absl::Time now) const {
  auto it = peers_.find(id);
  return DeadOf(id, it == peers_.end() ? nullptr : &it->second, now);
}

double FailureDetector::Phi(const dht::NodeId& id, absl::Time now) const {
  auto it = peers_.find(id);
  if (it == peers_.end() || it->second.intervals.size() < 2) return 0;
  const Entry& e = it->second;
  return PhiOfY((absl::ToDoubleSeconds(now - e.since) - e.mean) / e.std_dev);
}

absl::Time FailureDetector::LastHeard(const dht::NodeId& id) const {
  auto it = peers_.find(id);
  return it == peers_.end() ? absl::InfinitePast() : it->second.last_heard;
}

std::vector<FailureDetector::Transition> FailureDetector::Sweep(absl::Time now) {
  std::vector<Transition> changed;
  for (auto& [id, e] : peers_) {
    const bool left = left_.contains(id);
    const PeerState s = left ? PeerState::kDown : StateOf(e, now);
    const bool dead = DeadOf(id, &e, now);
    if (s != e.reported || dead != e.reported_dead) {
      e.reported = s;
      e.reported_dead = dead;
      changed.push_back({.id = id, .state = s, .dead = dead, .left = left});
    }
  }
  return changed;
}

}  // namespace kv::membership
