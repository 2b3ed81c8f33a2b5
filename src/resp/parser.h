// An incremental parser of the commands a Redis client sends (RESP, the Redis
// serialization protocol): what kvstore's Redis-protocol front door reads
// from each connection. Pure: no I/O, no threads; the caller feeds it the
// bytes it received and takes commands out.
//
// Two forms, told apart by a command's first byte, as Redis does:
//   - an array of bulk strings: "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n". Binary-safe:
//     a bulk holds any bytes, CR, LF and NUL included.
//   - an inline command, one line ended by "\n" or "\r\n": "SET k v\r\n". Words
//     are split on blanks with Redis's quoting rules (redis-cli and
//     sdssplitargs): "..." understands \n \r \t \b \a \" \\ and \xHH, '...'
//     only \'; a closing quote must be followed by a blank or the end of the
//     line. Unlike Redis, a NUL byte in a line is an ordinary byte.
// Errors carry Redis's own wording, so that a client sees what a Redis
// server would have answered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kv::resp {

// One command as a client sent it: args[0] is the command name as typed (any
// case), every argument binary-safe. Never empty when returned by Parser.
using Command = std::vector<std::string>;

// What a parser refuses, to bound the memory one connection can make it hold.
struct ParserLimits {
  size_t max_bulk_bytes = 512 << 20;   // one bulk string (Redis's proto-max-bulk-len default)
  size_t max_args = 1 << 20;           // elements of one command array
  size_t max_inline_bytes = 64 << 10;  // an inline command line; also a "*n" or "$n" line
                                       // (Redis: PROTO_INLINE_MAX_SIZE, 64 KiB)
};

// Parses the byte stream of one connection into commands. Bytes may arrive
// split anywhere and many commands may arrive at once (pipelining): Feed what
// was received, then call Next until it returns nullopt. Work is linear in the
// bytes fed: a long line or a big bulk arriving in small pieces is not scanned
// again from its start, and consumed bytes are dropped from the buffer.
//
// The outcome does not depend on how the stream was split into Feed calls.
//
// Not synchronized: one connection's reader owns it.
class Parser {
 public:
  explicit Parser(ParserLimits limits = {});

  // Appends bytes received from the connection. Does nothing once Next has
  // returned an error.
  void Feed(std::string_view bytes);

  // The next complete command, or nullopt when more bytes are needed.
  //
  // An error, INVALID_ARGUMENT, when the stream is malformed or over a limit,
  // with Redis's message, e.g.:
  //   "Protocol error: invalid multibulk length"       ("*x", "*-2", over max_args)
  //   "Protocol error: expected '$', got 'x'"           (an array element not a bulk)
  //   "Protocol error: invalid bulk length"             ("$x", "$-1", over max_bulk_bytes)
  //   "Protocol error: too big mbulk count string"      (a "*n" line over max_inline_bytes)
  //   "Protocol error: too big bulk count string"       (a "$n" line over max_inline_bytes)
  //   "Protocol error: too big inline request"          (over max_inline_bytes)
  //   "Protocol error: unbalanced quotes in request"    (inline)
  //   "Protocol error: expected CRLF after bulk string" (our own: Redis skips
  //                                                     the two bytes unchecked)
  // A "*n" or "$n" line must end in "\r\n" and hold a decimal number without
  // sign or leading zero ("*-1" aside), else it is an invalid length.
  // The messages may hold a byte of the input (the 'x' above), raw.
  // After an error the parser stays failed and returns the same error: the
  // caller replies "-ERR <message>" and closes the connection.
  //
  // An empty or all-blank inline line, "*0\r\n" and "*-1\r\n" yield no
  // command: they are skipped, as Redis does.
  [[nodiscard]] absl::StatusOr<std::optional<Command>> Next();

  // Bytes fed but not yet part of a command Next returned (or skipped):
  // what the connection holds in memory on the client's behalf, for
  // backpressure accounting. Counts bytes already parsed into a command that
  // is not complete yet.
  size_t buffered() const { return buf_.size() - pos_ + partial_bytes_; }

 private:
  enum class State {
    kCommandStart,  // at the first byte of a command ('*': an array; else inline)
    kBulkLength,    // at a "$n\r\n" line of an array's element
    kBulkData,      // at an element's bytes, bulk_len_ of them, then "\r\n"
  };
  enum class LineResult { kNeedMore, kOk, kInvalid, kTooBig };

  // Parses the inline command line at pos_: nullopt if it has not all
  // arrived, an empty command for a blank line.
  absl::StatusOr<std::optional<Command>> NextInline();
  // Reads the "*n\r\n" or "$n\r\n" line at pos_ into *value and *line_bytes
  // (its length with the "\r\n").
  LineResult ReadLengthLine(int64_t* value, size_t* line_bytes);
  // The offset of the first `c` at or after pos_, or npos (then the search
  // resumes where this one ended).
  size_t Find(char c);
  // Moves pos_ past n bytes of the command being read.
  void Consume(size_t n);
  // Returns the command read and starts the next one.
  Command TakeCommand();
  absl::Status Fail(std::string message);

  // Const after construction.
  const ParserLimits limits_;

  std::string buf_;     // bytes fed; [0, pos_) are consumed
  size_t pos_ = 0;      // the first byte not consumed
  size_t scanned_ = 0;  // Find found no match in [pos_, scanned_)
  State state_ = State::kCommandStart;
  Command args_;              // the elements of the array being read
  size_t args_left_ = 0;      // elements of that array still to read
  size_t bulk_len_ = 0;       // in kBulkData: the element's length
  size_t partial_bytes_ = 0;  // bytes consumed into args_ and its headers
  absl::Status status_;       // the first error; OK until then
};

}  // namespace kv::resp
