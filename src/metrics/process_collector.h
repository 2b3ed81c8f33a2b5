// Metrics of the running process itself, read from /proc at each scrape, with
// the standard names of the Prometheus client guidelines: process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
// process_max_fds, process_start_time_seconds and process_threads.
#pragma once

#include <string>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace kv::metrics {

struct ProcessCollectorOptions {
  // The process's /proc directory (stat, limits, fd/) and the system-wide
  // stat file (its btime line). Tests point them at fabricated files.
  std::string proc_self = "/proc/self";
  std::string proc_stat = "/proc/stat";
};

// A prometheus::Collectable: register it beside the Registry's collectable
// (RenderText, HttpServerOptions::collectables). Collect() never fails: a
// metric whose file is missing, unreadable or malformed is left out of that
// scrape (on a system without /proc it returns no families). Thread-safe:
// Collect() only reads files and const state.
class ProcessCollector final : public prometheus::Collectable {
 public:
  explicit ProcessCollector(ProcessCollectorOptions options = {});

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  // Const after construction.
  const ProcessCollectorOptions options_;
  const double ticks_per_second_;  // sysconf(_SC_CLK_TCK)
  const double page_bytes_;        // sysconf(_SC_PAGESIZE)
};

}  // namespace kv::metrics
