// Parsers of the Linux /proc files the process collector reads. Pure
// functions over the file's text, so that tests can feed them any bytes.
// Private to src/metrics.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace kv::metrics {

// The fields of /proc/<pid>/stat the process collector exports (proc(5)).
struct ProcStat {
  uint64_t utime_ticks = 0;  // user CPU time, in clock ticks (field 14)
  uint64_t stime_ticks = 0;  // system CPU time, in clock ticks (field 15)
  uint64_t num_threads = 0;  // field 20
  uint64_t start_ticks = 0;  // start time after boot, in clock ticks (field 22)
  uint64_t vsize_bytes = 0;  // virtual memory size (field 23)
  uint64_t rss_pages = 0;    // resident set size, in pages (field 24)
};

// Parses the text of /proc/<pid>/stat. The command name (field 2) may hold
// spaces and parentheses: fields are counted after its last ')'. nullopt if a
// field is missing or not a number.
std::optional<ProcStat> ParseProcStat(absl::string_view text);

// The "btime" line of /proc/stat: boot time, in seconds since the Unix epoch.
// nullopt if absent or malformed.
std::optional<uint64_t> ParseBootTime(absl::string_view text);

// The soft limit of the "Max open files" line of /proc/<pid>/limits. nullopt
// if the line is absent, malformed or the limit is "unlimited".
std::optional<uint64_t> ParseMaxOpenFiles(absl::string_view text);

}  // namespace kv::metrics
