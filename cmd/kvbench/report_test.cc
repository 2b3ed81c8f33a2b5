#include "cmd/kvbench/report.h"

#include <string>

#include "gtest/gtest.h"

namespace kv::bench {
namespace {

constexpr int kUnavailable = 14;
constexpr int kDeadlineExceeded = 4;

// 1000 reads (250 misses) and 500 writes in 2 s, all answered in 1..2 ms.
RunResult SampleRun() {
  RunResult r;
  r.elapsed_sec = 2.0;
  for (int i = 0; i < 1000; ++i) r.read.latency_us.Record(1000 + i);
  r.read.ok = 1000;
  r.read.misses = 250;
  for (int i = 0; i < 500; ++i) r.write.latency_us.Record(2000);
  r.write.ok = 500;
  return r;
}

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(StatusCodeNameTest, NamesGrpcCodes) {
  EXPECT_EQ(StatusCodeName(0), "OK");
  EXPECT_EQ(StatusCodeName(kUnavailable), "UNAVAILABLE");
  EXPECT_EQ(StatusCodeName(16), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(99), "CODE_99");
}

TEST(KvbenchReportTest, ErrorRateLimitIsOneInAThousand) {
  RunResult r = SampleRun();  // 1500 requests
  EXPECT_FALSE(Failed(r));
  r.write.errors[kUnavailable] = 1;  // 1 of 1501: below 0.1%
  EXPECT_FALSE(Failed(r));
  r.write.errors[kUnavailable] = 2;  // 2 of 1502: above
  EXPECT_TRUE(Failed(r));
  EXPECT_NEAR(ErrorRate(r), 2.0 / 1502, 1e-12);
}

TEST(KvbenchReportTest, RunWithNothingAnsweredFails) {
  RunResult r;
  EXPECT_TRUE(Failed(r));
  EXPECT_EQ(Verdict(r), "FAILED: no request completed");
}

TEST(KvbenchReportTest, VerdictStatesTheFailureRate) {
  RunResult r = SampleRun();
  EXPECT_EQ(Verdict(r), "ok: 0.000% of requests failed (0 of 1500)");
  r.read.errors[kDeadlineExceeded] = 500;
  EXPECT_EQ(Verdict(r), "FAILED: 25.000% of requests failed (500 of 2000); the limit is 0.1%");
}

TEST(KvbenchReportTest, TableHasEveryFigure) {
  RunResult r = SampleRun();
  r.write.errors[kUnavailable] = 3;
  const std::string t = FormatTable(r);
  EXPECT_TRUE(Contains(t, "p99.9 ms")) << t;
  // read: 1000 ops, 500/s, p50 = 1.499 ms (value 1499 is exact below bucket width 8).
  EXPECT_TRUE(Contains(t, "read         1000       500.0")) << t;
  EXPECT_TRUE(Contains(t, "write         500       250.0    2.000")) << t;
  EXPECT_TRUE(Contains(t, "    250")) << t;  // misses
  EXPECT_TRUE(Contains(t, "total        1500       750.0")) << t;
  EXPECT_TRUE(Contains(t, "errors: UNAVAILABLE 3\n")) << t;
  EXPECT_TRUE(Contains(FormatTable(SampleRun()), "errors: none\n"));
}

TEST(KvbenchReportTest, JsonCarriesTheSameFigures) {
  RunResult r = SampleRun();
  r.write.errors[kUnavailable] = 3;
  RunInfo info;
  info.target = "kvstore";
  info.addrs = {"127.0.0.1:1", "odd\"name"};
  info.clients = 50;
  info.dist = "zipf";
  info.consistency = "quorum";
  const std::string j = FormatJson(info, r);
  EXPECT_TRUE(Contains(j, R"("addrs": ["127.0.0.1:1", "odd\"name"])")) << j;
  EXPECT_TRUE(Contains(j, R"("clients": 50)")) << j;
  EXPECT_TRUE(Contains(j, R"("dist": "zipf")")) << j;
  EXPECT_TRUE(Contains(j, R"("consistency": "quorum", "route": "any", )")) << j;
  EXPECT_TRUE(Contains(j, R"("read": {"ops": 1000, "ops_per_sec": 500.0, "errors": 0, )"
                          R"("misses": 250, "latency_us": {"p50": )"))
      << j;
  EXPECT_TRUE(Contains(j, R"("write": {"ops": 500, "ops_per_sec": 250.0, "errors": 3, )"
                          R"("latency_us": {"p50": 2000, "p90": 2000, "p99": 2000, )"
                          R"("p99_9": 2000, "max": 2000, "mean": 2000.0}})"))
      << j;
  EXPECT_TRUE(Contains(j, R"("max": 1999)")) << j;
  EXPECT_TRUE(Contains(j, R"("total": {"ops": 1500, "ops_per_sec": 750.0, "errors": 3})")) << j;
  EXPECT_TRUE(Contains(j, R"("errors_by_code": {"UNAVAILABLE": 3})")) << j;
  EXPECT_TRUE(Contains(j, R"("failed": true)")) << j;
  // Balanced braces: a cheap check that the document is well formed.
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < j.size(); ++i) {
    if (j[i] == '\\') {
      ++i;
      continue;
    }
    if (j[i] == '"') in_string = !in_string;
    if (in_string) continue;
    if (j[i] == '{' || j[i] == '[') ++depth;
    if (j[i] == '}' || j[i] == ']') --depth;
    ASSERT_GE(depth, 0);
  }
  EXPECT_EQ(depth, 0);
  EXPECT_FALSE(in_string);
}

// A --rate 1000 run over 10 s that sent `sent` ops, each 100 µs late.
RateStats RateRun(uint64_t sent) {
  RateStats rate;
  rate.target_ops_per_sec = 1000;
  rate.due_ops = 10000;
  rate.sent_ops = sent;
  rate.window_sec = 10;
  for (uint64_t i = 0; i < sent; ++i) rate.send_lag_us.Record(100);
  return rate;
}

TEST(KvbenchReportTest, RateKeptUpWithinOnePercentOfTarget) {
  EXPECT_TRUE(RateRun(10000).kept_up());
  EXPECT_TRUE(RateRun(9900).kept_up());
  EXPECT_FALSE(RateRun(9899).kept_up());
  EXPECT_EQ(RateRun(9900).sent_ops_per_sec(), 990.0);
}

TEST(KvbenchReportTest, TableShowsTargetAndAchievedRateOnlyInRateRuns) {
  EXPECT_FALSE(Contains(FormatTable(SampleRun()), "rate:"));
  RunResult r = SampleRun();
  r.rate = RateRun(10000);
  std::string t = FormatTable(r);
  EXPECT_TRUE(Contains(t,
                       "rate: target 1000.0 ops/s, sent 1000.0 ops/s (100.0%); send lag "
                       "p50 0.100 ms, p99 0.100 ms, max 0.100 ms\n"))
      << t;
  EXPECT_FALSE(Contains(t, "BEHIND")) << t;
  r.rate = RateRun(5000);
  t = FormatTable(r);
  EXPECT_TRUE(Contains(t, "sent 500.0 ops/s (50.0%)")) << t;
  EXPECT_TRUE(Contains(t, "rate: BEHIND: sent 5000 of the 10000 ops due")) << t;
}

TEST(KvbenchReportTest, JsonHasRateOnlyInRateRuns) {
  RunInfo info;
  info.rate = 1000;
  RunResult r = SampleRun();
  EXPECT_FALSE(Contains(FormatJson(RunInfo(), r), R"("rate": {)"));
  EXPECT_TRUE(Contains(FormatJson(RunInfo(), r), R"("rate": 0})")) << FormatJson(RunInfo(), r);
  r.rate = RateRun(5000);
  const std::string j = FormatJson(info, r);
  EXPECT_TRUE(Contains(j, R"("seed": 0, "rate": 1000})")) << j;
  EXPECT_TRUE(Contains(j, R"("rate": {"target_ops_per_sec": 1000.0, "sent_ops_per_sec": 500.0, )"
                          R"("due_ops": 10000, "sent_ops": 5000, "window_sec": 10.000, )"
                          R"("kept_up": false, "send_lag_us": {"p50": 100, "p99": 100, )"
                          R"("max": 100}},)"))
      << j;
}

}  // namespace
}  // namespace kv::bench
