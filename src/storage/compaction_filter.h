// Garbage collection of expired records and old tombstones, done by RocksDB
// while it compacts.
#pragma once

#include <rocksdb/compaction_filter.h>
#include <rocksdb/slice.h>

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "src/util/clock.h"

namespace kv::storage {

// Drops, during compaction, encoded records (record_codec.h) that
//   - are not tombstones and have expired: expires_at_ms != 0 and
//     now >= expires_at_ms (Record::ExpiredAt), or
//   - are tombstones whose version's physical time (timestamp >> 16, the HLC
//     layout of src/replication/hlc.h) is older than now - tombstone_grace.
// "now" is read from the injected clock for each record. Values that do not
// decode are kept: the filter never destroys what it cannot read.
//
// RocksDB turns a dropped entry into a deletion marker, so older versions of
// the key in lower levels stay hidden; the marker itself disappears when it
// reaches the bottom level.
//
// Thread-safe: RocksDB calls one instance from several compaction threads at
// once; all members are const.
class ExpiryCompactionFilter final : public rocksdb::CompactionFilter {
 public:
  // `clock` is not owned and must outlive the filter (and so the DB using it).
  // REQUIRES: clock != nullptr, tombstone_grace >= 0.
  ExpiryCompactionFilter(const util::Clock* clock, absl::Duration tombstone_grace);

  // True if the record in `existing_value` should be dropped as of `now_ms`
  // (unix ms). The decision Filter() makes, exposed for tests.
  bool ShouldDrop(const rocksdb::Slice& existing_value, int64_t now_ms) const;

  // rocksdb::CompactionFilter. Returns true to drop the entry; never changes
  // a value.
  bool Filter(int level, const rocksdb::Slice& key, const rocksdb::Slice& existing_value,
              std::string* new_value, bool* value_changed) const override;
  const char* Name() const override { return "kv.ExpiryCompactionFilter"; }

 private:
  // Const after construction.
  const util::Clock* const clock_;
  const int64_t tombstone_grace_ms_;
};

}  // namespace kv::storage
