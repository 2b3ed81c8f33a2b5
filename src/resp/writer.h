// Writes RESP replies (the Redis serialization protocol) for kvstore's
// Redis-protocol front door, in RESP2 or RESP3 as the connection negotiated
// (HELLO). Pure: appends bytes to a string the caller owns and sends.
//
// RESP3 types a RESP2 client does not know are written as Redis writes them
// to such a client: a map as a flat array of keys and values, a set as an
// array, a double as a bulk string, a boolean as an integer, a verbatim
// string as a bulk string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kv::resp {

enum class Protocol { kResp2 = 2, kResp3 = 3 };

// Appends replies to a string. Every method writes one whole RESP value (or,
// for the headers, the header of an aggregate whose n elements the caller
// writes next) and never fails. Not synchronized; the string is the caller's
// and must outlive the Writer.
class Writer {
 public:
  // REQUIRES: out != nullptr.
  Writer(std::string* out, Protocol protocol);

  // Switches the protocol of the replies written next (after HELLO 3).
  void set_protocol(Protocol p) { protocol_ = p; }
  Protocol protocol() const { return protocol_; }

  // "+OK\r\n". CR and LF in s become spaces: a simple string is one line.
  void SimpleString(std::string_view s);
  // "-ERR unknown command\r\n": s includes the error code (ERR, WRONGTYPE,
  // ...). CR and LF in s become spaces.
  void Error(std::string_view s);
  // ":1\r\n".
  void Integer(int64_t v);
  // "$3\r\nabc\r\n"; binary-safe.
  void Bulk(std::string_view s);
  // A missing value: RESP2 "$-1\r\n" (a null bulk), RESP3 "_\r\n".
  void Null();
  // A missing array: RESP2 "*-1\r\n", RESP3 "_\r\n".
  void NullArray();
  // "*n\r\n", then the caller writes the n elements.
  void ArrayHeader(size_t n);
  // RESP3 "%n\r\n", then the caller writes n keys each followed by its value.
  // RESP2 "*<2n>\r\n": the same 2n elements as a flat array.
  void MapHeader(size_t n);
  // RESP3 "~n\r\n"; RESP2 "*n\r\n". Then the caller writes the n elements.
  void SetHeader(size_t n);
  // RESP3 ",1.5\r\n"; RESP2 the same text as a bulk string ("$3\r\n1.5\r\n").
  // As Redis 7.2 writes it: integers up to 2^62 in full ("3", "-0"), other
  // values as the shortest text that reads back as v ("1.5", "1e+100"),
  // infinities and NaN as "inf", "-inf" and "nan".
  void Double(double v);
  // RESP3 "#t\r\n" / "#f\r\n"; RESP2 ":1\r\n" / ":0\r\n".
  void Boolean(bool v);
  // RESP3 "=<len>\r\n<format>:<s>\r\n", e.g. "=9\r\ntxt:hello\r\n"; RESP2 a bulk
  // string of s alone. REQUIRES: format is 3 bytes ("txt" or "mkd").
  void Verbatim(std::string_view format, std::string_view s);

 private:
  // Appends prefix, s with CR and LF as spaces, then "\r\n".
  void Line(char prefix, std::string_view s);
  // Appends prefix, n, then "\r\n".
  void Header(char prefix, uint64_t n);

  std::string* const out_;
  Protocol protocol_;
};

}  // namespace kv::resp
