#include "src/storage/writer_table.h"

#include <utility>

#include "absl/strings/string_view.h"

namespace kv::storage {

std::optional<WriterIndex> WriterTable::Acquire(std::string_view node_id, bool* added) {
  // Debian 12's abseil has its own absl::string_view, which its containers'
  // heterogeneous lookup takes.
  const absl::string_view id(node_id.data(), node_id.size());
  if (auto it = by_id_.find(id); it != by_id_.end()) {
    ++writers_[it->second].refs;
    return it->second;
  }
  WriterIndex index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else if (writers_.size() < MemoryEntry::kMaxWriters) {
    index = static_cast<WriterIndex>(writers_.size());
    writers_.emplace_back();
  } else {
    return std::nullopt;
  }
  writers_[index] = Writer{.node_id = std::string(node_id), .refs = 1};
  if (added != nullptr) *added = true;
  by_id_.emplace(writers_[index].node_id, index);
  return index;
}

size_t WriterTable::Release(WriterIndex index) {
  Writer& writer = writers_[index];
  if (--writer.refs != 0) return 0;
  const size_t charge = ChargeFor(writer.node_id);
  by_id_.erase(writer.node_id);
  writer.node_id = std::string();  // frees its buffer
  free_.push_back(index);
  return charge;
}

size_t WriterTable::ChargeFor(std::string_view node_id) {
  // A std::string keeps up to 15 characters inline; a longer one allocates
  // its size + 1, rounded up to malloc's 16-byte granularity.
  constexpr size_t kInline = 15;
  const size_t heap = node_id.size() > kInline ? (node_id.size() + 1 + 15) / 16 * 16 : 0;
  // The vector's Writer, the map's slot (key and index) and control byte.
  constexpr size_t kFixed = sizeof(Writer) + sizeof(std::pair<std::string, WriterIndex>) + 1;
  return kFixed + 2 * heap;
}

}  // namespace kv::storage
