#include "src/storage/compaction_filter.h"

#include <string_view>

#include "absl/status/statusor.h"
#include "src/storage/record_codec.h"

namespace kv::storage {

ExpiryCompactionFilter::ExpiryCompactionFilter(const util::Clock* clock,
                                               absl::Duration tombstone_grace)
    : clock_(clock), tombstone_grace_(tombstone_grace) {}

PurgeAction ExpiryCompactionFilter::Decide(const rocksdb::Slice& existing_value, int64_t now_ms,
                                           std::string* new_value) const {
  absl::StatusOr<RecordView> rec =
      DecodeRecordView(std::string_view(existing_value.data(), existing_value.size()));
  if (!rec.ok()) return PurgeAction::kKeep;
  const PurgeAction action =
      PurgeActionFor(rec->tombstone, rec->timestamp, rec->expires_at_ms, now_ms, tombstone_grace_);
  if (action == PurgeAction::kTombstone) {
    *new_value = EncodeExpiredTombstone(*rec);
  }
  return action;
}

bool ExpiryCompactionFilter::Filter(int /*level*/, const rocksdb::Slice& /*key*/,
                                    const rocksdb::Slice& existing_value, std::string* new_value,
                                    bool* value_changed) const {
  switch (Decide(existing_value, clock_->NowMillis(), new_value)) {
    case PurgeAction::kKeep:
      return false;
    case PurgeAction::kTombstone:
      *value_changed = true;
      return false;
    case PurgeAction::kErase:
      return true;
  }
  return false;
}

}  // namespace kv::storage
