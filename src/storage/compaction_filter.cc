#include "src/storage/compaction_filter.h"

#include <string_view>

#include "absl/status/statusor.h"
#include "src/storage/record_codec.h"

namespace kv::storage {
namespace {

// The physical (unix ms) part of an HLC timestamp. Spelled out here, as in
// record.cc, so that storage does not depend on replication.
int64_t PhysicalMillis(uint64_t timestamp) { return static_cast<int64_t>(timestamp >> 16); }

}  // namespace

ExpiryCompactionFilter::ExpiryCompactionFilter(const util::Clock* clock,
                                               absl::Duration tombstone_grace)
    : clock_(clock), tombstone_grace_ms_(absl::ToInt64Milliseconds(tombstone_grace)) {}

bool ExpiryCompactionFilter::ShouldDrop(const rocksdb::Slice& existing_value,
                                        int64_t now_ms) const {
  absl::StatusOr<RecordView> rec =
      DecodeRecordView(std::string_view(existing_value.data(), existing_value.size()));
  if (!rec.ok()) return false;
  if (rec->tombstone) return PhysicalMillis(rec->timestamp) < now_ms - tombstone_grace_ms_;
  return rec->expires_at_ms != 0 && now_ms >= rec->expires_at_ms;
}

bool ExpiryCompactionFilter::Filter(int /*level*/, const rocksdb::Slice& /*key*/,
                                    const rocksdb::Slice& existing_value,
                                    std::string* /*new_value*/, bool* /*value_changed*/) const {
  return ShouldDrop(existing_value, clock_->NowMillis());
}

}  // namespace kv::storage
