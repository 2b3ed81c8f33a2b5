#include "src/storage/testing/fault_env.h"

#include <rocksdb/io_status.h>

#include <utility>

namespace kv::storage {
namespace {

class FaultInjectionWalFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultInjectionWalFile(std::unique_ptr<rocksdb::FSWritableFile> target, DiskFaults* faults)
      : FSWritableFileOwnerWrapper(std::move(target)), faults_(faults) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    if (faults_->fail_append) return NoSpace();
    return FSWritableFileOwnerWrapper::Append(data, options, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    if (faults_->fail_append) return NoSpace();
    return FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    if (faults_->fail_sync) return SyncFailed();
    return FSWritableFileOwnerWrapper::Sync(options, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (faults_->fail_sync) return SyncFailed();
    return FSWritableFileOwnerWrapper::Fsync(options, dbg);
  }

 private:
  rocksdb::IOStatus NoSpace() {
    ++faults_->appends_failed;
    return rocksdb::IOStatus::NoSpace("injected: disk full");
  }
  rocksdb::IOStatus SyncFailed() {
    ++faults_->syncs_failed;
    return rocksdb::IOStatus::IOError("injected: fsync failed");
  }

  DiskFaults* const faults_;
};

}  // namespace

FaultInjectionFileSystem::FaultInjectionFileSystem(DiskFaults* faults)
    : FileSystemWrapper(rocksdb::FileSystem::Default()), faults_(faults) {}

rocksdb::IOStatus FaultInjectionFileSystem::MaybeWrap(
    const std::string& fname, rocksdb::IOStatus s,
    std::unique_ptr<rocksdb::FSWritableFile>* result) const {
  if (s.ok() && fname.ends_with(".log")) {
    *result = std::make_unique<FaultInjectionWalFile>(std::move(*result), faults_);
  }
  return s;
}

rocksdb::IOStatus FaultInjectionFileSystem::NewWritableFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  return MaybeWrap(fname, target()->NewWritableFile(fname, options, result, dbg), result);
}

rocksdb::IOStatus FaultInjectionFileSystem::ReopenWritableFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  return MaybeWrap(fname, target()->ReopenWritableFile(fname, options, result, dbg), result);
}

rocksdb::IOStatus FaultInjectionFileSystem::ReuseWritableFile(
    const std::string& fname, const std::string& old_fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  return MaybeWrap(fname, target()->ReuseWritableFile(fname, old_fname, options, result, dbg),
                   result);
}

rocksdb::IOStatus FaultInjectionFileSystem::GetFreeSpace(const std::string& path,
                                                         const rocksdb::IOOptions& options,
                                                         uint64_t* diskfree,
                                                         rocksdb::IODebugContext* dbg) {
  if (faults_->fail_append) {
    *diskfree = 0;
    return rocksdb::IOStatus::OK();
  }
  return target()->GetFreeSpace(path, options, diskfree, dbg);
}

std::unique_ptr<rocksdb::Env> NewFaultInjectionEnv(DiskFaults* faults) {
  return rocksdb::NewCompositeEnv(std::make_shared<FaultInjectionFileSystem>(faults));
}

}  // namespace kv::storage
