#include "src/membership/clock_offsets.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"

namespace kv::membership {

ClockSample ClockSample::FromExchange(absl::Time t1, absl::Time t2, absl::Time t3, absl::Time t4) {
  return {.offset = ((t2 - t1) + (t3 - t4)) / 2, .round_trip = (t4 - t1) - (t3 - t2)};
}

void ClockOffsets::Record(const dht::NodeId& peer, ClockSample sample, absl::Time now) {
  if (sample.round_trip < absl::ZeroDuration()) return;  // clocks moved mid-exchange
  std::deque<Timed>& samples = peers_[peer];
  samples.push_back({sample, now});
  while (samples.size() > options_.samples_per_peer) samples.pop_front();
}

std::optional<ClockSample> ClockOffsets::Estimate(const dht::NodeId& peer, absl::Time now) const {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return std::nullopt;
  std::optional<ClockSample> best;
  for (const Timed& t : it->second) {
    if (now - t.at > options_.max_age) continue;
    if (!best || t.sample.round_trip < best->round_trip) best = t.sample;
  }
  return best;
}

ClockOffsets::Verdict ClockOffsets::Judge(absl::Time now, absl::Duration max_offset) const {
  Verdict v;
  std::vector<absl::Duration> off;
  for (const auto& [peer, samples] : peers_) {
    std::optional<ClockSample> e = Estimate(peer, now);
    if (!e) continue;
    ++v.peers;
    if (absl::AbsDuration(e->offset) - e->round_trip / 2 > max_offset) off.push_back(e->offset);
  }
  v.off = off.size();
  if (!off.empty()) {
    std::nth_element(off.begin(), off.begin() + off.size() / 2, off.end());
    v.typical_offset = off[off.size() / 2];
  }
  return v;
}

std::string ClockOffsets::Verdict::Describe(absl::Duration max_offset) const {
  if (off == 0) return absl::StrCat("clock ok (", peers, " peers measured)");
  const int64_t ms = absl::ToInt64Milliseconds(absl::AbsDuration(typical_offset));
  return absl::StrCat("clock is ", ms, " ms ",
                      typical_offset > absl::ZeroDuration() ? "behind" : "ahead of", " ", off,
                      " of ", peers, " peers measured (max offset ",
                      absl::ToInt64Milliseconds(max_offset), " ms)");
}

}  // namespace kv::membership
