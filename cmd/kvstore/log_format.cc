#include "cmd/kvstore/log_format.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "spdlog/pattern_formatter.h"
#include "spdlog/spdlog.h"

namespace kv::cmd {

namespace {

// The format of kvstore's logs before --log-format, kept as it was.
constexpr char kTextPattern[] = "%Y-%m-%dT%H:%M:%S.%e %^%L%$ [%n] %v";

// The names --log-level takes, so that a filter on "warn" finds warnings.
std::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    // Keys in the order documented in log_format.h.
    const nlohmann::ordered_json line = {
        {"ts",
         absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromChrono(msg.time), absl::UTCTimeZone())},
        {"level", LevelName(msg.level)},
        {"logger", std::string(msg.logger_name.data(), msg.logger_name.size())},
        {"msg", std::string(msg.payload.data(), msg.payload.size())}};
    const std::string text = line.dump(-1, ' ', /*ensure_ascii=*/false,
                                       nlohmann::ordered_json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

absl::StatusOr<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(absl::StrCat("unknown log format \"", std::string(name),
                                                 "\"; the formats are text and json"));
}

std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format) {
  switch (format) {
    case LogFormat::kJson:
      return std::make_unique<JsonFormatter>();
    case LogFormat::kText:
      break;
  }
  return std::make_unique<spdlog::pattern_formatter>(kTextPattern);
}

absl::Status SetLogFormat(std::string_view name) {
  absl::StatusOr<LogFormat> format = ParseLogFormat(name);
  if (!format.ok()) return format.status();
  spdlog::set_formatter(MakeLogFormatter(*format));
  return absl::OkStatus();
}

}  // namespace kv::cmd
