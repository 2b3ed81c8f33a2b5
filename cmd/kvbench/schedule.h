// The open-loop send schedule of a --rate run: when each request is due.
// Pure arithmetic on offsets from the start of the load; no clock, no I/O.
#pragma once

#include <chrono>
#include <cstdint>

namespace kv::bench {

// The requests one worker sends in a rate-limited run. All workers together
// send `requests_per_sec` at fixed intervals; request number k of the whole
// run (k = 0, 1, ...) is due at k / requests_per_sec after the start, and
// worker `index` of `workers` sends every k with k mod workers == index, so
// the workers interleave evenly. Request j of this worker is therefore
// k = j * workers + index.
//
// Latency of a request is measured from its due time, not from when it was
// actually sent, so a server that stalls the client is charged for the
// requests that queued behind the stall (no coordinated omission; wrk2 and
// HdrHistogram's "corrected" mode do the same).
//
// Immutable after construction; thread-compatible.
class Schedule {
 public:
  using Nanos = std::chrono::nanoseconds;

  // REQUIRES: requests_per_sec > 0, workers >= 1, 0 <= index < workers.
  Schedule(double requests_per_sec, int workers, int index);

  // Offset from the start at which this worker's request j is due.
  Nanos DueAt(uint64_t j) const;

  // How many of this worker's requests are due by `elapsed` (inclusive):
  // the number of j with DueAt(j) <= elapsed; 0 for a negative `elapsed`.
  // DueBy(DueAt(j)) == j + 1 and DueBy(DueAt(j) - 1ns) == j.
  uint64_t DueBy(Nanos elapsed) const;

  // How many are due in [from, to): those a window of the run must send.
  uint64_t DueIn(Nanos from, Nanos to) const;

 private:
  double period_ns_;  // between two consecutive requests of the whole run
  uint64_t workers_;
  uint64_t index_;
};

}  // namespace kv::bench
