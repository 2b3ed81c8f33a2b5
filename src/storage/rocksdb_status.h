// The one adapter from rocksdb::Status to absl::Status. Nothing else in the
// tree converts RocksDB errors.
#pragma once

#include <rocksdb/status.h>

#include <string_view>

#include "absl/status/status.h"

namespace kv::storage {

// Converts `s` to an absl::Status. OK stays OK. Otherwise the message is
// "<context>: <RocksDB's own text>" so that it says what was being done and
// what went wrong, e.g. "writing key \"k\" to /data: IO error: No space left
// on device". Codes:
//   NotFound                          -> NOT_FOUND
//   Corruption                        -> DATA_LOSS
//   NotSupported                      -> UNIMPLEMENTED
//   InvalidArgument                   -> INVALID_ARGUMENT
//   IOError: no space / space limit   -> RESOURCE_EXHAUSTED
//   IOError: path not found           -> NOT_FOUND
//   IOError (other)                   -> INTERNAL
//   Busy, TryAgain, Incomplete,
//   ShutdownInProgress                -> UNAVAILABLE
//   TimedOut, Expired                 -> DEADLINE_EXCEEDED
//   Aborted                           -> ABORTED
//   CompactionTooLarge                -> RESOURCE_EXHAUSTED
//   ColumnFamilyDropped               -> FAILED_PRECONDITION
//   anything else                     -> INTERNAL
// Thread-safe (a pure function).
[[nodiscard]] absl::Status FromRocksDb(const rocksdb::Status& s, std::string_view context);

}  // namespace kv::storage
