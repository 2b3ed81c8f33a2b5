// --auth-file: who may do what. One principal per line:
//
//   cn:NAME ROLE [PREFIX]            a client certificate whose subject CN is NAME
//   token-sha256:HEX ROLE [PREFIX]   a bearer token whose SHA-256 is HEX (64 hex chars)
//
// ROLE is `read` (Get), `write` (Get, Put, Delete) or `admin` (write and every
// Admin call). PREFIX, when given, limits the keys the principal may touch.
// Blank lines and lines starting with '#' are ignored.
#pragma once

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kv::security {

enum class Role { kRead, kWrite, kAdmin };
absl::string_view RoleName(Role role);

struct Grant {
  Role role = Role::kRead;
  std::string prefix;  // "" = every key
  // "cn:NAME" or "token-sha256:HEX..." (shortened), for error messages.
  std::string principal;
};

// Immutable after Parse; thread-safe.
class AuthFile {
 public:
  // INVALID_ARGUMENT naming the line and what is wrong with it. A line for
  // `member_cn` is refused: members are nodes, never clients or admins.
  [[nodiscard]] static absl::StatusOr<AuthFile> Parse(absl::string_view text,
                                                      absl::string_view member_cn);

  // The grant of a certificate CN, or of a token (raw; hashed here); null if
  // the file names neither.
  const Grant* ForCommonName(absl::string_view cn) const;
  const Grant* ForToken(absl::string_view token) const;

  size_t size() const { return by_cn_.size() + by_token_hash_.size(); }

 private:
  absl::flat_hash_map<std::string, Grant> by_cn_;
  absl::flat_hash_map<std::string, Grant> by_token_hash_;  // lowercase hex SHA-256
};

// Lowercase hex SHA-256 of `token`, as written after `token-sha256:`.
std::string TokenSha256Hex(absl::string_view token);

}  // namespace kv::security
