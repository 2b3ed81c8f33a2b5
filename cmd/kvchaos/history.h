// kvchaos history files: one JSON object per line (docs in tests/chaos/README.md).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace kv::chaos {

// Nanoseconds of CLOCK_MONOTONIC: the same clock in every process of the
// machine, so histories written by several processes can be merged.
int64_t MonotonicNanos();

// `s` as a JSON string literal, quotes included. Bytes >= 0x80 become
// \u00XX, so the output is ASCII whatever the server's error text holds.
std::string JsonString(std::string_view s);

// One line of a history: an invocation or its completion.
struct Event {
  std::string process;  // a client number, or "final"
  std::string type;     // invoke, ok, fail, info
  std::string f;        // add, read, write, delete
  std::string key;
  std::optional<std::string> value;  // null when absent (reads that found nothing)
  int64_t time_ns = 0;
  std::string node;
  std::string error;    // "CODE: message" when not ok
  std::string version;  // "<timestamp>@<node id prefix>" on ok, diagnostics only
};

// The JSON line for `e`, without the newline.
std::string ToJson(const Event& e);

// Appends events to a file. Thread-safe; each line is flushed as written, so
// a killed client leaves every completed line behind.
class HistoryWriter {
 public:
  // Opens `path` for appending (creating it). Error names the path.
  static absl::StatusOr<std::unique_ptr<HistoryWriter>> Open(const std::string& path);
  ~HistoryWriter();
  void Write(const Event& e);

 private:
  explicit HistoryWriter(std::FILE* f) : f_(f) {}
  absl::Mutex mu_;
  std::FILE* f_ ABSL_GUARDED_BY(mu_);
};

// Every distinct "key" of the history at `path`, in order of first
// appearance. Error when the file cannot be read.
absl::StatusOr<std::vector<std::string>> KeysInHistory(const std::string& path);

}  // namespace kv::chaos
