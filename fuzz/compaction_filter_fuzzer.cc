// The RocksDB compaction filter (src/storage/compaction_filter.h): decodes
// every stored value RocksDB compacts, at any time and with any tombstone
// grace. Input: now (8 bytes), grace in ms (8 bytes), then the stored value.
// Checks the purge rule of src/storage/record.h: undecodable values are
// kept, only live expired records become tombstones (with their version and
// expiry), only tombstones are erased, and Filter agrees with Decide.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "fuzz/fuzz_check.h"
#include "rocksdb/slice.h"
#include "src/storage/compaction_filter.h"
#include "src/storage/record_codec.h"
#include "src/util/clock.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using kv::storage::PurgeAction;
  FuzzedDataProvider in(data, size);
  const int64_t now_ms = in.ConsumeIntegral<int64_t>();
  // REQUIRES of the filter: a grace of zero or more.
  const int64_t grace_ms = in.ConsumeIntegralInRange<int64_t>(0, INT64_MAX);
  const std::string value = in.ConsumeRemainingBytesAsString();

  kv::util::ManualClock clock(absl::FromUnixMillis(now_ms));
  const kv::storage::ExpiryCompactionFilter filter(&clock, absl::Milliseconds(grace_ms));
  std::string new_value = "untouched";
  const PurgeAction action = filter.Decide(rocksdb::Slice(value), now_ms, &new_value);

  absl::StatusOr<kv::storage::Record> rec = kv::storage::DecodeRecord(value);
  if (!rec.ok()) {
    FUZZ_CHECK(action == PurgeAction::kKeep);
  } else {
    FUZZ_CHECK(action == kv::storage::PurgeActionFor(rec->tombstone, rec->version.timestamp,
                                                     rec->expires_at_ms, now_ms,
                                                     absl::Milliseconds(grace_ms)));
    if (action == PurgeAction::kTombstone) {
      FUZZ_CHECK(!rec->tombstone && rec->expires_at_ms != 0 && now_ms >= rec->expires_at_ms);
      absl::StatusOr<kv::storage::Record> tomb = kv::storage::DecodeRecord(new_value);
      FUZZ_CHECK(tomb.ok() && tomb->tombstone && tomb->value.empty());
      FUZZ_CHECK(tomb->version == rec->version && tomb->expires_at_ms == rec->expires_at_ms);
    }
    if (action == PurgeAction::kErase) FUZZ_CHECK(rec->tombstone);
  }
  if (action != PurgeAction::kTombstone) FUZZ_CHECK(new_value == "untouched");

  // Filter reads the same time from the clock, unless it is out of the
  // clock's range (ManualClock keeps nanoseconds in an int64).
  if (clock.NowMillis() == now_ms) {
    std::string filtered;
    bool changed = false;
    const bool drop =
        filter.Filter(0, rocksdb::Slice("key"), rocksdb::Slice(value), &filtered, &changed);
    FUZZ_CHECK(drop == (action == PurgeAction::kErase));
    FUZZ_CHECK(changed == (action == PurgeAction::kTombstone));
    if (changed) FUZZ_CHECK(filtered == new_value);
  }
  return 0;
}
