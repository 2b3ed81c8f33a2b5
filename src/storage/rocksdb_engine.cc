#include "src/storage/rocksdb_engine.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/status.h>
#include <rocksdb/utilities/checkpoint.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"
#include "src/storage/compaction_filter.h"
#include "src/storage/record_codec.h"
#include "src/storage/rocksdb_status.h"
#include "src/util/status_macros.h"

namespace kv::storage {
namespace {

// RocksDB's info LOG files kept in the data directory (its default is 1000).
constexpr size_t kKeepInfoLogFiles = 5;

// Keys longer than this are cut in error messages.
constexpr size_t kMaxKeyBytesInMessages = 64;

// Debian 12's abseil has its own absl::string_view, distinct from
// std::string_view; convert explicitly.
absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

rocksdb::Slice AsSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

std::string_view AsView(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

// True if the stored version is >= `v`, compared as Version's operator<=>
// (timestamp, then node ID bytes) without copying the stored node ID.
bool StoredIsAtLeast(const RecordView& stored, const Version& v) {
  if (stored.timestamp != v.timestamp) return stored.timestamp > v.timestamp;
  return stored.node_id >= std::string_view(v.node_id);
}

}  // namespace

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

  auto filter = std::make_unique<ExpiryCompactionFilter>(options.clock, options.tombstone_grace);

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.env = options.env;
  db_options.keep_log_file_num = kKeepInfoLogFiles;

  rocksdb::ColumnFamilyOptions data_options;
  data_options.compaction_filter = filter.get();
  rocksdb::ColumnFamilyOptions meta_options;

  const std::vector<rocksdb::ColumnFamilyDescriptor> families = {{kDataColumnFamily, data_options},
                                                                 {kMetaColumnFamily, meta_options}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir, families, &handles, &raw_db);
  RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("opening RocksDB in ", dir)));

  auto engine = std::unique_ptr<RocksDbEngine>(new RocksDbEngine(dir, options, std::move(filter)));
  engine->db_.reset(raw_db);
  engine->data_cf_ = handles[0];
  engine->meta_cf_ = handles[1];
  return engine;
}

RocksDbEngine::RocksDbEngine(std::string dir, Options options,
                             std::unique_ptr<ExpiryCompactionFilter> compaction_filter)
    : dir_(std::move(dir)), options_(options), compaction_filter_(std::move(compaction_filter)) {}

RocksDbEngine::~RocksDbEngine() {
  if (db_ == nullptr) return;
  for (rocksdb::ColumnFamilyHandle* cf : {data_cf_, meta_cf_}) {
    if (cf == nullptr) continue;
    absl::Status s = FromRocksDb(db_->DestroyColumnFamilyHandle(cf),
                                 absl::StrCat("releasing a column family of ", dir_));
    if (!s.ok()) spdlog::error("{}", s.ToString());
  }
  absl::Status s = FromRocksDb(db_->Close(), absl::StrCat("closing RocksDB in ", dir_));
  if (!s.ok()) spdlog::error("{}", s.ToString());
  db_.reset();
}

absl::Mutex& RocksDbEngine::StripeFor(std::string_view key) {
  const uint64_t hash = absl::Hash<absl::string_view>{}(AsAbsl(key));
  return stripes_[hash % kLockStripes].mu;
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
  if (s.ok()) {
    absl::StatusOr<RecordView> stored = DecodeRecordView(AsView(existing));
    if (!stored.ok()) {
      return absl::DataLossError(
          absl::StrCat("not overwriting ", Describe(key),
                       ": the stored record does not decode: ", stored.status().message()));
    }
    if (StoredIsAtLeast(*stored, rec.version)) return false;
  } else if (!s.IsNotFound()) {
    return FromRocksDb(s, absl::StrCat("reading ", Describe(key), " before writing it"));
  }

  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync == SyncPolicy::kAlways;
  s = db_->Put(write_options, data_cf_, AsSlice(key), EncodeRecord(rec));
  RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("writing ", Describe(key))));
  return true;
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

void RocksDbEngine::TEST_Erase(std::string_view key) {
  absl::MutexLock lock(&StripeFor(key));
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync == SyncPolicy::kAlways;
  absl::Status s = FromRocksDb(db_->Delete(write_options, data_cf_, AsSlice(key)),
                               absl::StrCat("erasing ", Describe(key)));
  if (!s.ok()) spdlog::error("{}", s.ToString());
}

absl::Status RocksDbEngine::PutMeta(std::string_view key, std::string_view value) {
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  return FromRocksDb(db_->Put(write_options, meta_cf_, AsSlice(key), AsSlice(value)),
                     absl::StrCat("writing meta ", Describe(key)));
}

absl::StatusOr<std::optional<std::string>> RocksDbEngine::GetMeta(std::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_cf_, AsSlice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading meta ", Describe(key))));
  return std::optional<std::string>(std::move(value));
}

absl::Status RocksDbEngine::Checkpoint(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) || ec) {
    return absl::FailedPreconditionError(
        ec ? absl::StrCat("cannot check checkpoint directory ", dir, ": ", ec.message())
           : absl::StrCat("checkpoint directory ", dir,
                          " already exists; give a path that does not exist yet"));
  }
  rocksdb::Checkpoint* raw = nullptr;
  RETURN_IF_ERROR(FromRocksDb(rocksdb::Checkpoint::Create(db_.get(), &raw),
                              absl::StrCat("preparing a checkpoint of ", dir_)));
  const std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  return FromRocksDb(checkpoint->CreateCheckpoint(dir),
                     absl::StrCat("writing a checkpoint of ", dir_, " to ", dir));
}

absl::Status RocksDbEngine::CompactAll() {
  rocksdb::CompactRangeOptions compact_options;
  compact_options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  return FromRocksDb(db_->CompactRange(compact_options, data_cf_, nullptr, nullptr),
                     absl::StrCat("compacting records in ", dir_));
}

}  // namespace kv::storage
