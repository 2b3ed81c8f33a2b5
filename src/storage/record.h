// The unit of storage: a value with its version, tombstone flag and expiry.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace kv::storage {

// A write's version: hybrid-logical-clock timestamp (see
// src/replication/hlc.h), then the writing node's ID (40 hex chars) as
// tie-break. Versions are totally ordered; the highest wins everywhere (LWW).
// A value type; not synchronized.
//
// Every member has a default member initializer so that designated
// initializers may omit any of them without GCC's -Wmissing-field-initializers.
struct Version {
  uint64_t timestamp = 0;
  std::string node_id{};

  auto operator<=>(const Version&) const = default;
  bool operator==(const Version&) const = default;

  // True for the default-constructed version, which sorts before every other.
  bool IsZero() const { return timestamp == 0 && node_id.empty(); }
};

// A stored value. Deletes are stored as tombstones (tombstone = true, empty
// value) so that they replicate and win over older writes. A value type; not
// synchronized. Members have default initializers, as in Version.
struct Record {
  std::string value{};
  Version version{};
  bool tombstone = false;
  int64_t expires_at_ms = 0;  // unix milliseconds; 0 = never expires

  // True if the record has an expiry and `now_ms` (unix ms) is at or past it.
  bool ExpiredAt(int64_t now_ms) const;

  // True if a reader at `now_ms` should see the value: neither a tombstone
  // nor expired.
  bool LiveAt(int64_t now_ms) const;
};

// What garbage collection (Engine::Purge and the RocksDB compaction filter)
// does with one record. One rule for every engine:
//   - kTombstone: a record that is not a tombstone and has expired
//     (Record::ExpiredAt) becomes a tombstone with the same version and
//     expires_at_ms, its value dropped. It is not erased: a replica that missed
//     the TTL write could otherwise resurrect an older live value through
//     anti-entropy, while the tombstone keeps winning over it.
//   - kErase: a tombstone is erased once its death time + tombstone_grace <=
//     now_ms. Its death time is expires_at_ms if nonzero, else its version's
//     physical time (timestamp >> 16, the HLC layout of
//     src/replication/hlc.h).
//   - kKeep: anything else.
// An expired record thus takes two passes to disappear: the first makes it a
// tombstone, a later one (once the grace has passed) erases it.
enum class PurgeAction { kKeep, kTombstone, kErase };

// The rule above, given the fields it reads, so that it applies alike to a
// Record and to an encoded record (record_codec.h's RecordView). Saturates
// instead of overflowing for extreme times and graces. Thread-safe (pure).
PurgeAction PurgeActionFor(bool tombstone, uint64_t timestamp, int64_t expires_at_ms,
                           int64_t now_ms, absl::Duration tombstone_grace);

// The tombstone that PurgeAction::kTombstone turns `rec` into: same version
// and expires_at_ms, empty value.
Record ExpiredTombstone(const Record& rec);

// Human-readable forms for logs and test failures: "1700000000000.3@<node_id>"
// for a version (timestamp shown as HLC physical ms "." logical counter), and
// the version, flags and the value C-escaped and cut to 64 bytes for a record.
std::ostream& operator<<(std::ostream& os, const Version& v);
std::ostream& operator<<(std::ostream& os, const Record& rec);

}  // namespace kv::storage
