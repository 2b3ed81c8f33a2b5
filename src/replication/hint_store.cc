#include "src/replication/hint_store.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"
#include "src/storage/record_codec.h"
#include "src/util/status_macros.h"

namespace kv::replication {
namespace {

// The longest varint64: 10 bytes of 7 bits each.
constexpr size_t kMaxVarint64Bytes = 10;

// Keys longer than this are cut in messages.
constexpr size_t kMaxKeyBytesInMessages = 64;

// LEB128, as in record_codec.cc.
void PutVarint64(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Reads a varint64 at the front of `*in` and removes it from `*in`.
absl::StatusOr<uint64_t> GetVarint64(std::string_view* in) {
  uint64_t v = 0;
  for (size_t i = 0; i < kMaxVarint64Bytes && i < in->size(); ++i) {
    const uint8_t byte = static_cast<uint8_t>((*in)[i]);
    v |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      in->remove_prefix(i + 1);
      return v;
    }
  }
  return absl::DataLossError("hint corrupt: the key length is not a varint");
}

std::string Shown(std::string_view key) {
  const std::string_view shown = key.substr(0, kMaxKeyBytesInMessages);
  return absl::StrCat("\"", absl::CHexEscape(absl::string_view(shown.data(), shown.size())),
                      key.size() > shown.size() ? "...\"" : "\"");
}

}  // namespace

std::string EncodeHint(const dht::NodeId& target, std::string_view key,
                       const storage::Record& record) {
  std::string out(reinterpret_cast<const char*>(target.bytes().data()), dht::kIdBytes);
  PutVarint64(&out, key.size());
  out.append(key);
  out.append(storage::EncodeRecord(record));
  return out;
}

absl::StatusOr<Hint> DecodeHint(uint64_t seq, std::string_view bytes) {
  if (bytes.size() < dht::kIdBytes) {
    return absl::DataLossError(absl::StrCat("hint truncated: ", bytes.size(),
                                            " bytes, shorter than the ", dht::kIdBytes,
                                            "-byte target ID"));
  }
  std::array<uint8_t, dht::kIdBytes> id;
  std::memcpy(id.data(), bytes.data(), dht::kIdBytes);
  std::string_view rest = bytes.substr(dht::kIdBytes);
  ASSIGN_OR_RETURN(const uint64_t key_length, GetVarint64(&rest));
  if (key_length > rest.size()) {
    return absl::DataLossError(absl::StrCat("hint truncated: the key is ", key_length,
                                            " bytes but only ", rest.size(), " remain"));
  }
  Hint hint{.seq = seq, .target = dht::NodeId(id), .key = std::string(rest.substr(0, key_length))};
  absl::StatusOr<storage::Record> record = storage::DecodeRecord(rest.substr(key_length));
  if (!record.ok()) {
    return absl::DataLossError(
        absl::StrCat("hint for key ", Shown(hint.key), ": ", record.status().message()));
  }
  hint.record = *std::move(record);
  return hint;
}

absl::StatusOr<std::unique_ptr<HintStore>> HintStore::Open(Options options, Log log) {
  const int set = (log.put ? 1 : 0) + (log.erase ? 1 : 0) + (log.for_each ? 1 : 0);
  if (set != 0 && set != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("hint store log has ", set,
                     " of its 3 functions set; set put, erase and for_each, or none"));
  }
  auto store = std::unique_ptr<HintStore>(new HintStore(options, std::move(log)));
  if (set == 0) return store;

  // Read first, then insert under the lock (the log must not be called back).
  std::vector<std::pair<uint64_t, std::string>> stored;
  store->log_.for_each(
      [&](uint64_t seq, std::string_view bytes) { stored.emplace_back(seq, std::string(bytes)); });
  absl::MutexLock lock(&store->mu_);
  std::vector<uint64_t> dropped;
  for (auto& [seq, bytes] : stored) {
    store->next_seq_ = std::max(store->next_seq_, seq + 1);
    absl::StatusOr<Hint> hint = DecodeHint(seq, bytes);
    if (!hint.ok()) {
      spdlog::warn("dropping stored hint {}: {}", seq, hint.status().ToString());
      dropped.push_back(seq);
      continue;
    }
    if (store->HoldsNewer(hint->target, hint->key, hint->record)) {
      dropped.push_back(seq);
      continue;
    }
    store->Insert(seq,
                  Entry{.target = hint->target,
                        .key = std::move(hint->key),
                        .record = std::move(hint->record),
                        .bytes = bytes.size()},
                  &dropped);
  }
  store->EraseFromLog(dropped);
  return store;
}

HintStore::HintStore(Options options, Log log) : options_(options), log_(std::move(log)) {}

absl::Status HintStore::Add(const dht::NodeId& target, std::string_view key,
                            const storage::Record& rec) {
  std::string bytes = EncodeHint(target, key, rec);
  if (bytes.size() > options_.max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "hint for key ", Shown(key), " is ", bytes.size(), " bytes, more than the hint store's ",
        options_.max_bytes, "-byte limit; anti-entropy will repair replica ", target.ShortHex()));
  }
  absl::MutexLock lock(&mu_);
  if (HoldsNewer(target, key, rec)) return absl::OkStatus();
  const uint64_t seq = next_seq_;
  if (log_.put) RETURN_IF_ERROR(log_.put(seq, bytes));
  ++next_seq_;
  std::vector<uint64_t> dropped;
  Insert(seq,
         Entry{.target = target, .key = std::string(key), .record = rec, .bytes = bytes.size()},
         &dropped);
  ++stats_.added;
  EraseFromLog(dropped);
  return absl::OkStatus();
}

std::vector<Hint> HintStore::Oldest(const dht::NodeId& target, size_t max) const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<Hint> out;
  auto t = targets_.find(target);
  if (t == targets_.end()) return out;
  for (auto it = t->second.seqs.begin(); it != t->second.seqs.end() && out.size() < max; ++it) {
    const Entry& e = hints_.at(*it);
    out.push_back(Hint{.seq = *it, .target = e.target, .key = e.key, .record = e.record});
  }
  return out;
}

void HintStore::Remove(const Hint& hint) {
  absl::MutexLock lock(&mu_);
  auto it = hints_.find(hint.seq);
  if (it == hints_.end() || it->second.target != hint.target) return;
  Drop(hint.seq);
  ++stats_.removed;
  EraseFromLog({hint.seq});
}

std::vector<dht::NodeId> HintStore::Targets() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<dht::NodeId> out;
  out.reserve(targets_.size());
  for (const auto& [target, unused] : targets_) out.push_back(target);
  return out;
}

HintStore::Stats HintStore::stats() const {
  absl::ReaderMutexLock lock(&mu_);
  return stats_;
}

void HintStore::Insert(uint64_t seq, Entry entry, std::vector<uint64_t>* dropped) {
  if (std::optional<uint64_t> held = HeldSeq(entry.target, entry.key)) {
    Drop(*held);
    dropped->push_back(*held);
    ++stats_.replaced;
  }
  stats_.bytes += entry.bytes;
  ++stats_.hints;
  TargetHints& t = targets_[entry.target];
  t.seqs.insert(seq);
  t.by_key[entry.key] = seq;
  hints_.emplace(seq, std::move(entry));
  while (stats_.bytes > options_.max_bytes && !hints_.empty()) {
    const uint64_t oldest = hints_.begin()->first;
    Drop(oldest);
    dropped->push_back(oldest);
    ++stats_.evicted;
  }
}

void HintStore::Drop(uint64_t seq) {
  auto it = hints_.find(seq);
  const Entry& e = it->second;
  auto t = targets_.find(e.target);
  t->second.seqs.erase(seq);
  t->second.by_key.erase(e.key);
  if (t->second.seqs.empty()) targets_.erase(t);
  stats_.bytes -= e.bytes;
  --stats_.hints;
  hints_.erase(it);
}

std::optional<uint64_t> HintStore::HeldSeq(const dht::NodeId& target, std::string_view key) const {
  auto t = targets_.find(target);
  if (t == targets_.end()) return std::nullopt;
  auto k = t->second.by_key.find(absl::string_view(key.data(), key.size()));
  if (k == t->second.by_key.end()) return std::nullopt;
  return k->second;
}

bool HintStore::HoldsNewer(const dht::NodeId& target, std::string_view key,
                           const storage::Record& rec) const {
  std::optional<uint64_t> held = HeldSeq(target, key);
  return held.has_value() && hints_.at(*held).record.version > rec.version;
}

void HintStore::EraseFromLog(const std::vector<uint64_t>& seqs) {
  if (!log_.erase) return;
  for (uint64_t seq : seqs) {
    if (absl::Status s = log_.erase(seq); !s.ok()) {
      spdlog::warn("could not erase hint {} from its log (it is dropped again on restart): {}", seq,
                   s.ToString());
    }
  }
}

}  // namespace kv::replication
