// This node's activity over the last minute, for the status page: periodic
// samples of cumulative counts (client requests and their latency histogram,
// the repair counters), differenced over the window the way Prometheus's
// rate() and histogram_quantile() would.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace kv::cmd::status {

// Cumulative counts since the process started, as read at one moment.
struct Sample {
  absl::Time at;
  uint64_t requests = 0;  // client calls answered
  // requests by latency: buckets[i] counts calls of at most bounds[i]
  // seconds (cumulative, as Prometheus histograms are); size() == bounds.size().
  std::vector<uint64_t> buckets;
  std::map<std::string, uint64_t> counters;  // repair counters by name
};

struct RecentSummary {
  absl::Duration span;    // between the two samples differenced
  uint64_t requests = 0;  // client calls in that span
  double requests_per_second = 0;
  // The 99th percentile of those calls' latency, interpolated within its
  // bucket; nullopt without calls. At most the largest bound.
  std::optional<absl::Duration> p99;
  std::map<std::string, uint64_t> counters;  // increase of each counter
};

// Not thread-safe: callers lock.
class RecentActivity {
 public:
  // `bounds`: the histogram's upper bounds in seconds, increasing.
  RecentActivity(std::vector<double> bounds, absl::Duration window);

  // Samples must come in time order; a counter that went down (a restart of
  // its source) counts from zero.
  void Add(Sample sample);

  // The newest sample against the oldest one not older than the window
  // before it (or the oldest kept); nullopt before two samples exist.
  std::optional<RecentSummary> Summary() const;

 private:
  const std::vector<double> bounds_;
  const absl::Duration window_;
  std::deque<Sample> samples_;
};

// The `q` quantile of the calls counted by cumulative `buckets` (see Sample)
// with upper bounds `bounds`, as Prometheus's histogram_quantile computes it:
// linear within the bucket, 0 as the first bucket's lower bound, the largest
// bound for calls beyond it. nullopt when `total` is 0.
std::optional<double> Quantile(double q, const std::vector<double>& bounds,
                               const std::vector<uint64_t>& buckets, uint64_t total);

}  // namespace kv::cmd::status
