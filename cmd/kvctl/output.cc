#include "cmd/kvctl/output.h"

#include <cmath>
#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver.h"
#include "google/protobuf/util/type_resolver_util.h"

namespace kv::kvctl {
namespace {

namespace pb = google::protobuf;

constexpr char kTypeUrlPrefix[] = "type.googleapis.com";

// The length of the well-formed UTF-8 sequence (RFC 3629: no overlong
// forms, no surrogates, nothing past U+10FFFF) at the start of `s`; 0 if
// there is none.
size_t Utf8Length(std::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](size_t i) { return i < s.size() && (byte(i) & 0xc0) == 0x80; };
  const unsigned char b = byte(0);
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return cont(1) ? 2 : 0;
  if (b >= 0xe0 && b <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    if (b == 0xe0 && byte(1) < 0xa0) return 0;   // overlong
    if (b == 0xed && byte(1) >= 0xa0) return 0;  // a surrogate
    return 3;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (b == 0xf0 && byte(1) < 0x90) return 0;   // overlong
    if (b == 0xf4 && byte(1) >= 0x90) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  out.reserve(s.size() + 2);
  while (!s.empty()) {
    const unsigned char c = s[0];
    size_t n = 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else if ((n = Utf8Length(s)) > 0) {
          out.append(s.substr(0, n));
        } else {
          out += "\xef\xbf\xbd";  // U+FFFD REPLACEMENT CHARACTER
          n = 1;
        }
    }
    s.remove_prefix(n);
  }
  out += '"';
  return out;
}

std::string ProtoJson(const pb::Message& m) {
  // MessageToJsonString, but from a deterministic serialization, which
  // sorts map entries by key (the counters of kvctl stats).
  static pb::util::TypeResolver* const resolver =
      pb::util::NewTypeResolverForDescriptorPool(kTypeUrlPrefix, m.GetDescriptor()->file()->pool());
  std::string binary;
  {
    pb::io::StringOutputStream stream(&binary);
    pb::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  pb::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  const auto status = pb::util::BinaryToJsonString(
      resolver, absl::StrCat(kTypeUrlPrefix, "/", m.GetDescriptor()->full_name()), binary, &json,
      options);
  // Only a message of another descriptor pool could fail here.
  if (!status.ok()) return JsonObject().String("json_error", status.ToString()).str();
  return json;
}

void JsonObject::Name(std::string_view name) {
  if (!body_.empty()) body_ += ',';
  absl::StrAppend(&body_, JsonString(name), ":");
}

JsonObject& JsonObject::String(std::string_view name, std::string_view value) {
  return Raw(name, JsonString(value));
}

JsonObject& JsonObject::Bool(std::string_view name, bool value) {
  return Raw(name, value ? "true" : "false");
}

JsonObject& JsonObject::Int(std::string_view name, int64_t value) {
  return Raw(name, absl::StrCat(value));
}

JsonObject& JsonObject::Uint(std::string_view name, uint64_t value) {
  return Raw(name, absl::StrCat(value));
}

JsonObject& JsonObject::Double(std::string_view name, double value) {
  return Raw(name, std::isfinite(value) ? absl::StrFormat("%.6g", value) : "null");
}

JsonObject& JsonObject::Null(std::string_view name) { return Raw(name, "null"); }

JsonObject& JsonObject::Raw(std::string_view name, std::string_view json) {
  Name(name);
  body_.append(json);
  return *this;
}

JsonObject& JsonObject::Fields(std::string_view object) {
  // Between the braces; nothing for "{}".
  if (object.size() <= 2) return *this;
  const std::string_view fields = object.substr(1, object.size() - 2);
  if (!body_.empty()) body_ += ',';
  body_.append(fields);
  return *this;
}

void PrintJsonLine(const std::string& json) {
  std::fputs(json.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace kv::kvctl
