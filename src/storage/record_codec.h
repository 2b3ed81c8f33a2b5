// The on-disk encoding of a Record: one format, versioned by its first byte.
// The byte layout is specified in docs/storage-format.md; keep the two in
// step.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/storage/record.h"

namespace kv::storage {

// The format version that EncodeRecord writes, and the only one DecodeRecord
// accepts.
inline constexpr uint8_t kRecordFormatVersion = 1;

// Flag bits (byte 1 of the encoding). Bits not defined here must be zero.
inline constexpr uint8_t kRecordFlagTombstone = 0x01;

// A decoded record whose strings point into the encoded bytes: valid only as
// long as those bytes are. Lets the compaction filter inspect a record
// without copying its value. A value type; not synchronized.
struct RecordView {
  uint64_t timestamp = 0;
  std::string_view node_id{};
  bool tombstone = false;
  int64_t expires_at_ms = 0;
  std::string_view value{};

  // An owning copy.
  Record ToRecord() const;
};

// Encodes `rec` in format version kRecordFormatVersion. Never fails.
// Thread-safe (pure).
std::string EncodeRecord(const Record& rec);

// EncodeRecord(ExpiredTombstone(view.ToRecord())) (record.h) without copying
// the value: the tombstone an expired record becomes. Thread-safe (pure).
std::string EncodeExpiredTombstone(const RecordView& view);

// Decodes bytes written by EncodeRecord. Fails with DATA_LOSS, naming the
// problem, if the format version is not one this build reads, a reserved flag
// bit is set, the input ends before a field does, or bytes follow the last
// field. The view borrows from `encoded`. Thread-safe (pure).
[[nodiscard]] absl::StatusOr<RecordView> DecodeRecordView(std::string_view encoded);

// DecodeRecordView, then copies the result into a Record.
[[nodiscard]] absl::StatusOr<Record> DecodeRecord(std::string_view encoded);

}  // namespace kv::storage
