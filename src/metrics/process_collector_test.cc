#include "src/metrics/process_collector.h"

#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "gtest/gtest.h"
#include "prometheus/metric_type.h"

namespace kv::metrics {
namespace {

// name -> value of every family Collect() returned (each has one sample).
std::map<std::string, double> Values(const ProcessCollector& collector) {
  std::map<std::string, double> values;
  for (const prometheus::MetricFamily& f : collector.Collect()) {
    EXPECT_EQ(f.metric.size(), 1u) << f.name;
    if (f.metric.empty()) continue;
    values[f.name] = f.type == prometheus::MetricType::Counter ? f.metric[0].counter.value
                                                               : f.metric[0].gauge.value;
  }
  return values;
}

TEST(MetricsProcessCollectorTest, ReportsPlausibleValuesForThisProcess) {
  const std::map<std::string, double> v = Values(ProcessCollector());
  ASSERT_EQ(v.size(), 7u);
  EXPECT_GE(v.at("process_threads"), 1);
  EXPECT_GT(v.at("process_resident_memory_bytes"), 0);
  EXPECT_GE(v.at("process_virtual_memory_bytes"), v.at("process_resident_memory_bytes"));
  EXPECT_GE(v.at("process_cpu_seconds_total"), 0);
  EXPECT_GE(v.at("process_open_fds"), 3);  // at least stdin, stdout, stderr
  EXPECT_GE(v.at("process_max_fds"), v.at("process_open_fds"));
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(v.at("process_start_time_seconds"), now + 1);
  EXPECT_GT(v.at("process_start_time_seconds"), now - 86400 * 365);
}

TEST(MetricsProcessCollectorTest, MissingProcFilesLeaveEveryMetricOut) {
  const ProcessCollector collector(
      {.proc_self = "/nonexistent/proc/self", .proc_stat = "/nonexistent/proc/stat"});
  EXPECT_TRUE(collector.Collect().empty());
}

class MetricsFakeProcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/fake_proc_" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ + "/self/fd");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
  }
  ProcessCollector Collector() const {
    return ProcessCollector({.proc_self = dir_ + "/self", .proc_stat = dir_ + "/stat"});
  }
  std::string dir_;
};

TEST_F(MetricsFakeProcTest, GarbledFilesLeaveTheirMetricsOut) {
  Write("self/stat", "4242 (kv) S 1 2 \xff\xfe garbage");
  Write("self/limits", "Max open files  lots  lots  files\n");
  Write("stat", "btime never\n");
  const std::map<std::string, double> v = Values(Collector());
  EXPECT_EQ(v.size(), 1u);
  EXPECT_EQ(v.count("process_open_fds"), 1u);  // the empty fd/ directory: 0
  EXPECT_EQ(v.at("process_open_fds"), 0);
}

TEST_F(MetricsFakeProcTest, ConvertsTicksPagesAndBootTime) {
  Write("self/stat",
        "4242 (kv) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 7 0 1000 "
        "987654321 2048 18446744073709551615 1 1 0 0 0 0 0 4096 17000 0 0 0 17 1 0 0 0\n");
  Write("self/limits", "Max open files            1024                 524288    files\n");
  Write("stat", "cpu  1 2 3\nbtime 1700000000\n");
  Write("self/fd/0", "");
  Write("self/fd/1", "");
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  const std::map<std::string, double> v = Values(Collector());
  EXPECT_DOUBLE_EQ(v.at("process_cpu_seconds_total"), 300 / hz);
  EXPECT_DOUBLE_EQ(v.at("process_resident_memory_bytes"), 2048 * page);
  EXPECT_DOUBLE_EQ(v.at("process_virtual_memory_bytes"), 987654321);
  EXPECT_DOUBLE_EQ(v.at("process_threads"), 7);
  EXPECT_DOUBLE_EQ(v.at("process_start_time_seconds"), 1700000000 + 1000 / hz);
  EXPECT_DOUBLE_EQ(v.at("process_max_fds"), 1024);
  EXPECT_DOUBLE_EQ(v.at("process_open_fds"), 2);
}

}  // namespace
}  // namespace kv::metrics
