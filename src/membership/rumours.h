// Rumours: what this node has heard about other nodes' liveness, and what it
// still has to pass on (SWIM's dissemination component, Das et al. 2002).
//
// A rumour says that a node is down, or alive, at an epoch: a number each
// node owns for itself, that starts at its wall clock in microseconds when
// the process starts and that only the node itself raises, to refute a
// rumour of its death. Between two rumours about the same node, the one at
// the higher epoch wins; at the same epoch, down wins. So a node judged down
// at its current epoch stays down everywhere until it says otherwise, and a
// restarted node (a later start time) is alive again wherever it is heard.
//
// Each new rumour is passed on a limited number of times (the caller gives
// the budget, SWIM's lambda * log n), fewest sends first: the infection
// style spread reaches every node in O(log n) rounds at a constant cost per
// node and rumour.
//
// Pure and not thread-safe: Membership holds its mutex around it.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "src/dht/node_id.h"

namespace kv::membership {

struct Rumour {
  dht::NodeId subject;
  bool down = false;
  uint64_t epoch = 0;

  // Whether this rumour replaces `other` (about the same subject).
  bool Supersedes(const Rumour& other) const {
    return epoch > other.epoch || (epoch == other.epoch && down && !other.down);
  }
  friend bool operator==(const Rumour&, const Rumour&) = default;
};

class Rumours {
 public:
  // At most this many subjects are remembered; past that, the one updated
  // longest ago is forgotten.
  static constexpr size_t kMaxEntries = 4096;

  // Keeps `r` when it is news: nothing is known about its subject, or it
  // supersedes what is. News is queued to be passed on `sends` times.
  // Returns whether it was news. With `renew`, `r` equal to what is known
  // counts as news too: its budget of sends starts over.
  bool Offer(const Rumour& r, int sends, absl::Time now, bool renew = false);
  // What is known about `id`, or nullptr.
  const Rumour* Find(const dht::NodeId& id) const;
  // Up to `max` rumours to pass on in one message, fewest sends first; each
  // counts as sent once.
  std::vector<Rumour> Take(size_t max);
  // Up to `max` rumours that a node is down whose sends are all spent,
  // chosen at random: a node's periodic pull carries them, so that a peer
  // that heard since of the subject alive again can answer with that
  // (Membership::Hear's `newer`). O(size()).
  std::vector<Rumour> SettledDown(size_t max, std::mt19937_64& rng) const;
  // How many rumours still have sends left.
  size_t pending() const { return pending_; }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Rumour rumour;
    int sends_left = 0;
    int sent = 0;
    absl::Time updated;
  };
  void EvictOldest();

  absl::flat_hash_map<dht::NodeId, Entry> entries_;
  size_t pending_ = 0;  // entries with sends_left > 0
};

}  // namespace kv::membership
