#include "src/storage/record.h"

#include <algorithm>
#include <ostream>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"

namespace kv::storage {

bool Record::ExpiredAt(int64_t now_ms) const {
  return expires_at_ms != 0 && now_ms >= expires_at_ms;
}

bool Record::LiveAt(int64_t now_ms) const { return !tombstone && !ExpiredAt(now_ms); }

PurgeAction PurgeActionFor(bool tombstone, uint64_t timestamp, int64_t expires_at_ms,
                           int64_t now_ms, absl::Duration tombstone_grace) {
  if (!tombstone) {
    const bool expired = expires_at_ms != 0 && now_ms >= expires_at_ms;
    return expired ? PurgeAction::kTombstone : PurgeAction::kKeep;
  }
  // The HLC layout ((physical ms << 16) | logical), spelled out as in
  // operator<< below so that storage does not depend on replication.
  const int64_t death_ms =
      expires_at_ms != 0 ? expires_at_ms : static_cast<int64_t>(timestamp >> 16);
  // absl::Time saturates at infinity instead of overflowing.
  const bool past_grace =
      absl::FromUnixMillis(death_ms) + tombstone_grace <= absl::FromUnixMillis(now_ms);
  return past_grace ? PurgeAction::kErase : PurgeAction::kKeep;
}

Record ExpiredTombstone(const Record& rec) {
  return Record{.version = rec.version, .tombstone = true, .expires_at_ms = rec.expires_at_ms};
}

std::ostream& operator<<(std::ostream& os, const Version& v) {
  // The HLC layout ((physical ms << 16) | logical), spelled out here so that
  // storage does not depend on replication.
  return os << (v.timestamp >> 16) << "." << (v.timestamp & 0xffff) << "@"
            << (v.node_id.empty() ? "-" : v.node_id);
}

std::ostream& operator<<(std::ostream& os, const Record& rec) {
  constexpr size_t kMaxShownValueBytes = 64;
  os << "{version=" << rec.version;
  if (rec.tombstone) os << " tombstone";
  if (rec.expires_at_ms != 0) os << " expires_at_ms=" << rec.expires_at_ms;
  const absl::string_view shown(rec.value.data(), std::min(rec.value.size(), kMaxShownValueBytes));
  os << " value=\"" << absl::CHexEscape(shown) << "\"";
  if (rec.value.size() > kMaxShownValueBytes) os << "...(" << rec.value.size() << " bytes)";
  return os << "}";
}

}  // namespace kv::storage
