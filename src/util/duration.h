// Parsing of human-written durations such as "500ms", "2s" or "5m".
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kv::util {

// Parses a positive duration with a unit ("250ms", "2s", "1m30s", "5m", "1h").
// Fails with INVALID_ARGUMENT naming `flag` when the text has no unit, is
// negative, zero or malformed.
[[nodiscard]] absl::StatusOr<absl::Duration> ParseDurationFlag(absl::string_view flag,
                                                               absl::string_view text);

// Formats a duration the way ParseDurationFlag accepts it ("1.5s", "500ms").
std::string FormatDuration(absl::Duration d);

}  // namespace kv::util
