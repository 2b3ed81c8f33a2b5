// IP address prefixes ("10.0.0.0/8", "fd00::/8", "192.0.2.7"): which callers
// may make state-changing Admin calls (--admin-from).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kv::util {

// An IPv4 or IPv6 address, IPv4 held as IPv4-mapped IPv6 (::ffff:a.b.c.d) so
// that one prefix test covers both families. A value type.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};

  // Dotted IPv4 or textual IPv6, optionally in brackets ("[::1]"). No port,
  // no zone. INVALID_ARGUMENT otherwise.
  [[nodiscard]] static absl::StatusOr<IpAddress> Parse(std::string_view text);

  // 127.0.0.0/8, ::1, or ::ffff:127.0.0.0/104.
  bool IsLoopback() const;
  std::string ToString() const;
  bool operator==(const IpAddress&) const = default;
};

// An address and a prefix length: "ADDR/LEN", or "ADDR" for that address
// alone. A value type.
class AddressPrefix {
 public:
  // INVALID_ARGUMENT, saying what is wrong, for anything but ADDR[/LEN] with
  // LEN in 0-32 for IPv4 and 0-128 for IPv6.
  [[nodiscard]] static absl::StatusOr<AddressPrefix> Parse(std::string_view text);

  bool Contains(const IpAddress& a) const;
  std::string ToString() const;

 private:
  AddressPrefix(IpAddress base, int bits, bool v4) : base_(base), bits_(bits), v4_(v4) {}

  IpAddress base_;
  int bits_;  // of the 128-bit form: an IPv4 /8 is 104
  bool v4_;   // written as IPv4: shown back as such
};

}  // namespace kv::util
