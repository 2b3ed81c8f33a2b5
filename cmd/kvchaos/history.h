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
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace kv::chaos {

// Nanoseconds of CLOCK_MONOTONIC: the same clock in every process of the
// machine, so histories written by several processes can be merged.
int64_t MonotonicNanos();

// `s` as a JSON string literal, quotes included. Each byte is taken as the
// code point of the same number (ISO 8859-1), and bytes >= 0x7f are written
// \u00XX: the output is ASCII whatever `s` holds, and a reader gets the
// bytes back one for one (Python: `s.encode("latin-1")`). Quotes,
// backslashes and control characters are escaped as JSON requires.
std::string JsonString(std::string_view s);

// The JSON line (no newline) of one replica's answer to a Fetch of `key`
// (kvchaos replicas): {"key", "node", then "error" when the fetch failed,
// else "found" and, when found, "tombstone" and "version": {"timestamp",
// "node_id"}}, strings as JsonString writes them.
struct ReplicaAnswer {
  std::string key;
  std::string node;
  std::string error;  // empty: the fetch answered
  bool found = false;
  bool tombstone = false;
  uint64_t timestamp = 0;
  std::string node_id;
};
std::string ToJson(const ReplicaAnswer& r);

// How histories record an outcome, the same for kvchaos (real nodes) and
// kvsim (simulated ones):
//   VersionText: "<timestamp>@<first 8 chars of the node id>";
//   ErrorText:   "CODE: message";
//   Classify:    "ok"; a failed read is "fail" (it changed nothing); a failed
//                write is "fail" only when certainly not applied (INVALID_ARGUMENT,
//                or no connection made: a message starting "failed to connect
//                to all addresses"), else "info" (it may still take effect).
std::string VersionText(uint64_t timestamp, absl::string_view node_id);
std::string ErrorText(absl::StatusCode code, absl::string_view message);
std::string Classify(absl::StatusCode code, absl::string_view message, bool is_write);

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

// The JSON line for `e`, without the newline: one object with the fields in
// the order above, strings written as JsonString writes them. `process` is a
// number when it is all digits (and fits 64 bits), else a string; `value` is
// null when absent; `error` and `version` only when not empty.
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
// appearance, as the bytes ToJson was given. Lines that are not JSON objects
// with a string "key" are skipped. Error when the file cannot be read.
absl::StatusOr<std::vector<std::string>> KeysInHistory(const std::string& path);

}  // namespace kv::chaos
