#include "src/util/duration.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace kv::util {

absl::StatusOr<absl::Duration> ParseDurationFlag(absl::string_view flag, absl::string_view text) {
  absl::Duration d;
  if (text.empty() || !absl::ParseDuration(text, &d) || text == "0" ||
      text.find_first_of("abcdefghijklmnopqrstuvwxyz") == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": '", text,
                     "' is not a duration; write a number with a unit, like 500ms, 2s or 5m"));
  }
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": '", text, "' must be a positive, finite duration"));
  }
  return d;
}

std::string FormatDuration(absl::Duration d) { return absl::FormatDuration(d); }

}  // namespace kv::util
