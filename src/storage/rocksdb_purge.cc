// RocksDbEngine's purge: expired records become tombstones, tombstones past
// their grace are erased (engine.h, Engine::Purge).
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "src/storage/rocksdb_engine.h"
#include "src/storage/rocksdb_internal.h"
#include "src/storage/rocksdb_status.h"
#include "src/util/status_macros.h"

namespace kv::storage {
namespace {

// Records Purge picks before it re-reads and changes them.
constexpr size_t kPurgeBatchKeys = 1024;

}  // namespace

using namespace rocksdb_internal;  // NOLINT: this file's own helpers

absl::StatusOr<PurgeStats> RocksDbEngine::Purge(int64_t now_ms, absl::Duration tombstone_grace) {
  PurgeStats stats;
  if (!purge_bounds_.MayBeDue(now_ms, tombstone_grace)) return stats;
  stats.scanned = true;
  // Raised before the scan's snapshot is taken and lowered again for every
  // record kept: a write the snapshot misses lowers the bounds itself, after
  // this. If the purge stops early, records it did not reach are unaccounted
  // for, so the next one must scan.
  purge_bounds_.Raise();
  absl::Cleanup mark_due = [this] { purge_bounds_.MarkDue(); };
  // picked[i]: keys in stripe i the scan found something to do for.
  std::array<std::vector<std::string>, kLockStripes> picked;
  size_t num_picked = 0;
  auto flush = [&]() -> absl::Status {
    for (size_t i = 0; i < kLockStripes; ++i) {
      if (picked[i].empty()) continue;
      RETURN_IF_ERROR(PurgeStripe(i, picked[i], now_ms, tombstone_grace, &stats));
      picked[i].clear();
    }
    num_picked = 0;
    return absl::OkStatus();
  };

  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;  // a full scan would evict the hot blocks
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, data_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = AsView(it->key());
    absl::StatusOr<RecordView> rec = DecodeRecordView(AsView(it->value()));
    if (!rec.ok()) {
      spdlog::error("purge is keeping {}: {}", Describe(key), rec.status().ToString());
      continue;
    }
    if (ActionFor(*rec, now_ms, tombstone_grace) == PurgeAction::kKeep) {
      purge_bounds_.Note(rec->tombstone, rec->timestamp, rec->expires_at_ms);
      stats.tombstones_kept += rec->tombstone;
      continue;
    }
    picked[StripeIndex(key)].emplace_back(key);
    if (++num_picked == kPurgeBatchKeys) RETURN_IF_ERROR(flush());
  }
  RETURN_IF_ERROR(FromRocksDb(it->status(), absl::StrCat("scanning records in ", dir_)));
  RETURN_IF_ERROR(flush());
  std::move(mark_due).Cancel();
  return stats;
}

absl::Status RocksDbEngine::PurgeStripe(size_t stripe, const std::vector<std::string>& keys,
                                        int64_t now_ms, absl::Duration tombstone_grace,
                                        PurgeStats* stats) {
  absl::MutexLock lock(&stripes_[stripe].mu);
  rocksdb::WriteBatch batch;
  PurgeStats batched;
  // What the batch erases, for the digest tree once it is written.
  std::vector<std::pair<std::string_view, Version>> erased;
  for (const std::string& key : keys) {
    // Judged again as stored now: an Apply may have replaced the record since
    // the scan.
    rocksdb::PinnableSlice existing;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), data_cf_, AsSlice(key), &existing);
    if (s.IsNotFound()) continue;
    RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading ", Describe(key), " to purge it")));
    absl::StatusOr<RecordView> rec = DecodeRecordView(AsView(existing));
    if (!rec.ok()) continue;  // logged by the scan
    switch (ActionFor(*rec, now_ms, tombstone_grace)) {
      case PurgeAction::kKeep:
        purge_bounds_.Note(rec->tombstone, rec->timestamp, rec->expires_at_ms);
        batched.tombstones_kept += rec->tombstone;
        break;
      case PurgeAction::kTombstone: {
        // Same version, so the digest tree does not change. Noted before the
        // write: a bound may be low, never high (if the write fails, Purge
        // fails and the next one scans).
        purge_bounds_.Note(/*tombstone=*/true, rec->timestamp, rec->expires_at_ms);
        const std::string tombstone = EncodeExpiredTombstone(*rec);
        RETURN_IF_ERROR(FromRocksDb(batch.Put(data_cf_, AsSlice(key), tombstone),
                                    absl::StrCat("batching a tombstone for ", Describe(key))));
        batched.bytes_freed += existing.size() - tombstone.size();
        ++batched.expired;
        ++batched.tombstones_kept;
        break;
      }
      case PurgeAction::kErase:
        RETURN_IF_ERROR(FromRocksDb(batch.Delete(data_cf_, AsSlice(key)),
                                    absl::StrCat("batching the erasure of ", Describe(key))));
        erased.emplace_back(key, VersionOf(*rec));
        batched.bytes_freed += key.size() + existing.size();
        ++batched.tombstones_dropped;
        break;
    }
  }
  if (batch.Count() != 0) {
    RETURN_IF_ERROR(GuardedWrite(absl::StrCat("writing purged records in ", dir_),
                                 [&] { return db_->Write(SyncedPerPolicy(), &batch); }));
  }
  for (const auto& [key, version] : erased) tree_.Replace(key, &version, nullptr);
  stats->expired += batched.expired;
  stats->tombstones_dropped += batched.tombstones_dropped;
  stats->bytes_freed += batched.bytes_freed;
  stats->tombstones_kept += batched.tombstones_kept;
  return absl::OkStatus();
}

}  // namespace kv::storage
