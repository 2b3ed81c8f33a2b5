#include "cmd/kvbench/report.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace kv::bench {

namespace {

// Keeps the keys in the order they are set, as the schema in docs/kvbench.md lists them.
using Json = nlohmann::ordered_json;

double PerSec(uint64_t n, double sec) { return sec > 0 ? static_cast<double>(n) / sec : 0.0; }

double Ms(uint64_t us) { return static_cast<double>(us) / 1000.0; }

std::array<uint64_t, kNumStatusCodes> ErrorsByCode(const RunResult& r) {
  std::array<uint64_t, kNumStatusCodes> sum{};
  for (int c = 0; c < kNumStatusCodes; ++c) sum[c] = r.read.errors[c] + r.write.errors[c];
  return sum;
}

// `x` to `decimals` places: a figure keeps the precision the report has
// always given it (ops/s to 0.1, error_rate to 1e-6); JSON then prints the
// shortest form of that value.
double Round(double x, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(x * scale) / scale;
}

std::string TableRow(const char* name, const OpStats& s, double sec, bool with_misses) {
  const Histogram& h = s.latency_us;
  return absl::StrFormat("%-6s %10d %11.1f %8.3f %8.3f %8.3f %8.3f %8.3f %9s %8d\n", name, s.ok,
                         PerSec(s.ok, sec), Ms(h.ValueAtPercentile(50)),
                         Ms(h.ValueAtPercentile(90)), Ms(h.ValueAtPercentile(99)),
                         Ms(h.ValueAtPercentile(99.9)), Ms(h.max()),
                         with_misses ? absl::StrCat(s.misses) : "-", s.error_count());
}

Json JsonOp(const OpStats& s, double sec, bool with_misses) {
  const Histogram& h = s.latency_us;
  Json out = {
      {"ops", s.ok}, {"ops_per_sec", Round(PerSec(s.ok, sec), 1)}, {"errors", s.error_count()}};
  if (with_misses) out["misses"] = s.misses;
  out["latency_us"] = {{"p50", h.ValueAtPercentile(50)},
                       {"p90", h.ValueAtPercentile(90)},
                       {"p99", h.ValueAtPercentile(99)},
                       {"p99_9", h.ValueAtPercentile(99.9)},
                       {"max", h.max()},
                       {"mean", Round(h.mean(), 1)}};
  return out;
}

// "rate: target 2700.0 ops/s, sent 2699.1 ops/s (100.0%); send lag ..." and,
// when kvbench fell behind, what that means for the figures.
std::string RateLine(const RateStats& r) {
  const Histogram& lag = r.send_lag_us;
  const double sent = r.sent_ops_per_sec();
  std::string out = absl::StrFormat(
      "rate: target %.1f ops/s, sent %.1f ops/s (%.1f%%); send lag p50 %.3f ms, p99 %.3f ms, "
      "max %.3f ms\n",
      r.target_ops_per_sec, sent, 100.0 * sent / r.target_ops_per_sec,
      Ms(lag.ValueAtPercentile(50)), Ms(lag.ValueAtPercentile(99)), Ms(lag.max()));
  if (!r.kept_up()) {
    absl::StrAppendFormat(&out,
                          "rate: BEHIND: sent %d of the %d ops due; every --clients call was "
                          "busy or kvbench lacked CPU. Latency counts from the due time.\n",
                          r.sent_ops, r.due_ops);
  }
  return out;
}

Json JsonRate(const RateStats& r) {
  const Histogram& lag = r.send_lag_us;
  return {{"target_ops_per_sec", Round(r.target_ops_per_sec, 1)},
          {"sent_ops_per_sec", Round(r.sent_ops_per_sec(), 1)},
          {"due_ops", r.due_ops},
          {"sent_ops", r.sent_ops},
          {"window_sec", Round(r.window_sec, 3)},
          {"kept_up", r.kept_up()},
          {"send_lag_us",
           {{"p50", lag.ValueAtPercentile(50)},
            {"p99", lag.ValueAtPercentile(99)},
            {"max", lag.max()}}}};
}

}  // namespace

double RateStats::sent_ops_per_sec() const { return PerSec(sent_ops, window_sec); }

bool RateStats::kept_up() const { return sent_ops_per_sec() >= 0.99 * target_ops_per_sec; }

std::string StatusCodeName(int code) {
  // gRPC's codes are absl's, number for number.
  if (code >= 0 && code < kNumStatusCodes) {
    return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  }
  return absl::StrCat("CODE_", code);
}

uint64_t OpStats::error_count() const {
  uint64_t n = 0;
  for (uint64_t e : errors) n += e;
  return n;
}

void OpStats::Merge(const OpStats& other) {
  ok += other.ok;
  misses += other.misses;
  for (int c = 0; c < kNumStatusCodes; ++c) errors[c] += other.errors[c];
  latency_us.Merge(other.latency_us);
}

double ErrorRate(const RunResult& r) {
  const uint64_t errors = r.read.error_count() + r.write.error_count();
  const uint64_t total = r.read.ok + r.write.ok + errors;
  return total == 0 ? 0.0 : static_cast<double>(errors) / static_cast<double>(total);
}

bool Failed(const RunResult& r) {
  const uint64_t total = r.read.ok + r.write.ok + r.read.error_count() + r.write.error_count();
  return total == 0 || ErrorRate(r) > kMaxErrorRate;
}

std::string FormatTable(const RunResult& r) {
  std::string out = absl::StrFormat("elapsed %.2f s (after warm-up)\n", r.elapsed_sec);
  absl::StrAppendFormat(&out, "%-6s %10s %11s %8s %8s %8s %8s %8s %9s %8s\n", "op", "ops", "ops/s",
                        "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "misses", "errors");
  out += TableRow("read", r.read, r.elapsed_sec, true);
  out += TableRow("write", r.write, r.elapsed_sec, false);
  const uint64_t ok = r.read.ok + r.write.ok;
  absl::StrAppendFormat(&out, "%-6s %10d %11.1f %54s %8d\n", "total", ok, PerSec(ok, r.elapsed_sec),
                        "", r.read.error_count() + r.write.error_count());
  if (r.rate.target_ops_per_sec > 0) out += RateLine(r.rate);
  std::string errors;
  const auto by_code = ErrorsByCode(r);
  for (int c = 0; c < kNumStatusCodes; ++c) {
    if (by_code[c] == 0) continue;
    absl::StrAppend(&errors, errors.empty() ? "" : ", ", StatusCodeName(c), " ", by_code[c]);
  }
  absl::StrAppend(&out, "errors: ", errors.empty() ? "none" : errors, "\n");
  return out;
}

std::string Verdict(const RunResult& r) {
  const uint64_t errors = r.read.error_count() + r.write.error_count();
  const uint64_t total = r.read.ok + r.write.ok + errors;
  if (total == 0) return "FAILED: no request completed";
  const std::string rate =
      absl::StrFormat("%.3f%% of requests failed (%d of %d)", 100.0 * ErrorRate(r), errors, total);
  if (Failed(r)) return absl::StrCat("FAILED: ", rate, "; the limit is 0.1%");
  return absl::StrCat("ok: ", rate);
}

std::string FormatJson(const RunInfo& info, const RunResult& r) {
  Json out;
  out["tool"] = "kvbench";
  out["config"] = {{"target", info.target},
                   {"addrs", info.addrs},
                   {"clients", info.clients},
                   {"threads", info.threads},
                   {"channels", info.channels},
                   {"keys", info.keys},
                   {"key_size", info.key_size},
                   {"value_size", info.value_size},
                   {"read_ratio", info.read_ratio},
                   {"dist", info.dist},
                   {"zipf_theta", info.zipf_theta},
                   {"consistency", info.consistency},
                   {"route", info.route},
                   {"duration_sec", info.duration_sec},
                   {"ops", info.ops},
                   {"warmup_sec", info.warmup_sec},
                   {"timeout_sec", info.timeout_sec},
                   {"seed", info.seed},
                   {"rate", info.rate}};
  out["elapsed_sec"] = Round(r.elapsed_sec, 3);
  out["read"] = JsonOp(r.read, r.elapsed_sec, true);
  out["write"] = JsonOp(r.write, r.elapsed_sec, false);
  const uint64_t ok = r.read.ok + r.write.ok;
  out["total"] = {{"ops", ok},
                  {"ops_per_sec", Round(PerSec(ok, r.elapsed_sec), 1)},
                  {"errors", r.read.error_count() + r.write.error_count()}};
  Json codes = Json::object();
  const auto by_code = ErrorsByCode(r);
  for (int c = 0; c < kNumStatusCodes; ++c) {
    if (by_code[c] != 0) codes[StatusCodeName(c)] = by_code[c];
  }
  out["errors_by_code"] = std::move(codes);
  if (r.rate.target_ops_per_sec > 0) out["rate"] = JsonRate(r.rate);
  out["error_rate"] = Round(ErrorRate(r), 6);
  out["failed"] = Failed(r);
  // Valid UTF-8 (addresses, names) is kept as it is; invalid bytes become
  // U+FFFD, so the file always parses.
  return out.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace kv::bench
