// kvstore's log lines (--log-format): text for people, or one JSON object per
// line for log collectors (docs/operations.md, "Watching it").
#pragma once

#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "spdlog/formatter.h"

namespace kv::cmd {

enum class LogFormat {
  // 2026-12-07T07:30:01.123 I [a71ffbe6] message
  // Local time to the millisecond, the level's initial, the logger's name.
  kText,
  // {"ts":"2026-12-07T06:30:01.123456Z","level":"info","logger":"a71ffbe6","msg":"message"}
  kJson,
};

// "text" or "json". InvalidArgument naming the known formats otherwise.
[[nodiscard]] absl::StatusOr<LogFormat> ParseLogFormat(std::string_view name);

// A new formatter for `format`; every line it writes ends in '\n'.
//
// kJson writes one object per line, keys in this order: "ts" (RFC 3339 in
// UTC, microseconds, trailing "Z"), "level" (trace, debug, info, warn, error,
// critical), "logger" (the logger's name; "" for spdlog's unnamed default) and
// "msg". Strings are JSON-escaped (quotes, backslashes, control characters);
// valid UTF-8 is kept as it is and invalid bytes become U+FFFD, so every line
// parses. Nothing else in the line can hold a newline.
//
// Like any spdlog formatter, one instance is used by one logger, which
// serializes the calls (spdlog clones the formatter for each logger).
std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format);

// Parses `name` (as ParseLogFormat) and makes its formatter that of every
// logger, those that exist and those made later (spdlog::set_formatter).
// On error nothing changes. Thread-safe as spdlog::set_formatter is, but
// lines logged while it runs may come in either format.
[[nodiscard]] absl::Status SetLogFormat(std::string_view name);

}  // namespace kv::cmd
