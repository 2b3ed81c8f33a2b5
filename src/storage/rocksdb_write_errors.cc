// RocksDbEngine's handling of write errors: every write goes through
// GuardedWrite; after a failed one, later writes are refused until a
// recovery attempt succeeds ("Write errors" in rocksdb_engine.h).
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "src/storage/rocksdb_engine.h"
#include "src/storage/rocksdb_internal.h"
#include "src/storage/rocksdb_status.h"
#include "src/util/status_macros.h"

namespace kv::storage {

using namespace rocksdb_internal;  // NOLINT: this file's own helpers

absl::Status RocksDbEngine::GuardedWrite(std::string_view context,
                                         const std::function<rocksdb::Status()>& write) {
  RETURN_IF_ERROR(RecoverOrRefuse(context));
  absl::ReaderMutexLock gate(&write_gate_);
  {
    // Another writer may have failed since RecoverOrRefuse looked.
    absl::MutexLock lock(&error_mu_);
    if (!write_error_.ok()) return Refusal(context);
  }
  const rocksdb::Status s = write();
  absl::Status status = FromRocksDb(s, context);
  if (s.IsIOError()) {
    // RocksDB has stopped writes (paranoid_checks) and will not resume them
    // by itself (NoAutoRecoveryFromWalErrors), so the current WAL is the one
    // the error hit: nothing can switch it while this shared lock is held.
    const std::optional<uint64_t> wal = CurrentWalNumber();
    absl::MutexLock lock(&error_mu_);
    if (write_error_.ok()) {
      write_error_ = status;
      errored_wal_ = wal;
      recovery_note_.clear();
      last_recovery_attempt_ = absl::Now();
      spdlog::error("{}; refusing writes to {} until it recovers", status.ToString(), dir_);
    }
  }
  return status;
}

absl::Status RocksDbEngine::Refusal(std::string_view context) const {
  return absl::Status(
      write_error_.code(),
      absl::StrCat(AsAbsl(context), ": refused because an earlier write failed",
                   recovery_note_.empty() ? "" : absl::StrCat(" (", recovery_note_, ")"), ": ",
                   write_error_.message()));
}

absl::Status RocksDbEngine::RecoverOrRefuse(std::string_view context) {
  bool attempt = false;
  {
    absl::MutexLock lock(&error_mu_);
    if (write_error_.ok()) return absl::OkStatus();
    const absl::Time now = absl::Now();
    if (now - last_recovery_attempt_ >= kResumeInterval) {
      last_recovery_attempt_ = now;
      attempt = true;
    }
  }
  if (attempt) {
    absl::WriterMutexLock gate(&write_gate_);
    TryRecover();
  }
  absl::MutexLock lock(&error_mu_);
  if (write_error_.ok()) return absl::OkStatus();
  return Refusal(context);
}

void RocksDbEngine::TryRecover() {
  std::optional<uint64_t> errored_wal;
  {
    absl::MutexLock lock(&error_mu_);
    if (write_error_.ok()) return;
    errored_wal = errored_wal_;
  }
  // No write is in flight (write_gate_ is held) and RocksDB resumes nothing
  // by itself, so the WAL cannot change under us. Writes may resume only once
  // RocksDB writes to a WAL other than the errored one (its writer stays
  // poisoned).
  const std::optional<uint64_t> wal_before = CurrentWalNumber();
  const std::optional<uint64_t> poisoned = errored_wal ? errored_wal : wal_before;
  const bool still_on_poisoned_wal = !wal_before || !poisoned || *wal_before == *poisoned;
  std::string note;
  uint64_t free_bytes = 0;
  if (still_on_poisoned_wal && !AnyActiveMemtableHoldsData()) {
    // Resume would flush nothing, so RocksDB 7.8 would keep the errored WAL.
    note =
        "every memtable was empty when the write-ahead log failed, so RocksDB cannot move to a "
        "new one; restart kvstore once there is room";
  } else if (options_.env->GetFreeSpace(dir_, &free_bytes).ok() &&
             free_bytes < kMinFreeBytesToResume) {
    note = absl::StrCat("the disk has ", free_bytes, " bytes free; writes resume once it has ",
                        kMinFreeBytesToResume);
  } else if (rocksdb::Status r = db_->Resume(); !r.ok()) {
    note = absl::StrCat("resuming failed: ", r.ToString());
  } else if (const std::optional<uint64_t> wal_after = CurrentWalNumber();
             !wal_after || !poisoned || *wal_after == *poisoned) {
    note = "RocksDB did not move to a new write-ahead log; restart kvstore";
  }
  absl::MutexLock lock(&error_mu_);
  if (note.empty()) {
    spdlog::info("writes to {} resume after: {}", dir_, write_error_.ToString());
    write_error_ = absl::OkStatus();
    errored_wal_.reset();
    recovery_note_.clear();
  } else {
    recovery_note_ = std::move(note);
  }
}

std::optional<uint64_t> RocksDbEngine::CurrentWalNumber() const {
  std::unique_ptr<rocksdb::LogFile> wal;
  rocksdb::Status s = db_->GetCurrentWalFile(&wal);
  if (!s.ok() || wal == nullptr) {
    spdlog::error("cannot find the current write-ahead log of {}: {}", dir_, s.ToString());
    return std::nullopt;
  }
  return wal->LogNumber();
}

bool RocksDbEngine::AnyActiveMemtableHoldsData() const {
  for (rocksdb::ColumnFamilyHandle* cf : {data_cf_, meta_cf_, hints_cf_}) {
    uint64_t entries = 0;
    // Unknown counts as data: Resume is then tried, and checked afterwards.
    if (!db_->GetIntProperty(cf, "rocksdb.num-entries-active-mem-table", &entries) || entries > 0) {
      return true;
    }
  }
  return false;
}

}  // namespace kv::storage
