#include "src/storage/writer_table.h"

#include "absl/strings/string_view.h"

namespace kv::storage {

std::optional<WriterIndex> WriterTable::Acquire(std::string_view node_id) {
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
  by_id_.emplace(writers_[index].node_id, index);
  return index;
}

void WriterTable::Release(WriterIndex index) {
  Writer& writer = writers_[index];
  if (--writer.refs != 0) return;
  by_id_.erase(writer.node_id);
  writer.node_id = std::string();  // frees its buffer
  free_.push_back(index);
}

}  // namespace kv::storage
