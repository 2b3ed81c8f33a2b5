// How far each peer's wall clock is from this node's, measured on the
// heartbeat streams the way NTP does, and whether this node's clock is off
// from most of them. Pure: the caller passes `now`.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "src/dht/node_id.h"

namespace kv::membership {

// One exchange of beats: this node sent at t1 (its clock), the peer received
// at t2 and sent its next beat at t3 (the peer's clock), and that beat arrived
// at t4 (this node's clock). offset = ((t2 - t1) + (t3 - t4)) / 2 is how far
// the peer's clock is ahead of ours; round_trip = (t4 - t1) - (t3 - t2) bounds
// the error of that estimate to +- round_trip / 2.
struct ClockSample {
  absl::Duration offset;
  absl::Duration round_trip;

  // From the four timestamps above.
  static ClockSample FromExchange(absl::Time t1, absl::Time t2, absl::Time t3, absl::Time t4);
};

// Not thread-safe: Membership guards it with its mutex.
class ClockOffsets {
 public:
  struct Options {
    // Samples older than this are forgotten; a peer with none has no estimate.
    absl::Duration max_age = absl::Seconds(30);
    // Most samples kept per peer; the estimate is the one with the shortest
    // round trip among them (NTP's clock filter), the least disturbed by
    // queueing.
    size_t samples_per_peer = 8;
  };

  ClockOffsets() : ClockOffsets(Options()) {}
  explicit ClockOffsets(Options options) : options_(options) {}

  void Record(const dht::NodeId& peer, ClockSample sample, absl::Time now);
  void Forget(const dht::NodeId& peer) { peers_.erase(peer); }
  // Forgets every peer not in `keep`.
  void RetainOnly(const absl::flat_hash_set<dht::NodeId>& keep) {
    absl::erase_if(peers_, [&](const auto& p) { return !keep.contains(p.first); });
  }

  // The peer's current estimate, or nullopt without a recent sample.
  std::optional<ClockSample> Estimate(const dht::NodeId& peer, absl::Time now) const;

  struct Verdict {
    size_t peers = 0;  // peers with an estimate
    size_t off = 0;    // of those, how many are surely more than max_offset away
    // The median offset of the peers that are off (positive: they are ahead,
    // so this node is behind).
    absl::Duration typical_offset;
    // True when more than half of the peers with an estimate are off.
    bool fenced() const { return peers > 0 && 2 * off > peers; }
    // "clock ok (3 peers measured)" or "clock is 2004 ms behind 2 of 3 peers ...".
    std::string Describe(absl::Duration max_offset) const;
  };
  // A peer is off when |offset| - round_trip / 2 > max_offset: even the most
  // favourable reading of the measurement puts it beyond the bound.
  Verdict Judge(absl::Time now, absl::Duration max_offset) const;

 private:
  struct Timed {
    ClockSample sample;
    absl::Time at;
  };
  const Options options_;
  absl::flat_hash_map<dht::NodeId, std::deque<Timed>> peers_;
};

}  // namespace kv::membership
