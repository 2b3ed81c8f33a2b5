#include "src/storage/record_codec.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/util/status_macros.h"

namespace kv::storage {
namespace {

// Byte offsets of the fixed-size header (docs/storage-format.md).
constexpr size_t kFormatVersionOffset = 0;
constexpr size_t kFlagsOffset = 1;
constexpr size_t kTimestampOffset = 2;
constexpr size_t kExpiresAtOffset = 10;
constexpr size_t kHeaderBytes = 18;

// The longest varint64: 10 bytes of 7 bits each.
constexpr size_t kMaxVarint64Bytes = 10;

void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetFixed64(std::string_view in, size_t offset) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(in[offset + i])) << (8 * i);
  }
  return v;
}

// LEB128, as in LevelDB's varint64: 7 bits per byte, low bits first, high bit
// set on every byte but the last.
void PutVarint64(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Reads a varint64 at the front of `*in` and removes it from `*in`. `field`
// names the field in error messages.
absl::StatusOr<uint64_t> GetVarint64(std::string_view* in, const char* field) {
  uint64_t v = 0;
  for (size_t i = 0; i < kMaxVarint64Bytes; ++i) {
    if (i >= in->size()) {
      return absl::DataLossError(
          absl::StrCat("record truncated: input ends inside the ", field, " length"));
    }
    const uint8_t byte = static_cast<uint8_t>((*in)[i]);
    v |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      in->remove_prefix(i + 1);
      return v;
    }
  }
  return absl::DataLossError(
      absl::StrCat("record corrupt: the ", field, " length is not a varint"));
}

// Reads a varint64 length and that many bytes from the front of `*in`.
absl::StatusOr<std::string_view> GetLengthPrefixed(std::string_view* in, const char* field) {
  ASSIGN_OR_RETURN(const uint64_t length, GetVarint64(in, field));
  if (length > in->size()) {
    return absl::DataLossError(absl::StrCat("record truncated: the ", field, " is ", length,
                                            " bytes but only ", in->size(), " remain"));
  }
  std::string_view bytes = in->substr(0, length);
  in->remove_prefix(length);
  return bytes;
}

}  // namespace

Record RecordView::ToRecord() const {
  return Record{.value = std::string(value),
                .version = {.timestamp = timestamp, .node_id = std::string(node_id)},
                .tombstone = tombstone,
                .expires_at_ms = expires_at_ms};
}

std::string EncodeRecord(const Record& rec) {
  std::string out;
  out.reserve(kHeaderBytes + 2 * kMaxVarint64Bytes + rec.version.node_id.size() + rec.value.size());
  out.push_back(static_cast<char>(kRecordFormatVersion));
  out.push_back(static_cast<char>(rec.tombstone ? kRecordFlagTombstone : 0));
  PutFixed64(&out, rec.version.timestamp);
  PutFixed64(&out, static_cast<uint64_t>(rec.expires_at_ms));
  PutVarint64(&out, rec.version.node_id.size());
  out.append(rec.version.node_id);
  PutVarint64(&out, rec.value.size());
  out.append(rec.value);
  return out;
}

std::string EncodeExpiredTombstone(const RecordView& view) {
  return EncodeRecord(
      Record{.version = {.timestamp = view.timestamp, .node_id = std::string(view.node_id)},
             .tombstone = true,
             .expires_at_ms = view.expires_at_ms});
}

absl::StatusOr<RecordView> DecodeRecordView(std::string_view encoded) {
  if (encoded.empty()) return absl::DataLossError("record truncated: empty input");
  const uint8_t format = static_cast<uint8_t>(encoded[kFormatVersionOffset]);
  if (format != kRecordFormatVersion) {
    return absl::DataLossError(absl::StrCat("record has unknown format version ", format,
                                            "; this build reads only version ",
                                            kRecordFormatVersion));
  }
  if (encoded.size() < kHeaderBytes) {
    return absl::DataLossError(absl::StrCat("record truncated: ", encoded.size(),
                                            " bytes, shorter than the ", kHeaderBytes,
                                            "-byte header"));
  }
  const uint8_t flags = static_cast<uint8_t>(encoded[kFlagsOffset]);
  if ((flags & ~kRecordFlagTombstone) != 0) {
    return absl::DataLossError(absl::StrCat("record corrupt: unknown flag bits 0x",
                                            absl::Hex(flags & ~kRecordFlagTombstone), " are set"));
  }
  RecordView view;
  view.tombstone = (flags & kRecordFlagTombstone) != 0;
  view.timestamp = GetFixed64(encoded, kTimestampOffset);
  view.expires_at_ms = static_cast<int64_t>(GetFixed64(encoded, kExpiresAtOffset));

  std::string_view rest = encoded.substr(kHeaderBytes);
  ASSIGN_OR_RETURN(view.node_id, GetLengthPrefixed(&rest, "node id"));
  ASSIGN_OR_RETURN(view.value, GetLengthPrefixed(&rest, "value"));
  if (!rest.empty()) {
    return absl::DataLossError(
        absl::StrCat("record corrupt: ", rest.size(), " unexpected bytes after the value"));
  }
  return view;
}

absl::StatusOr<Record> DecodeRecord(std::string_view encoded) {
  ASSIGN_OR_RETURN(const RecordView view, DecodeRecordView(encoded));
  return view.ToRecord();
}

}  // namespace kv::storage
