// Stored hints (src/replication/hint_store.h): DecodeHint reads every value
// of the data dir's "hints" column family when a node starts. Checks that
// decoding stays in bounds and fails only with DATA_LOSS, that a decoded
// hint survives an encode/decode round trip, and that HintStore::Open over a
// log holding the input (twice, as two sequence numbers) keeps what decodes
// and erases what does not.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/quiet_logs.h"
#include "src/replication/hint_store.h"

namespace {

using kv::replication::DecodeHint;
using kv::replication::Hint;

bool Same(const Hint& a, const Hint& b) {
  return a.seq == b.seq && a.target == b.target && a.key == b.key &&
         a.record.value == b.record.value && a.record.version == b.record.version &&
         a.record.tombstone == b.record.tombstone &&
         a.record.expires_at_ms == b.record.expires_at_ms;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  kv::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<Hint> hint = DecodeHint(7, in);
  if (!hint.ok()) {
    FUZZ_CHECK(hint.status().code() == absl::StatusCode::kDataLoss);
  } else {
    FUZZ_CHECK(hint->seq == 7);
    const std::string encoded = kv::replication::EncodeHint(hint->target, hint->key, hint->record);
    absl::StatusOr<Hint> again = DecodeHint(7, encoded);
    FUZZ_CHECK(again.ok() && Same(*again, *hint));
  }

  // The same bytes under two sequence numbers, as a restarted node reads them.
  std::vector<uint64_t> erased;
  kv::replication::HintStore::Log log{
      .put = [](uint64_t, std::string_view) { return absl::OkStatus(); },
      .erase =
          [&](uint64_t seq) {
            erased.push_back(seq);
            return absl::OkStatus();
          },
      .for_each =
          [&](const std::function<void(uint64_t, std::string_view)>& fn) {
            fn(1, in);
            fn(2, in);
          }};
  absl::StatusOr<std::unique_ptr<kv::replication::HintStore>> store =
      kv::replication::HintStore::Open({.max_bytes = 1 << 20}, std::move(log));
  FUZZ_CHECK(store.ok());
  const kv::replication::HintStore::Stats stats = (*store)->stats();
  if (!hint.ok()) {
    FUZZ_CHECK(stats.hints == 0 && erased.size() == 2);
  } else {
    // One (target, key) holds one hint: the second replaces the first,
    // unless the hint is too large for the budget.
    FUZZ_CHECK(stats.hints <= 1);
    FUZZ_CHECK(stats.hints + erased.size() == 2);
  }
  return 0;
}
