#include "cmd/kvstore/status/recent.h"

#include <utility>

namespace kv::cmd::status {
namespace {

uint64_t Increase(uint64_t before, uint64_t after) {
  return after >= before ? after - before : after;
}

}  // namespace

RecentActivity::RecentActivity(std::vector<double> bounds, absl::Duration window)
    : bounds_(std::move(bounds)), window_(window) {}

void RecentActivity::Add(Sample sample) {
  samples_.push_back(std::move(sample));
  // Keep one sample at least a window old, as the base of the difference.
  while (samples_.size() > 2 && samples_[1].at <= samples_.back().at - window_) {
    samples_.pop_front();
  }
}

std::optional<RecentSummary> RecentActivity::Summary() const {
  if (samples_.size() < 2) return std::nullopt;
  const Sample& last = samples_.back();
  const Sample& base = samples_.front();
  RecentSummary out;
  out.span = last.at - base.at;
  out.requests = Increase(base.requests, last.requests);
  const double seconds = absl::ToDoubleSeconds(out.span);
  out.requests_per_second = seconds > 0 ? out.requests / seconds : 0;
  std::vector<uint64_t> buckets(bounds_.size());
  for (size_t i = 0; i < buckets.size() && i < last.buckets.size(); ++i) {
    buckets[i] = Increase(i < base.buckets.size() ? base.buckets[i] : 0, last.buckets[i]);
  }
  if (std::optional<double> p99 = Quantile(0.99, bounds_, buckets, out.requests)) {
    out.p99 = absl::Seconds(*p99);
  }
  for (const auto& [name, value] : last.counters) {
    auto it = base.counters.find(name);
    out.counters[name] = Increase(it == base.counters.end() ? 0 : it->second, value);
  }
  return out;
}

std::optional<double> Quantile(double q, const std::vector<double>& bounds,
                               const std::vector<uint64_t>& buckets, uint64_t total) {
  if (total == 0 || bounds.empty()) return std::nullopt;
  const double rank = q * static_cast<double>(total);
  uint64_t below = 0;  // calls in the buckets before bucket i
  for (size_t i = 0; i < bounds.size() && i < buckets.size(); ++i) {
    if (static_cast<double>(buckets[i]) >= rank) {
      const double lower = i == 0 ? 0 : bounds[i - 1];
      const uint64_t in_bucket = buckets[i] > below ? buckets[i] - below : 0;
      if (in_bucket == 0) return lower;
      return lower + (bounds[i] - lower) * (rank - static_cast<double>(below)) / in_bucket;
    }
    below = buckets[i];
  }
  return bounds.back();
}

}  // namespace kv::cmd::status
