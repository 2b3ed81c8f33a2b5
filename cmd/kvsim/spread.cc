#include "cmd/kvsim/spread.h"

#include <algorithm>
#include <cmath>

namespace kv::sim {

SpreadProbe::SpreadProbe(Cluster* cluster, std::vector<int> victims, absl::Duration every,
                         absl::Duration limit)
    : cluster_(cluster),
      every_(every),
      start_(cluster->clock().Now()),
      end_(start_ + limit),
      victims_(std::move(victims)) {
  for (int i = 0; i < cluster_->size(); ++i) {
    if (cluster_->up(i)) watchers_.push_back(i);
  }
  seen_at_.assign(watchers_.size(),
                  std::vector<absl::Time>(victims_.size(), absl::InfiniteFuture()));
  unseen_ = watchers_.size() * victims_.size();
}

void SpreadProbe::Start() { Poll(); }

void SpreadProbe::Poll() {
  const absl::Time now = cluster_->clock().Now();
  for (size_t w = 0; w < watchers_.size(); ++w) {
    if (!cluster_->up(watchers_[w])) continue;
    const membership::Membership& m = cluster_->node(watchers_[w]).membership();
    for (size_t v = 0; v < victims_.size(); ++v) {
      if (seen_at_[w][v] != absl::InfiniteFuture()) continue;
      if (m.State(cluster_->contact(victims_[v]).id) == membership::PeerState::kDown) {
        seen_at_[w][v] = now;
        --unseen_;
      }
    }
  }
  if (unseen_ == 0 || now + every_ > end_) return;
  cluster_->executor().After(every_, [self = shared_from_this()] { self->Poll(); });
}

Spread SpreadProbe::result() const {
  std::vector<double> times;
  for (const auto& row : seen_at_) {
    for (absl::Time t : row) {
      if (t != absl::InfiniteFuture()) times.push_back(absl::ToDoubleSeconds(t - start_));
    }
  }
  Spread s;
  s.pairs = watchers_.size() * victims_.size();
  s.seen = times.size();
  std::sort(times.begin(), times.end());
  auto at_share = [&](double share) {
    const size_t need = static_cast<size_t>(std::ceil(share * static_cast<double>(s.pairs)));
    if (need == 0 || need > times.size()) return -1.0;
    return times[need - 1];
  };
  s.p50_s = at_share(0.5);
  s.p99_s = at_share(0.99);
  s.all_s = at_share(1.0);
  return s;
}

}  // namespace kv::sim
