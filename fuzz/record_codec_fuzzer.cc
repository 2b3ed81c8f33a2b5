// The record codec (src/storage/record_codec.h): every value RocksDB hands
// back is decoded with it, so a damaged or hostile data dir reaches it.
// Checks that decoding stays in bounds, fails only with DATA_LOSS, and that
// whatever decodes survives an encode/decode round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "fuzz/fuzz_check.h"
#include "src/storage/record_codec.h"

namespace {

using kv::storage::Record;

bool Same(const Record& a, const Record& b) {
  return a.value == b.value && a.version == b.version && a.tombstone == b.tombstone &&
         a.expires_at_ms == b.expires_at_ms;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using kv::storage::DecodeRecord;
  using kv::storage::DecodeRecordView;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<kv::storage::RecordView> view = DecodeRecordView(in);
  if (!view.ok()) {
    FUZZ_CHECK(view.status().code() == absl::StatusCode::kDataLoss);
    FUZZ_CHECK(!DecodeRecord(in).ok());
    return 0;
  }
  // The view borrows from the input.
  FUZZ_CHECK(view->value.empty() ||
             (view->value.data() >= in.data() &&
              view->value.data() + view->value.size() <= in.data() + in.size()));
  const Record rec = view->ToRecord();
  absl::StatusOr<Record> again = DecodeRecord(kv::storage::EncodeRecord(rec));
  FUZZ_CHECK(again.ok() && Same(*again, rec));

  absl::StatusOr<Record> tomb = DecodeRecord(kv::storage::EncodeExpiredTombstone(*view));
  FUZZ_CHECK(tomb.ok());
  FUZZ_CHECK(tomb->tombstone && tomb->value.empty() && tomb->version == rec.version &&
             tomb->expires_at_ms == rec.expires_at_ms);
  return 0;
}
