#include "src/security/auth_file.h"

#include <openssl/sha.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kv::security {

namespace {

constexpr absl::string_view kCnPrefix = "cn:";
constexpr absl::string_view kTokenPrefix = "token-sha256:";

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::StatusOr<Role> ParseRole(absl::string_view s) {
  if (s == "read") return Role::kRead;
  if (s == "write") return Role::kWrite;
  if (s == "admin") return Role::kAdmin;
  return absl::InvalidArgumentError(
      absl::StrCat("role '", s, "' is not one of read, write, admin"));
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kRead:
      return "read";
    case Role::kWrite:
      return "write";
    case Role::kAdmin:
      return "admin";
  }
  return "read";
}

std::string TokenSha256Hex(absl::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

absl::StatusOr<AuthFile> AuthFile::Parse(absl::string_view text, absl::string_view member_cn) {
  AuthFile out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    auto fail = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_no, ": ", why));
    };
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (fields.size() < 2 || fields.size() > 3) {
      return fail("expected 'cn:NAME ROLE [PREFIX]' or 'token-sha256:HEX ROLE [PREFIX]'");
    }
    absl::StatusOr<Role> role = ParseRole(fields[1]);
    if (!role.ok()) return fail(role.status().message());
    Grant grant{.role = *role, .prefix = fields.size() == 3 ? std::string(fields[2]) : ""};
    const absl::string_view who = fields[0];
    if (absl::StartsWith(who, kCnPrefix)) {
      const absl::string_view cn = who.substr(kCnPrefix.size());
      if (cn.empty()) return fail("cn: needs a name");
      if (cn == member_cn) {
        return fail(absl::StrCat("'", cn,
                                 "' is the member CN (--peer-cert-allowed-cn): nodes get no "
                                 "client role; give clients certificates with another CN"));
      }
      grant.principal = std::string(who);
      if (!out.by_cn_.emplace(cn, grant).second) return fail(absl::StrCat(who, " appears twice"));
    } else if (absl::StartsWith(who, kTokenPrefix)) {
      const std::string hex = absl::AsciiStrToLower(who.substr(kTokenPrefix.size()));
      if (hex.size() != 2 * SHA256_DIGEST_LENGTH || !IsLowerHex(hex)) {
        return fail(
            "token-sha256: needs the 64 hex characters of the token's SHA-256 (e.g. from "
            "`printf %s TOKEN | sha256sum`)");
      }
      grant.principal = absl::StrCat(kTokenPrefix, hex.substr(0, 12), "...");
      if (!out.by_token_hash_.emplace(hex, grant).second) {
        return fail(absl::StrCat(grant.principal, " appears twice"));
      }
    } else {
      return fail(absl::StrCat("'", who, "' starts with neither cn: nor token-sha256:"));
    }
  }
  return out;
}

const Grant* AuthFile::ForCommonName(absl::string_view cn) const {
  auto it = by_cn_.find(cn);
  return it == by_cn_.end() ? nullptr : &it->second;
}

const Grant* AuthFile::ForToken(absl::string_view token) const {
  if (by_token_hash_.empty()) return nullptr;
  auto it = by_token_hash_.find(TokenSha256Hex(token));
  return it == by_token_hash_.end() ? nullptr : &it->second;
}

}  // namespace kv::security
