#include "src/metrics/process_collector.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <system_error>
#include <utility>

#include "prometheus/client_metric.h"
#include "prometheus/metric_type.h"
#include "src/metrics/proc_parse.h"

namespace kv::metrics {
namespace {

// /proc files report a size of 0, so read until EOF, up to a bound that no
// file we read comes near.
constexpr size_t kMaxFileBytes = 64 * 1024;

std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text(kMaxFileBytes, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return std::nullopt;
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

// Entries of /proc/<pid>/fd, the one the listing itself opens included, as
// the Go and Python clients count them. nullopt if the directory is unreadable.
std::optional<double> CountOpenFds(const std::string& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return std::nullopt;
  double n = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) return std::nullopt;
    ++n;
  }
  if (ec) return std::nullopt;
  return n;
}

void AddFamily(std::vector<prometheus::MetricFamily>& out, std::string name, std::string help,
               prometheus::MetricType type, double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  out.push_back(prometheus::MetricFamily{
      .name = std::move(name), .help = std::move(help), .type = type, .metric = {metric}});
}

double Positive(long v, double fallback) { return v > 0 ? static_cast<double>(v) : fallback; }

}  // namespace

ProcessCollector::ProcessCollector(ProcessCollectorOptions options)
    : options_(std::move(options)),
      ticks_per_second_(Positive(sysconf(_SC_CLK_TCK), 100)),
      page_bytes_(Positive(sysconf(_SC_PAGESIZE), 4096)) {}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  const std::optional<std::string> stat_text = ReadSmallFile(options_.proc_self + "/stat");
  const std::optional<ProcStat> stat = stat_text ? ParseProcStat(*stat_text) : std::nullopt;
  if (stat) {
    AddFamily(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
              MetricType::Counter,
              static_cast<double>(stat->utime_ticks + stat->stime_ticks) / ticks_per_second_);
    AddFamily(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
              MetricType::Gauge, static_cast<double>(stat->rss_pages) * page_bytes_);
    AddFamily(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
              MetricType::Gauge, static_cast<double>(stat->vsize_bytes));
    AddFamily(out, "process_threads", "Number of OS threads in the process.", MetricType::Gauge,
              static_cast<double>(stat->num_threads));
    const std::optional<std::string> boot_text = ReadSmallFile(options_.proc_stat);
    if (const auto boot = boot_text ? ParseBootTime(*boot_text) : std::nullopt) {
      AddFamily(
          out, "process_start_time_seconds",
          "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
          static_cast<double>(*boot) + static_cast<double>(stat->start_ticks) / ticks_per_second_);
    }
  }
  if (const auto fds = CountOpenFds(options_.proc_self + "/fd")) {
    AddFamily(out, "process_open_fds", "Number of open file descriptors.", MetricType::Gauge, *fds);
  }
  const std::optional<std::string> limits_text = ReadSmallFile(options_.proc_self + "/limits");
  if (const auto max = limits_text ? ParseMaxOpenFiles(*limits_text) : std::nullopt) {
    AddFamily(out, "process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
              static_cast<double>(*max));
  }
  return out;
}

}  // namespace kv::metrics
