// The load itself: gRPC completion-queue clients keeping --clients requests
// in flight against the target until the run's end.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/time/time.h"
#include "cmd/kvbench/flags.h"
#include "cmd/kvbench/report.h"
#include "src/dht/node_id.h"

namespace kv::bench {

// A snapshot of a running load, warm-up included.
struct Progress {
  absl::Duration elapsed;  // since the load started
  bool warming_up = false;
  uint64_t done = 0;    // requests answered, OK or not
  uint64_t errors = 0;  // requests that failed
};

// Runs the workload `options` describes and returns what it measured after
// warm-up. Every request carries options.timeout as its deadline, so the run
// ends at most that long after its duration (or op count) is reached.
// Calls `on_progress` from the calling thread about once a second; it must
// not block for long. Failed requests are counted, never retried.
// With options.route == kOwner, each request goes to the one of `members`
// closest to its key (REQUIRES: members not empty, options.batch == 1,
// options.target == kKvstore); otherwise `members` is unused and requests
// are spread over options.addrs.
RunResult RunLoad(const Options& options, const std::vector<dht::Contact>& members,
                  const std::function<void(const Progress&)>& on_progress);

}  // namespace kv::bench
