#include "cmd/kvchaos/history.h"

#include <time.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <unordered_set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kv::chaos {

int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x80) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

namespace {

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The string value of `"field":"..."` in one of our own lines; nullopt if absent.
std::optional<std::string> StringField(std::string_view line, const char* field) {
  std::string needle = "\"";
  needle.append(field).append("\":\"");
  size_t i = line.find(needle);
  if (i == std::string_view::npos) return std::nullopt;
  std::string out;
  for (i += needle.size(); i < line.size() && line[i] != '"'; ++i) {
    if (line[i] != '\\' || i + 1 >= line.size()) {
      out += line[i];
      continue;
    }
    char e = line[++i];
    if (e == 'u' && i + 4 < line.size()) {
      out += static_cast<char>(std::stoi(std::string(line.substr(i + 1, 4)), nullptr, 16));
      i += 4;
    } else {
      out += e;
    }
  }
  return out;
}

}  // namespace

std::string ToJson(const Event& e) {
  std::string out = absl::StrCat(
      "{\"process\":", AllDigits(e.process) ? e.process : JsonString(e.process),
      ",\"type\":", JsonString(e.type), ",\"f\":", JsonString(e.f), ",\"key\":", JsonString(e.key),
      ",\"value\":", e.value ? JsonString(*e.value) : "null", ",\"time_ns\":", e.time_ns,
      ",\"node\":", JsonString(e.node));
  if (!e.error.empty()) absl::StrAppend(&out, ",\"error\":", JsonString(e.error));
  if (!e.version.empty()) absl::StrAppend(&out, ",\"version\":", JsonString(e.version));
  return out + "}";
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
    std::optional<std::string> key = StringField(line, "key");
    if (key && seen.insert(*key).second) keys.push_back(*key);
  }
  return keys;
}

}  // namespace kv::chaos
