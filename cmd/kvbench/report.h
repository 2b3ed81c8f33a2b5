// kvbench's results: what a run counted, and how it is shown (table, JSON,
// verdict). Pure formatting, no I/O.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cmd/kvbench/histogram.h"

namespace kv::bench {

// gRPC status codes are 0 (OK) .. 16 (UNAUTHENTICATED).
inline constexpr int kNumStatusCodes = 17;
// "UNAVAILABLE" for 14; "CODE_<n>" outside the known range.
std::string StatusCodeName(int code);

// What one operation type (read or write) counted. Not thread-safe: one per
// worker thread, merged at the end.
struct OpStats {
  uint64_t ok = 0;                                 // answered OK (for reads, misses included)
  uint64_t misses = 0;                             // reads answered OK without a value
  std::array<uint64_t, kNumStatusCodes> errors{};  // failed calls by status code
  Histogram latency_us;                            // of the OK answers

  uint64_t error_count() const;
  void Merge(const OpStats& other);
};

// How closely a --rate run kept to its send schedule, over the measured
// window. All zero in a closed-loop run.
struct RateStats {
  double target_ops_per_sec = 0;  // --rate; 0 for a closed-loop run
  uint64_t due_ops = 0;           // ops the schedule placed in the window
  uint64_t sent_ops = 0;          // ops sent in the window (late ones included)
  double window_sec = 0;          // the window's length
  Histogram send_lag_us;          // per request: actual send time minus due time

  // sent_ops / window_sec; 0 for an empty window.
  double sent_ops_per_sec() const;
  // True when kvbench sent at least 99% of the target rate.
  bool kept_up() const;
};

// The whole run, after warm-up.
struct RunResult {
  OpStats read;
  OpStats write;
  double elapsed_sec = 0;  // from the end of warm-up to the last answer counted
  RateStats rate;          // --rate runs only
};

// The settings a report repeats, so a JSON file stands on its own.
struct RunInfo {
  std::string target;  // "kvstore" or "etcd"
  std::vector<std::string> addrs;
  int clients = 0;
  int threads = 0;
  int channels = 0;
  uint64_t keys = 0;
  int key_size = 0;
  int value_size = 0;
  double read_ratio = 0;
  std::string dist;  // "uniform" or "zipf"
  double zipf_theta = 0;
  std::string consistency;  // "one", "quorum", "all" or "default"
  double duration_sec = 0;  // 0 when the run was bounded by ops
  uint64_t ops = 0;         // 0 when the run was bounded by duration
  double warmup_sec = 0;
  double timeout_sec = 0;
  uint64_t seed = 0;
  double rate = 0;            // --rate in ops/s; 0 for a closed-loop run
  std::string route = "any";  // --route: "any" or "owner"
};

// Failed requests above this fraction of all requests fail the run.
inline constexpr double kMaxErrorRate = 0.001;

// errors / (ok + errors) over reads and writes; 0 when nothing completed.
double ErrorRate(const RunResult& r);
// True when the run must exit non-zero: too many errors, or nothing answered.
bool Failed(const RunResult& r);

// The human-readable table: one row per operation type with ops, ops/s,
// latency percentiles in ms and misses; in a --rate run, the target and
// achieved send rate; then errors by status code.
std::string FormatTable(const RunResult& r);
// The last line of the output: says whether the run passed and, when it did
// not, the failure rate against the 0.1% limit.
std::string Verdict(const RunResult& r);
// The same figures as one JSON document (schema in docs/kvbench.md), indented
// by two spaces and ending in a newline. Strings are kept as they are when
// they are valid UTF-8; invalid bytes become U+FFFD, so the document always
// parses.
std::string FormatJson(const RunInfo& info, const RunResult& r);

}  // namespace kv::bench
