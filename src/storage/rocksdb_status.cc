#include "src/storage/rocksdb_status.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace kv::storage {
namespace {

absl::StatusCode CodeFor(const rocksdb::Status& s) {
  using C = rocksdb::Status::Code;
  using Sub = rocksdb::Status::SubCode;
  switch (s.code()) {
    case C::kOk:
      return absl::StatusCode::kOk;
    case C::kNotFound:
      return absl::StatusCode::kNotFound;
    case C::kCorruption:
      return absl::StatusCode::kDataLoss;
    case C::kNotSupported:
      return absl::StatusCode::kUnimplemented;
    case C::kInvalidArgument:
      return absl::StatusCode::kInvalidArgument;
    case C::kIOError:
      switch (s.subcode()) {
        case Sub::kNoSpace:
        case Sub::kSpaceLimit:
          return absl::StatusCode::kResourceExhausted;
        case Sub::kPathNotFound:
          return absl::StatusCode::kNotFound;
        default:
          return absl::StatusCode::kInternal;
      }
    case C::kBusy:
    case C::kTryAgain:
    case C::kIncomplete:
    case C::kShutdownInProgress:
      return absl::StatusCode::kUnavailable;
    case C::kTimedOut:
    case C::kExpired:
      return absl::StatusCode::kDeadlineExceeded;
    case C::kAborted:
      return absl::StatusCode::kAborted;
    case C::kCompactionTooLarge:
      return absl::StatusCode::kResourceExhausted;
    case C::kColumnFamilyDropped:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

absl::Status FromRocksDb(const rocksdb::Status& s, std::string_view context) {
  const absl::StatusCode code = CodeFor(s);
  if (code == absl::StatusCode::kOk) return absl::OkStatus();
  return absl::Status(
      code, absl::StrCat(absl::string_view(context.data(), context.size()), ": ", s.ToString()));
}

}  // namespace kv::storage
