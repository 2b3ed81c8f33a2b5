#include "src/membership/failure_detector.h"

namespace kv::membership {

void FailureDetector::Track(const dht::NodeId& id, absl::Time now) {
  peers_.try_emplace(id, Entry{.since = now});
}

void FailureDetector::Heard(const dht::NodeId& id, absl::Time now) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  Entry& e = it->second;
  e.since = std::max(e.since, now);
  e.last_heard = std::max(e.last_heard, now);
}

void FailureDetector::Forget(const dht::NodeId& id) { peers_.erase(id); }

PeerState FailureDetector::State(const dht::NodeId& id, absl::Time now) const {
  auto it = peers_.find(id);
  if (it == peers_.end()) return PeerState::kAlive;
  return now - it->second.since > timeout_ ? PeerState::kDown : PeerState::kAlive;
}

absl::Time FailureDetector::LastHeard(const dht::NodeId& id) const {
  auto it = peers_.find(id);
  return it == peers_.end() ? absl::InfinitePast() : it->second.last_heard;
}

std::vector<FailureDetector::Transition> FailureDetector::Sweep(absl::Time now) {
  std::vector<Transition> changed;
  for (auto& [id, e] : peers_) {
    PeerState s = State(id, now);
    if (s != e.reported) {
      e.reported = s;
      changed.push_back({id, s});
    }
  }
  return changed;
}

}  // namespace kv::membership
