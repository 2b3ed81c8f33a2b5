#include "src/storage/rocksdb_engine.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/iterator.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/status.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"
#include "src/storage/compaction_filter.h"
#include "src/storage/record_codec.h"
#include "src/storage/rocksdb_internal.h"
#include "src/storage/rocksdb_status.h"
#include "src/util/status_macros.h"

namespace kv::storage {
namespace {

// RocksDB's info LOG files kept in the data directory (its default is 1000).
constexpr size_t kKeepInfoLogFiles = 5;

// Keys longer than this are cut in error messages.
constexpr size_t kMaxKeyBytesInMessages = 64;

// Bytes of a hint key: the sequence number, big-endian.
constexpr size_t kHintKeyBytes = 8;

// Stops RocksDB from recovering by itself from a failed write-ahead-log
// write, so that RocksDbEngine::TryRecover does it only when it is safe.
//
// Why: a failed WAL append leaves RocksDB's WAL writer with seen_error_ set,
// and RocksDB 7.8's recovery (SstFileManager's auto-resume, or DB::Resume)
// only moves to a new WAL if some memtable holds data (its flush switches
// memtables). If every memtable is empty, recovery clears the error but
// keeps the errored writer, and the next write aborts the process in
// WritableFileWriter::Append ("Assertion `sync_without_flush_called_'
// failed"; Debian builds RocksDB with assertions). Upstream: RocksDB issues
// #11643 and #12998, fixed by PR #12873 (9.5); see also #12448 and #10555.
class NoAutoRecoveryFromWalErrors final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason reason, rocksdb::Status /*bg_error*/,
                            bool* auto_recovery) override {
    if (reason == rocksdb::BackgroundErrorReason::kWriteCallback ||
        reason == rocksdb::BackgroundErrorReason::kMemTable) {
      *auto_recovery = false;
    }
  }
};

std::string HintKey(uint64_t seq) {
  std::string key(kHintKeyBytes, '\0');
  for (size_t i = 0; i < kHintKeyBytes; ++i) {
    key[i] = static_cast<char>(seq >> (8 * (kHintKeyBytes - 1 - i)));
  }
  return key;
}

uint64_t HintSeq(std::string_view key) {
  uint64_t seq = 0;
  for (char c : key) seq = (seq << 8) | static_cast<uint8_t>(c);
  return seq;
}

}  // namespace

using namespace rocksdb_internal;  // NOLINT: this file's own helpers

absl::StatusOr<std::unique_ptr<RocksDbEngine>> RocksDbEngine::Open(const std::string& dir,
                                                                   Options options) {
  if (options.tombstone_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("tombstone grace is ",
                                                   absl::FormatDuration(options.tombstone_grace),
                                                   "; it must be zero or positive"));
  }
  if (options.clock == nullptr) options.clock = util::SystemClock::Default();
  if (options.env == nullptr) options.env = rocksdb::Env::Default();

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create data directory ", dir, ": ", ec.message()));
  }

  // A longer grace than Purge's: Purge erases tombstones first, through the
  // engine and its digest tree; the filter is a backstop.
  auto filter = std::make_unique<ExpiryCompactionFilter>(
      options.clock, options.tombstone_grace + kCompactionBackstop);

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.env = options.env;
  db_options.keep_log_file_num = kKeepInfoLogFiles;
  // A WAL error must stop RocksDB's writes (paranoid_checks, the default) and
  // only RocksDbEngine may resume them (see NoAutoRecoveryFromWalErrors).
  db_options.paranoid_checks = true;
  db_options.listeners.push_back(std::make_shared<NoAutoRecoveryFromWalErrors>());

  rocksdb::ColumnFamilyOptions data_options;
  data_options.compaction_filter = filter.get();
  rocksdb::ColumnFamilyOptions meta_options;
  rocksdb::ColumnFamilyOptions hints_options;

  // create_missing_column_families adds "hints" to directories written
  // before it existed.
  const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {kDataColumnFamily, data_options},
      {kMetaColumnFamily, meta_options},
      {kHintsColumnFamily, hints_options}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir, families, &handles, &raw_db);
  RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("opening RocksDB in ", dir)));

  auto engine = std::unique_ptr<RocksDbEngine>(new RocksDbEngine(dir, options, std::move(filter)));
  engine->db_.reset(raw_db);
  engine->data_cf_ = handles[0];
  engine->meta_cf_ = handles[1];
  engine->hints_cf_ = handles[2];
  RETURN_IF_ERROR(engine->LoadRecords());
  return engine;
}

absl::Status RocksDbEngine::LoadRecords() {
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;  // a full scan would evict the hot blocks
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, data_cf_));
  Version version;  // reused, so that its buffer is too
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = AsView(it->key());
    absl::StatusOr<RecordView> rec = DecodeRecordView(AsView(it->value()));
    if (!rec.ok()) {
      spdlog::error("leaving {} out of the digest tree: {}", Describe(key),
                    rec.status().ToString());
      continue;
    }
    version.timestamp = rec->timestamp;
    version.node_id.assign(rec->node_id);
    tree_.Replace(key, nullptr, &version);
    purge_bounds_.Note(rec->tombstone, rec->timestamp, rec->expires_at_ms);
  }
  return FromRocksDb(it->status(),
                     absl::StrCat("reading the records in ", dir_, " to build their digest tree"));
}

RocksDbEngine::RocksDbEngine(std::string dir, Options options,
                             std::unique_ptr<ExpiryCompactionFilter> compaction_filter)
    : dir_(std::move(dir)), options_(options), compaction_filter_(std::move(compaction_filter)) {}

RocksDbEngine::~RocksDbEngine() {
  if (db_ == nullptr) return;
  for (rocksdb::ColumnFamilyHandle* cf : {data_cf_, meta_cf_, hints_cf_}) {
    if (cf == nullptr) continue;
    absl::Status s = FromRocksDb(db_->DestroyColumnFamilyHandle(cf),
                                 absl::StrCat("releasing a column family of ", dir_));
    if (!s.ok()) spdlog::error("{}", s.ToString());
  }
  absl::Status s = FromRocksDb(db_->Close(), absl::StrCat("closing RocksDB in ", dir_));
  if (!s.ok()) spdlog::error("{}", s.ToString());
  db_.reset();
}

size_t RocksDbEngine::StripeIndex(std::string_view key) const {
  const uint64_t hash = absl::Hash<absl::string_view>{}(AsAbsl(key));
  return hash % kLockStripes;
}

rocksdb::WriteOptions RocksDbEngine::SyncedPerPolicy() const {
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync == SyncPolicy::kAlways;
  return write_options;
}

std::string RocksDbEngine::Describe(std::string_view key) const {
  const std::string_view shown = key.substr(0, kMaxKeyBytesInMessages);
  return absl::StrCat("key \"", absl::CHexEscape(AsAbsl(shown)),
                      key.size() > shown.size() ? "...\"" : "\"", " in ", dir_);
}

absl::StatusOr<bool> RocksDbEngine::Apply(std::string_view key, const Record& rec) {
  absl::MutexLock lock(&StripeFor(key));

  rocksdb::PinnableSlice existing;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), data_cf_, AsSlice(key), &existing);
  std::optional<Version> before;
  if (s.ok()) {
    absl::StatusOr<RecordView> stored = DecodeRecordView(AsView(existing));
    if (!stored.ok()) {
      return absl::DataLossError(
          absl::StrCat("not overwriting ", Describe(key),
                       ": the stored record does not decode: ", stored.status().message()));
    }
    if (StoredIsAtLeast(*stored, rec.version)) return false;
    before = VersionOf(*stored);
  } else if (!s.IsNotFound()) {
    return FromRocksDb(s, absl::StrCat("reading ", Describe(key), " before writing it"));
  }

  const std::string encoded = EncodeRecord(rec);
  RETURN_IF_ERROR(GuardedWrite(absl::StrCat("writing ", Describe(key)), [&] {
    return db_->Put(SyncedPerPolicy(), data_cf_, AsSlice(key), encoded);
  }));
  tree_.Replace(key, before ? &*before : nullptr, &rec.version);
  purge_bounds_.Note(rec.tombstone, rec.version.timestamp, rec.expires_at_ms);
  return true;
}

std::vector<absl::StatusOr<bool>> RocksDbEngine::ApplyGroup(std::span<const KeyedRecord> writes) {
  std::vector<absl::StatusOr<bool>> results(writes.size(), false);
  std::vector<size_t> stripes;
  stripes.reserve(writes.size());
  for (const KeyedRecord& w : writes) stripes.push_back(StripeIndex(w.key));
  std::sort(stripes.begin(), stripes.end());
  stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
  // In index order: the other writers hold one stripe at a time, so no cycle.
  for (size_t i : stripes) stripes_[i].mu.Lock();
  absl::Cleanup unlock = [&] {
    for (auto i = stripes.rbegin(); i != stripes.rend(); ++i) stripes_[*i].mu.Unlock();
  };

  rocksdb::WriteBatch batch;
  // A key the batch writes: the write of this group now holding it, and the
  // version stored before the group (nullopt: none).
  struct Batched {
    size_t newest;
    std::optional<Version> before;
  };
  absl::flat_hash_map<std::string_view, Batched> batched;
  // The writes that depend on the batch (in it, or kept out by one in it).
  std::vector<size_t> on_batch;
  for (size_t i = 0; i < writes.size(); ++i) {
    const KeyedRecord& w = writes[i];
    std::optional<Version> before;
    if (auto it = batched.find(w.key); it != batched.end()) {
      on_batch.push_back(i);
      if (writes[it->second.newest].rec.version >= w.rec.version) continue;  // false
      it->second.newest = i;
    } else {
      rocksdb::PinnableSlice existing;
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), data_cf_, AsSlice(w.key), &existing);
      if (s.ok()) {
        absl::StatusOr<RecordView> stored = DecodeRecordView(AsView(existing));
        if (!stored.ok()) {
          results[i] = absl::DataLossError(
              absl::StrCat("not overwriting ", Describe(w.key),
                           ": the stored record does not decode: ", stored.status().message()));
          continue;
        }
        if (StoredIsAtLeast(*stored, w.rec.version)) continue;  // false
        before = VersionOf(*stored);
      } else if (!s.IsNotFound()) {
        results[i] =
            FromRocksDb(s, absl::StrCat("reading ", Describe(w.key), " before writing it"));
        continue;
      }
      on_batch.push_back(i);
      batched.emplace(w.key, Batched{.newest = i, .before = std::move(before)});
    }
    batch.Put(data_cf_, AsSlice(w.key), EncodeRecord(w.rec));
    results[i] = true;
  }
  if (batch.Count() == 0) return results;
  absl::Status s =
      GuardedWrite(absl::StrCat("writing a group of ", batch.Count(), " records in ", dir_),
                   [&] { return db_->Write(SyncedPerPolicy(), &batch); });
  if (!s.ok()) {
    for (size_t i : on_batch) results[i] = s;
    return results;
  }
  // One change per key, from what was stored to the group's newest write.
  for (const auto& [key, b] : batched) {
    const Record& rec = writes[b.newest].rec;
    tree_.Replace(key, b.before ? &*b.before : nullptr, &rec.version);
    purge_bounds_.Note(rec.tombstone, rec.version.timestamp, rec.expires_at_ms);
  }
  return results;
}

std::vector<std::pair<std::string, uint64_t>> RocksDbEngine::Properties() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& [name, property] :
       {std::pair<const char*, const char*>{"rocksdb_live_data_bytes",
                                            "rocksdb.estimate-live-data-size"},
        {"rocksdb_memtable_bytes", "rocksdb.cur-size-all-mem-tables"},
        {"rocksdb_pending_compaction_bytes", "rocksdb.estimate-pending-compaction-bytes"},
        {"rocksdb_write_stopped", "rocksdb.is-write-stopped"}}) {
    uint64_t value = 0;
    if (db_->GetIntProperty(data_cf_, property, &value)) out.emplace_back(name, value);
  }
  std::map<std::string, std::string> cf_stats;
  if (db_->GetMapProperty(data_cf_, rocksdb::DB::Properties::kCFStats, &cf_stats)) {
    uint64_t stalls = 0;
    for (const char* key : {"io_stalls.total_stop", "io_stalls.total_slowdown"}) {
      auto it = cf_stats.find(key);
      if (it != cf_stats.end()) stalls += std::strtoull(it->second.c_str(), nullptr, 10);
    }
    out.emplace_back("rocksdb_write_stalls", stalls);
  }
  return out;
}

absl::StatusOr<std::optional<Record>> RocksDbEngine::Read(std::string_view key) const {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), data_cf_, AsSlice(key), &value);
  if (s.IsNotFound()) return std::optional<Record>();
  RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading ", Describe(key))));
  absl::StatusOr<Record> rec = DecodeRecord(AsView(value));
  if (!rec.ok()) {
    return absl::DataLossError(
        absl::StrCat("reading ", Describe(key), ": ", rec.status().message()));
  }
  return std::optional<Record>(*std::move(rec));
}

void RocksDbEngine::ForEach(
    const std::function<void(std::string_view key, const Record& rec)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), data_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = AsView(it->key());
    absl::StatusOr<Record> rec = DecodeRecord(AsView(it->value()));
    if (!rec.ok()) {
      spdlog::error("skipping {}: {}", Describe(key), rec.status().ToString());
      continue;
    }
    fn(key, *rec);
  }
  absl::Status s = FromRocksDb(it->status(), absl::StrCat("iterating records in ", dir_));
  if (!s.ok()) spdlog::error("{}", s.ToString());
}

size_t RocksDbEngine::Size() const {
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;  // a full scan would evict the hot blocks
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, data_cf_));
  size_t count = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++count;
  absl::Status s = FromRocksDb(it->status(), absl::StrCat("counting records in ", dir_));
  if (!s.ok()) spdlog::error("{}", s.ToString());
  return count;
}

absl::StatusOr<bool> RocksDbEngine::EraseIf(std::string_view key, const Version& version) {
  absl::MutexLock lock(&StripeFor(key));
  rocksdb::PinnableSlice existing;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), data_cf_, AsSlice(key), &existing);
  if (s.IsNotFound()) return false;
  RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading ", Describe(key), " before erasing it")));
  absl::StatusOr<RecordView> stored = DecodeRecordView(AsView(existing));
  if (!stored.ok()) {
    return absl::DataLossError(
        absl::StrCat("not erasing ", Describe(key),
                     ": the stored record does not decode: ", stored.status().message()));
  }
  if (!SameVersion(*stored, version)) return false;
  RETURN_IF_ERROR(GuardedWrite(absl::StrCat("erasing ", Describe(key)), [&] {
    return db_->Delete(SyncedPerPolicy(), data_cf_, AsSlice(key));
  }));
  tree_.Replace(key, &version, nullptr);
  return true;
}

void RocksDbEngine::TEST_Erase(std::string_view key) {
  absl::MutexLock lock(&StripeFor(key));
  // The stored version, for the digest tree (which holds no record that
  // does not decode).
  rocksdb::PinnableSlice existing;
  rocksdb::Status read = db_->Get(rocksdb::ReadOptions(), data_cf_, AsSlice(key), &existing);
  if (read.IsNotFound()) return;
  std::optional<Version> before;
  if (read.ok()) {
    if (absl::StatusOr<RecordView> stored = DecodeRecordView(AsView(existing)); stored.ok()) {
      before = VersionOf(*stored);
    }
  } else {
    spdlog::error("{}", FromRocksDb(read, absl::StrCat("reading ", Describe(key))).ToString());
  }
  absl::Status s = GuardedWrite(absl::StrCat("erasing ", Describe(key)), [&] {
    return db_->Delete(SyncedPerPolicy(), data_cf_, AsSlice(key));
  });
  if (!s.ok()) {
    spdlog::error("{}", s.ToString());
    return;
  }
  if (before) tree_.Replace(key, &*before, nullptr);
}

absl::Status RocksDbEngine::PutMeta(std::string_view key, std::string_view value) {
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  return GuardedWrite(absl::StrCat("writing meta ", Describe(key)), [&] {
    return db_->Put(write_options, meta_cf_, AsSlice(key), AsSlice(value));
  });
}

absl::StatusOr<std::optional<std::string>> RocksDbEngine::GetMeta(std::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_cf_, AsSlice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading meta ", Describe(key))));
  return std::optional<std::string>(std::move(value));
}

absl::Status RocksDbEngine::PutHint(uint64_t seq, std::string_view bytes) {
  return GuardedWrite(absl::StrCat("writing hint ", seq, " in ", dir_), [&] {
    return db_->Put(SyncedPerPolicy(), hints_cf_, HintKey(seq), AsSlice(bytes));
  });
}

absl::Status RocksDbEngine::DeleteHint(uint64_t seq) {
  return GuardedWrite(absl::StrCat("deleting hint ", seq, " in ", dir_),
                      [&] { return db_->Delete(SyncedPerPolicy(), hints_cf_, HintKey(seq)); });
}

void RocksDbEngine::ForEachHint(
    const std::function<void(uint64_t seq, std::string_view bytes)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), hints_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = AsView(it->key());
    if (key.size() != kHintKeyBytes) {
      spdlog::error("skipping a hint key of {} bytes in {}; hint keys are {} bytes", key.size(),
                    dir_, kHintKeyBytes);
      continue;
    }
    fn(HintSeq(key), AsView(it->value()));
  }
  absl::Status s = FromRocksDb(it->status(), absl::StrCat("iterating hints in ", dir_));
  if (!s.ok()) spdlog::error("{}", s.ToString());
}

absl::Status RocksDbEngine::Checkpoint(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) || ec) {
    return absl::FailedPreconditionError(
        ec ? absl::StrCat("cannot check checkpoint directory ", dir, ": ", ec.message())
           : absl::StrCat("checkpoint directory ", dir,
                          " already exists; give a path that does not exist yet"));
  }
  // The flush is a write to this database (it switches the WAL): guarded, and
  // its failure is this database's. The checkpoint itself only links or
  // copies files into `dir`: its failure (a missing parent, a full or
  // read-only target) is the target's, and must not stop this node's writes.
  RETURN_IF_ERROR(GuardedWrite(absl::StrCat("flushing ", dir_, " for a checkpoint"), [&] {
    return db_->Flush(rocksdb::FlushOptions(), {data_cf_, meta_cf_, hints_cf_});
  }));
  rocksdb::Checkpoint* raw = nullptr;
  RETURN_IF_ERROR(FromRocksDb(rocksdb::Checkpoint::Create(db_.get(), &raw),
                              absl::StrCat("preparing a checkpoint of ", dir_)));
  const std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // No second flush (log_size_for_flush = max): writes that arrived since
  // the flush above are in the WAL files, which the checkpoint copies.
  return FromRocksDb(checkpoint->CreateCheckpoint(dir, std::numeric_limits<uint64_t>::max()),
                     absl::StrCat("writing a checkpoint of ", dir_, " to ", dir));
}

absl::Status RocksDbEngine::CompactAll() {
  rocksdb::CompactRangeOptions compact_options;
  compact_options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  // Guarded: CompactRange flushes the memtable first, which switches the WAL.
  return GuardedWrite(absl::StrCat("compacting records in ", dir_), [&] {
    return db_->CompactRange(compact_options, data_cf_, nullptr, nullptr);
  });
}

}  // namespace kv::storage
