// Timeout failure detector fed by heartbeats. Pure: callers pass `now`.
#pragma once

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "src/dht/node_id.h"

namespace kv::membership {

enum class PeerState { kAlive, kDown };

// Tracks when each peer was last heard from. A peer is down when neither a
// beat nor the start of tracking happened within the failure timeout, so a
// newly learned peer gets one timeout to start beating. Not thread-safe.
class FailureDetector {
 public:
  explicit FailureDetector(absl::Duration failure_timeout) : timeout_(failure_timeout) {}

  // Starts tracking `id` (no-op if tracked).
  void Track(const dht::NodeId& id, absl::Time now);
  // Records a heartbeat (or any answer) from `id`. Ignored for untracked peers:
  // only the peers this node watches are judged.
  void Heard(const dht::NodeId& id, absl::Time now);
  void Forget(const dht::NodeId& id);

  // kAlive for untracked peers: nothing is known against them.
  PeerState State(const dht::NodeId& id, absl::Time now) const;
  // When `id` was last heard from, or absl::InfinitePast() if never.
  absl::Time LastHeard(const dht::NodeId& id) const;

  struct Transition {
    dht::NodeId id;
    PeerState state;  // the new state
  };
  // The peers whose state changed since the previous call (for logging).
  std::vector<Transition> Sweep(absl::Time now);
  // Stops tracking every peer not in `keep`.
  template <typename Set>
  void RetainOnly(const Set& keep) {
    absl::erase_if(peers_, [&](const auto& kv) { return !keep.contains(kv.first); });
  }

  absl::Duration timeout() const { return timeout_; }

 private:
  struct Entry {
    absl::Time since;  // tracking start or last beat, whichever is later
    absl::Time last_heard = absl::InfinitePast();
    PeerState reported = PeerState::kAlive;
  };
  const absl::Duration timeout_;
  absl::flat_hash_map<dht::NodeId, Entry> peers_;
};

}  // namespace kv::membership
