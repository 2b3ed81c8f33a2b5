#include "src/storage/rocksdb_status.h"

#include <rocksdb/status.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kv::storage {
namespace {

using ::testing::HasSubstr;

TEST(RocksDbStatusTest, OkStaysOk) {
  EXPECT_TRUE(FromRocksDb(rocksdb::Status::OK(), "anything").ok());
}

TEST(RocksDbStatusTest, MapsEachKindOfFailureToTheMatchingCode) {
  struct Case {
    rocksdb::Status in;
    absl::StatusCode want;
  };
  const std::vector<Case> cases = {
      {rocksdb::Status::NotFound("x"), absl::StatusCode::kNotFound},
      {rocksdb::Status::Corruption("x"), absl::StatusCode::kDataLoss},
      {rocksdb::Status::NotSupported("x"), absl::StatusCode::kUnimplemented},
      {rocksdb::Status::InvalidArgument("x"), absl::StatusCode::kInvalidArgument},
      {rocksdb::Status::IOError("x"), absl::StatusCode::kInternal},
      {rocksdb::Status::NoSpace("x"), absl::StatusCode::kResourceExhausted},
      {rocksdb::Status::SpaceLimit("x"), absl::StatusCode::kResourceExhausted},
      {rocksdb::Status::PathNotFound("x"), absl::StatusCode::kNotFound},
      {rocksdb::Status::Busy("x"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::TryAgain("x"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::Incomplete("x"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::ShutdownInProgress("x"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::TimedOut("x"), absl::StatusCode::kDeadlineExceeded},
      {rocksdb::Status::Aborted("x"), absl::StatusCode::kAborted},
      {rocksdb::Status::MergeInProgress("x"), absl::StatusCode::kInternal},
      {rocksdb::Status::ColumnFamilyDropped("x"), absl::StatusCode::kFailedPrecondition},
  };
  for (const Case& c : cases) {
    absl::Status got = FromRocksDb(c.in, "ctx");
    EXPECT_EQ(got.code(), c.want) << c.in.ToString();
  }
}

TEST(RocksDbStatusTest, MessageNamesTheContextAndRocksDbsText) {
  absl::Status got =
      FromRocksDb(rocksdb::Status::NoSpace("While appending to file: 000007.log"), "writing k");
  EXPECT_EQ(got.code(), absl::StatusCode::kResourceExhausted);
  const std::string message(got.message());
  EXPECT_THAT(message, HasSubstr("writing k: "));
  EXPECT_THAT(message, HasSubstr("No space left on device"));
  EXPECT_THAT(message, HasSubstr("000007.log"));
}

}  // namespace
}  // namespace kv::storage
