// kvctl -o json: what every command prints instead of its text, one JSON
// object per line (JSON Lines, like `etcdctl -w json`). The schema is in
// docs/operations.md ("kvctl -o json").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "google/protobuf/message.h"

namespace kv::kvctl {

// -o / --output.
enum class Output { kText, kJson };

// `s` as a JSON string, quotes included. UTF-8 passes through; '"', '\'
// and control characters are escaped; every byte that does not start a
// well-formed UTF-8 sequence becomes U+FFFD, so any bytes give valid JSON.
// (Protobuf's own printer drops such bytes instead; the nodes refuse keys
// that are not UTF-8, so only a key as typed can hold them.)
std::string JsonString(std::string_view s);

// `m` in protobuf's JSON mapping with the proto's snake_case field names,
// fields at their default value included (0, false, ""; an unset message
// field is left out), 64-bit integers as strings, bytes as base64, enums by
// name, and map entries sorted by key. One line, no trailing newline.
std::string ProtoJson(const google::protobuf::Message& m);

// A JSON object built field by field, in the order the fields are added.
// The caller keeps names unique.
class JsonObject {
 public:
  JsonObject& String(std::string_view name, std::string_view value);
  JsonObject& Bool(std::string_view name, bool value);
  JsonObject& Int(std::string_view name, int64_t value);
  JsonObject& Uint(std::string_view name, uint64_t value);
  // NaN and infinities become null.
  JsonObject& Double(std::string_view name, double value);
  JsonObject& Null(std::string_view name);
  // REQUIRES: `json` is one JSON value (e.g. from ProtoJson or str()).
  JsonObject& Raw(std::string_view name, std::string_view json);
  // Every field of `object`, in its order.
  // REQUIRES: `object` is a JSON object, e.g. from ProtoJson.
  JsonObject& Fields(std::string_view object);

  // The object, one line.
  std::string str() const { return "{" + body_ + "}"; }

 private:
  void Name(std::string_view name);

  std::string body_;  // the fields, comma-separated
};

// Prints `json` and a newline on stdout, and flushes (leave streams).
void PrintJsonLine(const std::string& json);

}  // namespace kv::kvctl
