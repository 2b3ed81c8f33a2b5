#include "cmd/kvbench/report.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kv::bench {

namespace {

double PerSec(uint64_t n, double sec) { return sec > 0 ? static_cast<double>(n) / sec : 0.0; }

double Ms(uint64_t us) { return static_cast<double>(us) / 1000.0; }

std::array<uint64_t, kNumStatusCodes> ErrorsByCode(const RunResult& r) {
  std::array<uint64_t, kNumStatusCodes> sum{};
  for (int c = 0; c < kNumStatusCodes; ++c) sum[c] = r.read.errors[c] + r.write.errors[c];
  return sum;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", static_cast<int>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string TableRow(const char* name, const OpStats& s, double sec, bool with_misses) {
  const Histogram& h = s.latency_us;
  return absl::StrFormat("%-6s %10d %11.1f %8.3f %8.3f %8.3f %8.3f %8.3f %9s %8d\n", name, s.ok,
                         PerSec(s.ok, sec), Ms(h.ValueAtPercentile(50)),
                         Ms(h.ValueAtPercentile(90)), Ms(h.ValueAtPercentile(99)),
                         Ms(h.ValueAtPercentile(99.9)), Ms(h.max()),
                         with_misses ? absl::StrCat(s.misses) : "-", s.error_count());
}

std::string JsonOp(const OpStats& s, double sec, bool with_misses) {
  const Histogram& h = s.latency_us;
  std::string out = absl::StrFormat(R"({"ops": %d, "ops_per_sec": %.1f, "errors": %d, )", s.ok,
                                    PerSec(s.ok, sec), s.error_count());
  if (with_misses) absl::StrAppend(&out, R"("misses": )", s.misses, ", ");
  absl::StrAppendFormat(&out,
                        R"("latency_us": {"p50": %d, "p90": %d, "p99": %d, "p99_9": %d, )"
                        R"("max": %d, "mean": %.1f}})",
                        h.ValueAtPercentile(50), h.ValueAtPercentile(90), h.ValueAtPercentile(99),
                        h.ValueAtPercentile(99.9), h.max(), h.mean());
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

std::string JsonRate(const RateStats& r) {
  const Histogram& lag = r.send_lag_us;
  return absl::StrFormat(R"({"target_ops_per_sec": %.1f, "sent_ops_per_sec": %.1f, "due_ops": %d, )"
                         R"("sent_ops": %d, "window_sec": %.3f, "kept_up": %s, )"
                         R"("send_lag_us": {"p50": %d, "p99": %d, "max": %d}})",
                         r.target_ops_per_sec, r.sent_ops_per_sec(), r.due_ops, r.sent_ops,
                         r.window_sec, r.kept_up() ? "true" : "false", lag.ValueAtPercentile(50),
                         lag.ValueAtPercentile(99), lag.max());
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
  std::string addrs;
  for (const std::string& a : info.addrs) {
    absl::StrAppend(&addrs, addrs.empty() ? "" : ", ", JsonString(a));
  }
  std::string out = "{\n  \"tool\": \"kvbench\",\n";
  absl::StrAppend(&out, "  \"config\": {\"target\": ", JsonString(info.target), ", \"addrs\": [",
                  addrs, "], ");
  absl::StrAppendFormat(
      &out,
      R"("clients": %d, "threads": %d, "channels": %d, "keys": %d, )"
      R"("key_size": %d, "value_size": %d, "read_ratio": %g, "dist": %s, )"
      R"("zipf_theta": %g, "consistency": %s, "route": %s, "duration_sec": %g, "ops": %d, )"
      R"("warmup_sec": %g, "timeout_sec": %g, "seed": %d, "rate": %.10g},)"
      "\n",
      info.clients, info.threads, info.channels, info.keys, info.key_size, info.value_size,
      info.read_ratio, JsonString(info.dist), info.zipf_theta, JsonString(info.consistency),
      JsonString(info.route), info.duration_sec, info.ops, info.warmup_sec, info.timeout_sec,
      info.seed, info.rate);
  absl::StrAppendFormat(&out, "  \"elapsed_sec\": %.3f,\n", r.elapsed_sec);
  absl::StrAppend(&out, "  \"read\": ", JsonOp(r.read, r.elapsed_sec, true), ",\n");
  absl::StrAppend(&out, "  \"write\": ", JsonOp(r.write, r.elapsed_sec, false), ",\n");
  const uint64_t ok = r.read.ok + r.write.ok;
  const uint64_t errors = r.read.error_count() + r.write.error_count();
  absl::StrAppendFormat(&out,
                        "  \"total\": {\"ops\": %d, \"ops_per_sec\": %.1f, \"errors\": %d},\n", ok,
                        PerSec(ok, r.elapsed_sec), errors);
  std::string codes;
  const auto by_code = ErrorsByCode(r);
  for (int c = 0; c < kNumStatusCodes; ++c) {
    if (by_code[c] == 0) continue;
    absl::StrAppend(&codes, codes.empty() ? "" : ", ", JsonString(StatusCodeName(c)), ": ",
                    by_code[c]);
  }
  absl::StrAppend(&out, "  \"errors_by_code\": {", codes, "},\n");
  if (r.rate.target_ops_per_sec > 0) {
    absl::StrAppend(&out, "  \"rate\": ", JsonRate(r.rate), ",\n");
  }
  absl::StrAppendFormat(&out, "  \"error_rate\": %.6f,\n  \"failed\": %s\n}\n", ErrorRate(r),
                        Failed(r) ? "true" : "false");
  return out;
}

}  // namespace kv::bench
