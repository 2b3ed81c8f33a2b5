#include "src/metrics/proc_parse.h"

#include <string>

#include "gtest/gtest.h"

namespace kv::metrics {
namespace {

// A /proc/<pid>/stat line (kernel 6.x, 52 fields) whose fields 14, 15, 20, 22,
// 23 and 24 are 250, 50, 7, 123456, 987654321 and 2048.
constexpr char kStat[] =
    "4242 (kv (store) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 7 0 123456 "
    "987654321 2048 18446744073709551615 1 1 0 0 0 0 0 4096 17000 0 0 0 17 1 0 0 0 0 0 0 0 0 0 "
    "0 0 0 0\n";

TEST(MetricsProcParseTest, StatFieldsAreCountedAfterTheCommandsLastParenthesis) {
  const auto stat = ParseProcStat(kStat);
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->utime_ticks, 250u);
  EXPECT_EQ(stat->stime_ticks, 50u);
  EXPECT_EQ(stat->num_threads, 7u);
  EXPECT_EQ(stat->start_ticks, 123456u);
  EXPECT_EQ(stat->vsize_bytes, 987654321u);
  EXPECT_EQ(stat->rss_pages, 2048u);
}

TEST(MetricsProcParseTest, TruncatedOrNonNumericStatIsRejected) {
  EXPECT_FALSE(ParseProcStat("").has_value());
  EXPECT_FALSE(ParseProcStat("4242 no parenthesis S 1 2 3").has_value());
  EXPECT_FALSE(ParseProcStat("4242 (kv) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50").has_value());
  std::string garbled = kStat;
  garbled.replace(garbled.find(" 250 "), 5, " x50 ");
  EXPECT_FALSE(ParseProcStat(garbled).has_value());
}

TEST(MetricsProcParseTest, BootTimeIsTheBtimeLine) {
  EXPECT_EQ(ParseBootTime("cpu  1 2 3\nbtime 1700000000\nprocesses 9\n"), 1700000000u);
  EXPECT_FALSE(ParseBootTime("cpu  1 2 3\nprocesses 9\n").has_value());
  EXPECT_FALSE(ParseBootTime("btime soon\n").has_value());
}

TEST(MetricsProcParseTest, MaxOpenFilesIsTheSoftLimit) {
  constexpr char kLimits[] =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max cpu time              unlimited            unlimited            seconds   \n"
      "Max open files            1024                 524288               files     \n";
  EXPECT_EQ(ParseMaxOpenFiles(kLimits), 1024u);
  EXPECT_FALSE(ParseMaxOpenFiles("Max open files            unlimited   unlimited  files\n"));
  EXPECT_FALSE(ParseMaxOpenFiles("Max open files\n").has_value());
  EXPECT_FALSE(ParseMaxOpenFiles("").has_value());
}

}  // namespace
}  // namespace kv::metrics
