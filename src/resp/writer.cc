#include "src/resp/writer.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace kv::resp {

Writer::Writer(std::string* out, Protocol protocol) : out_(out), protocol_(protocol) {
  assert(out != nullptr);
}

void Writer::Line(char prefix, std::string_view s) {
  const size_t start = out_->size() + 1;
  out_->push_back(prefix);
  out_->append(s);
  for (size_t i = start; i < out_->size(); ++i) {
    if ((*out_)[i] == '\r' || (*out_)[i] == '\n') (*out_)[i] = ' ';
  }
  out_->append("\r\n");
}

void Writer::Header(char prefix, uint64_t n) {
  out_->push_back(prefix);
  absl::StrAppend(out_, n, "\r\n");
}

void Writer::SimpleString(std::string_view s) { Line('+', s); }

void Writer::Error(std::string_view s) { Line('-', s); }

void Writer::Integer(int64_t v) { absl::StrAppend(out_, ":", v, "\r\n"); }

void Writer::Bulk(std::string_view s) {
  Header('$', s.size());
  out_->append(s);
  out_->append("\r\n");
}

void Writer::Null() { out_->append(protocol_ == Protocol::kResp3 ? "_\r\n" : "$-1\r\n"); }

void Writer::NullArray() { out_->append(protocol_ == Protocol::kResp3 ? "_\r\n" : "*-1\r\n"); }

void Writer::ArrayHeader(size_t n) { Header('*', n); }

void Writer::MapHeader(size_t n) {
  if (protocol_ == Protocol::kResp3) {
    Header('%', n);
  } else {
    Header('*', uint64_t{2} * n);
  }
}

void Writer::SetHeader(size_t n) { Header(protocol_ == Protocol::kResp3 ? '~' : '*', n); }

void Writer::Double(double v) {
  // Redis 7.2's d2string: inf, -inf and nan spelled out (libc spellings
  // vary), integers up to 2^62 in full ("1000000000000000000", not
  // "1e+18"), else the shortest text that reads back as v (fpconv_dtoa there,
  // to_chars here; exponents may be written differently: "1e-07").
  constexpr double kMaxWholeInteger = static_cast<double>(INT64_MAX / 2);
  char buf[32];
  std::string_view text;
  if (std::isnan(v)) {
    text = "nan";
  } else if (std::isinf(v)) {
    text = v > 0 ? "inf" : "-inf";
  } else if (v == 0) {
    text = std::signbit(v) ? "-0" : "0";
  } else if (v >= -kMaxWholeInteger && v <= kMaxWholeInteger &&
             static_cast<double>(static_cast<int64_t>(v)) == v) {
    const std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(v));
    text = std::string_view(buf, static_cast<size_t>(r.ptr - buf));
  } else {
    const std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), v);
    assert(r.ec == std::errc());
    text = std::string_view(buf, static_cast<size_t>(r.ptr - buf));
  }
  if (protocol_ == Protocol::kResp3) {
    out_->push_back(',');
    out_->append(text);
    out_->append("\r\n");
  } else {
    Bulk(text);
  }
}

void Writer::Boolean(bool v) {
  if (protocol_ == Protocol::kResp3) {
    out_->append(v ? "#t\r\n" : "#f\r\n");
  } else {
    out_->append(v ? ":1\r\n" : ":0\r\n");
  }
}

void Writer::Verbatim(std::string_view format, std::string_view s) {
  assert(format.size() == 3);
  if (protocol_ != Protocol::kResp3) {
    Bulk(s);
    return;
  }
  Header('=', format.size() + 1 + s.size());
  out_->append(format);
  out_->push_back(':');
  out_->append(s);
  out_->append("\r\n");
}

}  // namespace kv::resp
