#include "src/metrics/proc_parse.h"

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kv::metrics {
namespace {

// Index of field N of /proc/<pid>/stat (1-based, proc(5)) among the
// whitespace-separated tokens after the command name; field 3 is token 0.
constexpr size_t Field(size_t n) { return n - 3; }

std::optional<uint64_t> ToU64(absl::string_view s) {
  uint64_t v = 0;
  if (!absl::SimpleAtoi(s, &v)) return std::nullopt;
  return v;
}

}  // namespace

std::optional<ProcStat> ParseProcStat(absl::string_view text) {
  const size_t close = text.rfind(')');
  if (close == absl::string_view::npos) return std::nullopt;
  const std::vector<absl::string_view> tokens =
      absl::StrSplit(text.substr(close + 1), absl::ByAnyChar(" \n"), absl::SkipEmpty());
  if (tokens.size() <= Field(24)) return std::nullopt;
  const auto utime = ToU64(tokens[Field(14)]);
  const auto stime = ToU64(tokens[Field(15)]);
  const auto threads = ToU64(tokens[Field(20)]);
  const auto start = ToU64(tokens[Field(22)]);
  const auto vsize = ToU64(tokens[Field(23)]);
  const auto rss = ToU64(tokens[Field(24)]);
  if (!utime || !stime || !threads || !start || !vsize || !rss) return std::nullopt;
  return ProcStat{.utime_ticks = *utime,
                  .stime_ticks = *stime,
                  .num_threads = *threads,
                  .start_ticks = *start,
                  .vsize_bytes = *vsize,
                  .rss_pages = *rss};
}

std::optional<uint64_t> ParseBootTime(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, "btime ")) return ToU64(absl::StripAsciiWhitespace(line));
  }
  return std::nullopt;
}

std::optional<uint64_t> ParseMaxOpenFiles(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, "Max open files")) continue;
    const std::vector<absl::string_view> limits =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (limits.empty()) return std::nullopt;
    return ToU64(limits[0]);  // "unlimited" is not a number: nullopt
  }
  return std::nullopt;
}

}  // namespace kv::metrics
