// Small helpers shared by the RocksDB engine's source files
// (rocksdb_engine.cc, rocksdb_purge.cc, rocksdb_write_errors.cc). Internal:
// nothing outside src/storage includes it.
#pragma once

#include <rocksdb/slice.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/storage/compaction_filter.h"
#include "src/storage/record.h"
#include "src/storage/record_codec.h"

namespace kv::storage::rocksdb_internal {

// Debian 12's abseil has its own absl::string_view, distinct from
// std::string_view; convert explicitly.
inline absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

inline rocksdb::Slice AsSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

inline std::string_view AsView(const rocksdb::Slice& s) {
  return std::string_view(s.data(), s.size());
}

// An owning copy of the stored version.
inline Version VersionOf(const RecordView& stored) {
  return Version{.timestamp = stored.timestamp, .node_id = std::string(stored.node_id)};
}

inline bool SameVersion(const RecordView& stored, const Version& v) {
  return stored.timestamp == v.timestamp && stored.node_id == std::string_view(v.node_id);
}

inline PurgeAction ActionFor(const RecordView& rec, int64_t now_ms,
                             absl::Duration tombstone_grace) {
  return PurgeActionFor(rec.tombstone, rec.timestamp, rec.expires_at_ms, now_ms, tombstone_grace);
}

// True if the stored version is >= `v`, compared as Version's operator<=>
// (timestamp, then node ID bytes) without copying the stored node ID.
inline bool StoredIsAtLeast(const RecordView& stored, const Version& v) {
  if (stored.timestamp != v.timestamp) return stored.timestamp > v.timestamp;
  return stored.node_id >= std::string_view(v.node_id);
}

}  // namespace kv::storage::rocksdb_internal
