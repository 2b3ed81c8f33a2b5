#include "cmd/kvchaos/history.h"

#include <time.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <unordered_set>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace kv::chaos {

std::string VersionText(uint64_t timestamp, absl::string_view node_id) {
  return absl::StrCat(timestamp, "@", node_id.substr(0, 8));
}

std::string ErrorText(absl::StatusCode code, absl::string_view message) {
  return absl::StrCat(absl::StatusCodeToString(code), ": ", message);
}

std::string Classify(absl::StatusCode code, absl::string_view message, bool is_write) {
  if (code == absl::StatusCode::kOk) return "ok";
  if (!is_write) return "fail";
  if (code == absl::StatusCode::kInvalidArgument) return "fail";
  // gRPC's own message when no connection could be made: nothing was sent.
  if (code == absl::StatusCode::kUnavailable &&
      absl::StartsWith(message, "failed to connect to all addresses")) {
    return "fail";
  }
  return "info";
}

int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

namespace {

// Keeps the keys in the order they are set: the order of the README's example.
using Json = nlohmann::ordered_json;

// Each byte of `bytes` as the code point of the same number (ISO 8859-1), in
// UTF-8: any bytes at all become a valid JSON string, and a reader gets them
// back one for one (Python: `s.encode("latin-1")`).
std::string Latin1ToUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

// The inverse of Latin1ToUtf8; nullopt when `utf8` holds a code point above
// U+00FF (or is not UTF-8), which Latin1ToUtf8 never writes.
std::optional<std::string> Utf8ToLatin1(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  for (size_t i = 0; i < utf8.size(); ++i) {
    const unsigned char c = utf8[i];
    if (c < 0x80) {
      out += static_cast<char>(c);
      continue;
    }
    if ((c & 0xFE) != 0xC2 || i + 1 >= utf8.size()) return std::nullopt;  // not U+0080..U+00FF
    const unsigned char next = utf8[++i];
    if ((next & 0xC0) != 0x80) return std::nullopt;
    out += static_cast<char>(((c & 0x03) << 6) | (next & 0x3F));
  }
  return out;
}

// ensure_ascii: every code point from U+007F up is written \u00XX, so a line
// is ASCII whatever bytes the event holds.
std::string Dump(const Json& j) { return j.dump(-1, ' ', /*ensure_ascii=*/true); }

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::string JsonString(std::string_view s) { return Dump(Json(Latin1ToUtf8(s))); }

std::string ToJson(const Event& e) {
  Json j;
  uint64_t process = 0;
  if (AllDigits(e.process) && absl::SimpleAtoi(e.process, &process)) {
    j["process"] = process;
  } else {
    j["process"] = Latin1ToUtf8(e.process);
  }
  j["type"] = Latin1ToUtf8(e.type);
  j["f"] = Latin1ToUtf8(e.f);
  j["key"] = Latin1ToUtf8(e.key);
  j["value"] = e.value ? Json(Latin1ToUtf8(*e.value)) : Json(nullptr);
  j["time_ns"] = e.time_ns;
  j["node"] = Latin1ToUtf8(e.node);
  if (!e.error.empty()) j["error"] = Latin1ToUtf8(e.error);
  if (!e.version.empty()) j["version"] = Latin1ToUtf8(e.version);
  return Dump(j);
}

std::string ToJson(const ReplicaAnswer& r) {
  Json j;
  j["key"] = Latin1ToUtf8(r.key);
  j["node"] = Latin1ToUtf8(r.node);
  if (!r.error.empty()) {
    j["error"] = Latin1ToUtf8(r.error);
    return Dump(j);
  }
  j["found"] = r.found;
  if (!r.found) return Dump(j);
  j["tombstone"] = r.tombstone;
  j["version"] = Json{{"timestamp", r.timestamp}, {"node_id", Latin1ToUtf8(r.node_id)}};
  return Dump(j);
}

absl::StatusOr<std::unique_ptr<HistoryWriter>> HistoryWriter::Open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (f == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot open history ", path, " for appending: ", std::strerror(errno)));
  }
  return std::unique_ptr<HistoryWriter>(new HistoryWriter(f));
}

HistoryWriter::~HistoryWriter() {
  absl::MutexLock l(&mu_);
  std::fclose(f_);
}

void HistoryWriter::Write(const Event& e) {
  const std::string line = ToJson(e) + "\n";
  absl::MutexLock l(&mu_);
  std::fwrite(line.data(), 1, line.size(), f_);
  std::fflush(f_);
}

absl::StatusOr<std::vector<std::string>> KeysInHistory(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read history ", path));
  std::vector<std::string> keys;
  std::unordered_set<std::string> seen;
  std::string line;
  while (std::getline(in, line)) {
    // Lines that do not parse (none written by HistoryWriter) hold no key.
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) continue;
    const auto it = j.find("key");
    if (it == j.end() || !it->is_string()) continue;
    const std::string& text = it->get_ref<const std::string&>();
    // A key that is not Latin-1 text (not ours either) is taken as its UTF-8 bytes.
    std::string key = Utf8ToLatin1(text).value_or(text);
    if (seen.insert(key).second) keys.push_back(std::move(key));
  }
  return keys;
}

}  // namespace kv::chaos
