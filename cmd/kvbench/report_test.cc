#include "cmd/kvbench/report.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace kv::bench {
namespace {

// Parsed with the keys in file order.
using Json = nlohmann::ordered_json;

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
  info.addrs = {"127.0.0.1:1", "127.0.0.1:2"};
  info.clients = 50;
  info.keys = 100000;
  info.read_ratio = 0.5;
  info.dist = "zipf";
  info.zipf_theta = 0.99;
  info.consistency = "quorum";
  info.duration_sec = 30;
  info.seed = 7;
  const std::string text = FormatJson(info, r);
  EXPECT_EQ(text.back(), '\n');
  // tests/kvbench_test.cc looks for `"object": {` and `"field": ` in the text.
  EXPECT_NE(text.find(R"("read": {)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("ops_per_sec": 500.0)"), std::string::npos) << text;
  const Json j = Json::parse(text);

  const Json& config = j["config"];
  EXPECT_EQ(config["target"], "kvstore");
  EXPECT_EQ(config["addrs"], Json({"127.0.0.1:1", "127.0.0.1:2"}));
  EXPECT_EQ(config["clients"], 50);
  EXPECT_EQ(config["keys"], 100000);
  EXPECT_EQ(config["read_ratio"], 0.5);
  EXPECT_EQ(config["dist"], "zipf");
  EXPECT_EQ(config["zipf_theta"], 0.99);
  EXPECT_EQ(config["consistency"], "quorum");
  EXPECT_EQ(config["route"], "any");
  EXPECT_EQ(config["duration_sec"], 30.0);
  EXPECT_EQ(config["seed"], 7);
  EXPECT_EQ(config["rate"], 0.0);

  EXPECT_EQ(j["elapsed_sec"], 2.0);
  const Json& read = j["read"];
  EXPECT_EQ(read["ops"], 1000);
  EXPECT_EQ(read["ops_per_sec"], 500.0);
  EXPECT_EQ(read["errors"], 0);
  EXPECT_EQ(read["misses"], 250);
  EXPECT_EQ(read["latency_us"]["max"], 1999);
  EXPECT_EQ(j["write"], Json::parse(R"({"ops": 500, "ops_per_sec": 250.0, "errors": 3,
      "latency_us": {"p50": 2000, "p90": 2000, "p99": 2000, "p99_9": 2000, "max": 2000,
                     "mean": 2000.0}})"));
  EXPECT_FALSE(j["write"].contains("misses"));
  EXPECT_EQ(j["total"], Json::parse(R"({"ops": 1500, "ops_per_sec": 750.0, "errors": 3})"));
  EXPECT_EQ(j["errors_by_code"], Json::parse(R"({"UNAVAILABLE": 3})"));
  EXPECT_EQ(j["error_rate"], 0.001996);  // 3 of 1503, to six places as before
  EXPECT_EQ(j["failed"], true);
  EXPECT_FALSE(j.contains("rate"));
}

// Python reads counts as int and rates as float; both keep their JSON type.
TEST(KvbenchReportTest, JsonCountsAreIntegersAndRatesAreFloats) {
  const Json j = Json::parse(FormatJson(RunInfo(), SampleRun()));
  for (const char* side : {"read", "write"}) {
    EXPECT_TRUE(j[side]["ops"].is_number_integer()) << side;
    EXPECT_TRUE(j[side]["errors"].is_number_integer()) << side;
    EXPECT_TRUE(j[side]["ops_per_sec"].is_number_float()) << side;
    EXPECT_TRUE(j[side]["latency_us"]["p99"].is_number_integer()) << side;
    EXPECT_TRUE(j[side]["latency_us"]["mean"].is_number_float()) << side;
  }
  EXPECT_TRUE(j["read"]["misses"].is_number_integer());
  EXPECT_TRUE(j["elapsed_sec"].is_number_float());
  EXPECT_TRUE(j["error_rate"].is_number_float());
  EXPECT_TRUE(j["failed"].is_boolean());
  EXPECT_TRUE(j["errors_by_code"].is_object());
  EXPECT_TRUE(j["errors_by_code"].empty());
}

TEST(KvbenchReportTest, JsonKeysKeepTheDocumentedOrder) {
  RunResult r = SampleRun();
  r.rate = RateRun(10000);
  const Json j = Json::parse(FormatJson(RunInfo(), r));
  std::vector<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.push_back(key);
  EXPECT_EQ(keys,
            (std::vector<std::string>{"tool", "config", "elapsed_sec", "read", "write", "total",
                                      "errors_by_code", "rate", "error_rate", "failed"}));
  EXPECT_EQ(j["tool"], "kvbench");
  keys.clear();
  for (const auto& [key, value] : j["read"].items()) keys.push_back(key);
  EXPECT_EQ(keys,
            (std::vector<std::string>{"ops", "ops_per_sec", "errors", "misses", "latency_us"}));
}

// Figures keep the precision the report always gave them.
TEST(KvbenchReportTest, JsonRoundsRatesAsBefore) {
  RunResult r = SampleRun();
  r.elapsed_sec = 3.0004;  // 1000 reads: 333.288... ops/s
  const Json j = Json::parse(FormatJson(RunInfo(), r));
  EXPECT_EQ(j["elapsed_sec"], 3.0);
  EXPECT_EQ(j["read"]["ops_per_sec"], 333.3);
  EXPECT_EQ(j["total"]["ops_per_sec"], 499.9);
}

TEST(KvbenchReportTest, JsonEscapesStringsAndReplacesInvalidUtf8) {
  RunInfo info;
  info.target = "kvstore";
  info.addrs = {"odd\"name", "back\\slash", "new\nline\x01", "caf\xc3\xa9", "bad\xff\xfe"};
  const std::string text = FormatJson(info, SampleRun());
  EXPECT_NE(text.find(R"("odd\"name")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("back\\slash")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("new\nline\u0001")"), std::string::npos) << text;
  const Json j = Json::parse(text);
  EXPECT_EQ(j["config"]["addrs"], Json({"odd\"name", "back\\slash", "new\nline\x01", "caf\xc3\xa9",
                                        "bad\xef\xbf\xbd\xef\xbf\xbd"}));
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
  const Json closed = Json::parse(FormatJson(RunInfo(), r));
  EXPECT_FALSE(closed.contains("rate"));
  EXPECT_EQ(closed["config"]["rate"], 0.0);
  r.rate = RateRun(5000);
  const Json j = Json::parse(FormatJson(info, r));
  EXPECT_EQ(j["config"]["rate"], 1000.0);
  EXPECT_EQ(j["rate"], Json::parse(R"({"target_ops_per_sec": 1000.0, "sent_ops_per_sec": 500.0,
      "due_ops": 10000, "sent_ops": 5000, "window_sec": 10.0, "kept_up": false,
      "send_lag_us": {"p50": 100, "p99": 100, "max": 100}})"));
}

}  // namespace
}  // namespace kv::bench
