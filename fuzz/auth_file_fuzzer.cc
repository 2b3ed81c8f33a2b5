// --auth-file (src/security/auth_file.h). Input: the member CN
// (--peer-cert-allowed-cn) up to the first newline, then the file. Checks
// that parsing fails only with INVALID_ARGUMENT naming a line; and that a
// file that parses holds one grant per line that is neither blank nor a
// comment, finds each cn: line's grant with that line's role and prefix,
// and never grants the member CN anything.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_check.h"
#include "src/security/auth_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using kv::security::AuthFile;
  using kv::security::Grant;
  const absl::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t newline = in.find('\n');
  const absl::string_view member_cn =
      newline == absl::string_view::npos ? absl::string_view("node") : in.substr(0, newline);
  const absl::string_view text = newline == absl::string_view::npos ? in : in.substr(newline + 1);

  absl::StatusOr<AuthFile> file = AuthFile::Parse(text, member_cn);
  if (!file.ok()) {
    FUZZ_CHECK(file.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(absl::StartsWith(file.status().message(), "line "));
    return 0;
  }
  FUZZ_CHECK(file->ForCommonName(member_cn) == nullptr);
  size_t grants = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    ++grants;
    const std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    FUZZ_CHECK(fields.size() == 2 || fields.size() == 3);
    if (!absl::StartsWith(fields[0], "cn:")) continue;
    const Grant* g = file->ForCommonName(fields[0].substr(3));
    FUZZ_CHECK(g != nullptr);
    FUZZ_CHECK(kv::security::RoleName(g->role) == fields[1]);
    FUZZ_CHECK(g->prefix == (fields.size() == 3 ? fields[2] : absl::string_view()));
    FUZZ_CHECK(g->principal == fields[0]);
  }
  FUZZ_CHECK(file->size() == grants);
  return 0;
}
