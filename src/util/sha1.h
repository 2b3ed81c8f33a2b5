// SHA-1, for placing keys in the ID space (dht::NodeId::FromKey) and in the
// storage engines' digest tree (storage::LeafOf). Not for security.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kv::util {

inline constexpr size_t kSha1Bytes = 20;

// SHA-1 of `bytes`, most significant byte first. Never fails. Thread-safe:
// each thread keeps its own OpenSSL digest context.
std::array<uint8_t, kSha1Bytes> Sha1(std::string_view bytes);

}  // namespace kv::util
