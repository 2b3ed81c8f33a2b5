// A fault-injecting RocksDB file system for tests, in the manner of LevelDB's
// db/fault_injection_test.cc: the write-ahead log's appends and syncs fail on
// demand, so tests can show that a failed write is never acknowledged and
// never loses an acknowledged one.
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace kv::storage {

// The faults to inject, switchable at any time from any thread. Not owned by
// the file system; must outlive it (and every engine opened on it).
struct DiskFaults {
  // WAL appends fail as on a full disk: IOStatus::NoSpace, which RocksDB
  // reports as "IO error: No space left on device: injected: disk full".
  // GetFreeSpace then reports 0 bytes free, as a full disk would.
  std::atomic<bool> fail_append{false};
  // WAL Sync and Fsync fail: IOStatus::IOError, reported as
  // "IO error: injected: fsync failed".
  std::atomic<bool> fail_sync{false};

  // How many operations were failed so far, so a test can check that its
  // fault was actually hit.
  std::atomic<int> appends_failed{0};
  std::atomic<int> syncs_failed{0};
};

// Wraps FileSystem::Default(). Write-ahead-log files (names ending in
// ".log") misbehave as `faults` says; every other file, and every read, is
// passed through. Thread-safe as the default file system is.
class FaultInjectionFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultInjectionFileSystem(DiskFaults* faults);

  const char* Name() const override { return "FaultInjectionFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& fname,
                                       const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus GetFreeSpace(const std::string& path, const rocksdb::IOOptions& options,
                                 uint64_t* diskfree, rocksdb::IODebugContext* dbg) override;

 private:
  // Wraps `*result` if `fname` is a WAL file and `s` is OK; returns `s`.
  rocksdb::IOStatus MaybeWrap(const std::string& fname, rocksdb::IOStatus s,
                              std::unique_ptr<rocksdb::FSWritableFile>* result) const;

  DiskFaults* const faults_;
};

// An Env for RocksDbEngineOptions::env: the default Env's threads and clock
// with a FaultInjectionFileSystem. `faults` is not owned and must outlive the
// Env; the Env must outlive every engine opened with it.
std::unique_ptr<rocksdb::Env> NewFaultInjectionEnv(DiskFaults* faults);

}  // namespace kv::storage
