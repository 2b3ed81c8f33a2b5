// 160-bit Kademlia identifiers and the contacts that carry them.
//
// NodeId is a plain value type: copyable, comparable, hashable (absl::Hash), with
// constexpr XOR distance and common-prefix length. The same type names keys: a key's
// position in the ID space is NodeId::FromKey(key).
//
// Thread-safety: NodeId and Contact are values with no shared state; distinct objects
// may be used from any thread, and const access to one object is safe concurrently.

#ifndef KV_SRC_DHT_NODE_ID_H_
#define KV_SRC_DHT_NODE_ID_H_

#include <array>
#include <bit>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace kv::dht {

// Size of an ID in bytes and in bits.
inline constexpr size_t kIdBytes = 20;
inline constexpr int kIdBits = 160;

// A 160-bit identifier stored in big-endian byte order: bytes()[0] holds the most
// significant bits. Ordering (<, <=>) is lexicographic on the bytes, which equals
// numeric order of the 160-bit unsigned integer, so comparing two XOR distances with
// `<` answers "which is closer".
class NodeId {
 public:
  // The all-zero ID.
  constexpr NodeId() = default;
  // The ID whose big-endian bytes are `bytes`.
  explicit constexpr NodeId(const std::array<uint8_t, kIdBytes>& bytes) : bytes_(bytes) {}

  // SHA-1 of the key bytes. Never fails.
  static NodeId FromKey(std::string_view key);

  // Parses exactly 40 hex characters (upper or lower case, no prefix or separators).
  // Fails with INVALID_ARGUMENT naming the problem for any other length or a non-hex
  // character.
  [[nodiscard]] static absl::StatusOr<NodeId> FromHex(std::string_view hex);

  // A uniformly random ID drawn from `rng`.
  static NodeId Random(std::mt19937_64& rng);

  // 40 lowercase hex characters; FromHex(id.ToHex()) == id.
  std::string ToHex() const;
  // The first 8 hex characters, for logs.
  std::string ShortHex() const;

  // Big-endian bytes.
  constexpr const std::array<uint8_t, kIdBytes>& bytes() const { return bytes_; }

  // XOR distance: the metric of Kademlia. d(a, a) == 0 and d(a, b) == d(b, a).
  constexpr NodeId operator^(const NodeId& o) const {
    NodeId r;
    for (size_t i = 0; i < kIdBytes; ++i) r.bytes_[i] = bytes_[i] ^ o.bytes_[i];
    return r;
  }

  // Number of leading bits shared with `o`: 0..160, 160 when the IDs are equal.
  constexpr int CommonPrefixLength(const NodeId& o) const {
    for (size_t i = 0; i < kIdBytes; ++i) {
      const uint8_t x = bytes_[i] ^ o.bytes_[i];
      if (x != 0) return static_cast<int>(i) * 8 + std::countl_zero(x);
    }
    return kIdBits;
  }

  // Bit `i`, where i = 0 is the most significant bit. REQUIRES: 0 <= i < kIdBits.
  constexpr bool Bit(int i) const { return ((bytes_[i / 8] >> (7 - i % 8)) & 1) != 0; }

  constexpr auto operator<=>(const NodeId&) const = default;
  constexpr bool operator==(const NodeId&) const = default;

  template <typename H>
  friend H AbslHashValue(H h, const NodeId& id) {
    return H::combine_contiguous(std::move(h), id.bytes_.data(), id.bytes_.size());
  }

 private:
  std::array<uint8_t, kIdBytes> bytes_{};
};

// Prints the full hex form (used by GoogleTest and logging).
std::ostream& operator<<(std::ostream& os, const NodeId& id);

// True if `a` is strictly closer to `target` than `b` by XOR distance. Distinct IDs are
// never equally close, so for a != b exactly one of CloserTo(t, a, b), CloserTo(t, b, a)
// holds.
constexpr bool CloserTo(const NodeId& target, const NodeId& a, const NodeId& b) {
  return (a ^ target) < (b ^ target);
}

// A peer: its ID and where to reach it.
struct Contact {
  NodeId id;
  std::string address;  // "host:port"
  bool operator==(const Contact&) const = default;
};

// Prints "<short hex>@<address>" (used by GoogleTest and logging).
std::ostream& operator<<(std::ostream& os, const Contact& c);

// The `n` contacts of `candidates` closest to `target` by XOR distance,
// closest first (fewer if there are fewer candidates). Pure: replica sets
// for many keys can be computed from one snapshot of the contacts.
std::vector<Contact> ClosestAmong(const std::vector<Contact>& candidates, const NodeId& target,
                                  size_t n);

// True if `nodes` holds a contact with `id`.
bool ContainsNode(const std::vector<Contact>& nodes, const NodeId& id);

}  // namespace kv::dht

#endif  // KV_SRC_DHT_NODE_ID_H_
