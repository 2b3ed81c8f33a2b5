#include "src/dht/node_id.h"

#include <algorithm>
#include <ostream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/util/sha1.h"

namespace kv::dht {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Value of one hex digit, or -1 if `c` is not one.
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `hex` for an error message, shortened if long. (Debian's abseil is built without
// std::string_view support, so StrCat takes std::string here.)
std::string Quote(std::string_view hex) {
  constexpr size_t kMaxShown = 48;
  if (hex.size() <= kMaxShown) return absl::StrCat("\"", std::string(hex), "\"");
  return absl::StrCat("\"", std::string(hex.substr(0, kMaxShown)), "...\"");
}

}  // namespace

NodeId NodeId::FromKey(std::string_view key) {
  static_assert(util::kSha1Bytes == kIdBytes);
  return NodeId(util::Sha1(key));
}

absl::StatusOr<NodeId> NodeId::FromHex(std::string_view hex) {
  if (hex.size() != 2 * kIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("node ID ", Quote(hex), " has ", hex.size(),
                                                   " characters; it must be exactly ", 2 * kIdBytes,
                                                   " hex digits"));
  }
  std::array<uint8_t, kIdBytes> bytes;
  for (size_t i = 0; i < kIdBytes; ++i) {
    const int hi = HexValue(hex[2 * i]);
    const int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      const size_t pos = hi < 0 ? 2 * i : 2 * i + 1;
      return absl::InvalidArgumentError(
          absl::StrCat("node ID ", Quote(hex), " has non-hex character '", std::string(1, hex[pos]),
                       "' at position ", pos, "; use only 0-9 and a-f"));
    }
    bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return NodeId(bytes);
}

NodeId NodeId::Random(std::mt19937_64& rng) {
  std::array<uint8_t, kIdBytes> bytes;
  for (size_t i = 0; i < kIdBytes; i += 8) {
    uint64_t word = rng();
    for (size_t j = i; j < i + 8 && j < kIdBytes; ++j) {
      bytes[j] = static_cast<uint8_t>(word);
      word >>= 8;
    }
  }
  return NodeId(bytes);
}

std::string NodeId::ToHex() const {
  std::string out(2 * kIdBytes, '0');
  for (size_t i = 0; i < kIdBytes; ++i) {
    out[2 * i] = kHexDigits[bytes_[i] >> 4];
    out[2 * i + 1] = kHexDigits[bytes_[i] & 0xf];
  }
  return out;
}

std::string NodeId::ShortHex() const { return ToHex().substr(0, 8); }

std::ostream& operator<<(std::ostream& os, const NodeId& id) { return os << id.ToHex(); }

std::ostream& operator<<(std::ostream& os, const Contact& c) {
  return os << c.id.ShortHex() << "@" << c.address;
}

std::vector<Contact> ClosestAmong(const std::vector<Contact>& candidates, const NodeId& target,
                                  size_t n) {
  std::vector<const Contact*> order;
  order.reserve(candidates.size());
  for (const Contact& c : candidates) order.push_back(&c);
  const size_t take = std::min(n, order.size());
  std::partial_sort(
      order.begin(), order.begin() + static_cast<std::ptrdiff_t>(take), order.end(),
      [&](const Contact* a, const Contact* b) { return CloserTo(target, a->id, b->id); });
  std::vector<Contact> out;
  out.reserve(take);
  for (size_t i = 0; i < take; ++i) out.push_back(*order[i]);
  return out;
}

bool ContainsNode(const std::vector<Contact>& nodes, const NodeId& id) {
  return std::any_of(nodes.begin(), nodes.end(), [&](const Contact& c) { return c.id == id; });
}

}  // namespace kv::dht
