// How MemoryEngine holds one record: a single heap block with a 16-byte
// header, the expiry (only if the record has one), the key and the value.
// Private to the storage layer; the layout is described in
// docs/storage-format.md, "Memory engine".
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string_view>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace kv::storage {

// Index of a writer node ID in a shard's WriterTable (writer_table.h).
using WriterIndex = uint16_t;

// Everything a MemoryEntry holds but its key and value. A value type.
struct MemoryEntryMeta {
  uint64_t timestamp = 0;     // Version::timestamp
  int64_t expires_at_ms = 0;  // Record::expires_at_ms; 0 = never
  WriterIndex writer = 0;     // Version::node_id, as an index into the shard's WriterTable
  bool tombstone = false;
};

class MemoryEntry;

// Frees a MemoryEntry's block.
struct MemoryEntryDeleter {
  void operator()(MemoryEntry* entry) const;
};
using MemoryEntryPtr = std::unique_ptr<MemoryEntry, MemoryEntryDeleter>;

// One record in one heap block: this header, then expires_at_ms (8 bytes, only
// if nonzero), then the key, then the value. Immutable once made, except
// through Overwrite. Not synchronized: MemoryEngine guards each entry by its
// shard's mutex.
class MemoryEntry {
 public:
  static constexpr size_t kMaxKeyBytes = std::numeric_limits<uint16_t>::max();
  static constexpr size_t kMaxValueBytes = std::numeric_limits<uint32_t>::max();
  static constexpr size_t kMaxWriters = size_t{1} << 14;  // WriterIndex values that fit

  // A new entry. REQUIRES: key.size() <= kMaxKeyBytes, value.size() <=
  // kMaxValueBytes, meta.writer < kMaxWriters.
  static MemoryEntryPtr Make(std::string_view key, std::string_view value,
                             const MemoryEntryMeta& meta);

  // The size of the block Make allocates for such an entry.
  static size_t BlockBytes(size_t key_bytes, size_t value_bytes, bool has_expiry) {
    return sizeof(MemoryEntry) + (has_expiry ? sizeof(int64_t) : 0) + key_bytes + value_bytes;
  }
  size_t block_bytes() const { return BlockBytes(key_size_, value_size_, has_expiry_); }

  // True if Overwrite may store `value` and `meta` in this block: the value
  // has the same size and the expiry the same presence.
  bool CanOverwrite(std::string_view value, const MemoryEntryMeta& meta) const {
    return value.size() == value_size_ && (meta.expires_at_ms != 0) == has_expiry_;
  }
  // Replaces the value and meta in place, keeping the key and the block.
  // REQUIRES: CanOverwrite(value, meta), meta.writer < kMaxWriters.
  void Overwrite(std::string_view value, const MemoryEntryMeta& meta);

  std::string_view key() const { return {payload(), key_size_}; }
  std::string_view value() const { return {payload() + key_size_, value_size_}; }
  MemoryEntryMeta meta() const;

 private:
  MemoryEntry() = default;

  // Sets the header and copies `value` (and the expiry) into the block.
  void Fill(std::string_view value, const MemoryEntryMeta& meta);
  char* expiry() { return reinterpret_cast<char*>(this) + sizeof(MemoryEntry); }
  const char* expiry() const { return reinterpret_cast<const char*>(this) + sizeof(MemoryEntry); }
  char* payload() { return expiry() + (has_expiry_ ? sizeof(int64_t) : 0); }
  const char* payload() const { return expiry() + (has_expiry_ ? sizeof(int64_t) : 0); }

  uint64_t timestamp_;
  uint32_t value_size_;
  uint16_t key_size_;
  uint16_t writer_ : 14;
  uint16_t tombstone_ : 1;
  uint16_t has_expiry_ : 1;
};
static_assert(sizeof(MemoryEntry) == 16);

// Hash and equality of MemoryEntryPtr by key, also callable with the key
// alone, so that a set of entries is looked up by key (heterogeneous lookup).
struct MemoryEntryKeyHash {
  using is_transparent = void;
  size_t operator()(absl::string_view key) const { return absl::Hash<absl::string_view>{}(key); }
  size_t operator()(const MemoryEntryPtr& e) const { return (*this)(AsAbsl(e->key())); }
  static absl::string_view AsAbsl(std::string_view s) { return {s.data(), s.size()}; }
};
struct MemoryEntryKeyEq {
  using is_transparent = void;
  static std::string_view KeyOf(absl::string_view key) { return {key.data(), key.size()}; }
  static std::string_view KeyOf(const MemoryEntryPtr& e) { return e->key(); }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return KeyOf(a) == KeyOf(b);
  }
};

}  // namespace kv::storage
