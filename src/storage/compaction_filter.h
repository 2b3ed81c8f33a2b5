// Garbage collection of expired records and old tombstones, done by RocksDB
// while it compacts.
#pragma once

#include <rocksdb/compaction_filter.h>
#include <rocksdb/slice.h>

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "src/storage/record.h"
#include "src/util/clock.h"

namespace kv::storage {

// Applies to each encoded record (record_codec.h) RocksDB compacts the same
// rule as Engine::Purge (PurgeActionFor in record.h):
//   - a record that is not a tombstone and has expired is rewritten as a
//     tombstone with the same version and expires_at_ms, value dropped;
//   - a tombstone is dropped once its death time (expires_at_ms if nonzero,
//     else its version's physical time) + tombstone_grace <= now.
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

  // What Filter() does with the record in `existing_value` as of `now_ms`
  // (unix ms); exposed for tests. For PurgeAction::kTombstone it stores the
  // encoded tombstone in *new_value (else leaves it alone). kKeep for values
  // that do not decode.
  PurgeAction Decide(const rocksdb::Slice& existing_value, int64_t now_ms,
                     std::string* new_value) const;

  // rocksdb::CompactionFilter. Returns true to drop the entry; sets
  // *value_changed and *new_value to rewrite an expired record as a
  // tombstone.
  bool Filter(int level, const rocksdb::Slice& key, const rocksdb::Slice& existing_value,
              std::string* new_value, bool* value_changed) const override;
  const char* Name() const override { return "kv.ExpiryCompactionFilter"; }

 private:
  // Const after construction.
  const util::Clock* const clock_;
  const absl::Duration tombstone_grace_;
};

}  // namespace kv::storage
