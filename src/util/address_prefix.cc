#include "src/util/address_prefix.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace kv::util {

namespace {

constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool IsV4Mapped(const IpAddress& a) {
  return std::memcmp(a.bytes.data(), kV4MappedPrefix.data(), kV4MappedPrefix.size()) == 0;
}

// True when the first `bits` bits of `a` and `b` are equal.
bool SamePrefix(const IpAddress& a, const IpAddress& b, int bits) {
  const int whole = bits / 8;
  if (std::memcmp(a.bytes.data(), b.bytes.data(), whole) != 0) return false;
  const int rest = bits % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[whole] & mask) == (b.bytes[whole] & mask);
}

}  // namespace

absl::StatusOr<IpAddress> IpAddress::Parse(std::string_view text) {
  // inet_pton reads a C string: it would stop at a NUL and accept what is before it.
  if (text.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("an IP address cannot contain a NUL byte");
  }
  std::string s(text);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  IpAddress out;
  in_addr v4;
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    std::memcpy(out.bytes.data(), kV4MappedPrefix.data(), kV4MappedPrefix.size());
    std::memcpy(out.bytes.data() + 12, &v4, 4);
    return out;
  }
  if (inet_pton(AF_INET6, s.c_str(), out.bytes.data()) == 1) return out;
  return absl::InvalidArgumentError(
      absl::StrCat("'", s, "' is not an IPv4 or IPv6 address (such as 10.1.2.3 or fd00::1)"));
}

bool IpAddress::IsLoopback() const {
  static const IpAddress kV6Loopback = [] {
    IpAddress a;
    a.bytes[15] = 1;
    return a;
  }();
  return *this == kV6Loopback || (IsV4Mapped(*this) && bytes[12] == 127);
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (IsV4Mapped(*this)) {
    inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf));
  }
  return buf;
}

absl::StatusOr<AddressPrefix> AddressPrefix::Parse(std::string_view text) {
  const size_t slash = text.find('/');
  absl::StatusOr<IpAddress> base = IpAddress::Parse(text.substr(0, slash));
  if (!base.ok()) return base.status();
  const bool v4 = IsV4Mapped(*base) && text.substr(0, slash).find(':') == std::string_view::npos;
  const int max_bits = v4 ? 32 : 128;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view len = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), bits);
    if (len.empty() || ec != std::errc() || end != len.data() + len.size() || bits < 0 ||
        bits > max_bits) {
      return absl::InvalidArgumentError(absl::StrCat("'", std::string(text),
                                                     "' has a bad prefix length; give /0 to /",
                                                     max_bits, " after the address"));
    }
  }
  return AddressPrefix(*base, v4 ? bits + 96 : bits, v4);
}

bool AddressPrefix::Contains(const IpAddress& a) const { return SamePrefix(base_, a, bits_); }

std::string AddressPrefix::ToString() const {
  if (v4_) return absl::StrCat(base_.ToString(), "/", bits_ - 96);
  // Written as IPv6: shown as IPv6 even when IPv4-mapped ("::ffff:10.0.0.0/104"),
  // which IpAddress::ToString would show as IPv4, a /104 no IPv4 prefix can be.
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, base_.bytes.data(), buf, sizeof(buf));
  return absl::StrCat(buf, "/", bits_);
}

}  // namespace kv::util
