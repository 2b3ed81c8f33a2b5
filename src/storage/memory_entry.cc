#include "src/storage/memory_entry.h"

#include <cstring>
#include <new>

namespace kv::storage {

void MemoryEntryDeleter::operator()(MemoryEntry* entry) const {
  entry->~MemoryEntry();
  ::operator delete(entry);
}

MemoryEntryPtr MemoryEntry::Make(std::string_view key, std::string_view value,
                                 const MemoryEntryMeta& meta) {
  void* block = ::operator new(BlockBytes(key.size(), value.size(), meta.expires_at_ms != 0));
  MemoryEntryPtr entry(new (block) MemoryEntry);
  entry->key_size_ = static_cast<uint16_t>(key.size());
  entry->Fill(value, meta);
  std::memcpy(entry->payload(), key.data(), key.size());
  return entry;
}

void MemoryEntry::Overwrite(std::string_view value, const MemoryEntryMeta& meta) {
  // The key stays where it is: the expiry before it keeps its presence.
  Fill(value, meta);
}

void MemoryEntry::Fill(std::string_view value, const MemoryEntryMeta& meta) {
  timestamp_ = meta.timestamp;
  value_size_ = static_cast<uint32_t>(value.size());
  writer_ = meta.writer;
  tombstone_ = meta.tombstone;
  has_expiry_ = meta.expires_at_ms != 0;
  if (has_expiry_) std::memcpy(expiry(), &meta.expires_at_ms, sizeof(meta.expires_at_ms));
  // memmove: Overwrite may be given a value that this entry holds.
  if (!value.empty()) std::memmove(payload() + key_size_, value.data(), value.size());
}

MemoryEntryMeta MemoryEntry::meta() const {
  MemoryEntryMeta meta{.timestamp = timestamp_, .writer = writer_, .tombstone = tombstone_ != 0};
  if (has_expiry_) std::memcpy(&meta.expires_at_ms, expiry(), sizeof(meta.expires_at_ms));
  return meta;
}

}  // namespace kv::storage
