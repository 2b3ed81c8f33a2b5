#include "src/resp/parser.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

namespace kv::resp {
namespace {

// Consumed bytes are dropped from the buffer once there are at least this
// many and they are at least half of it: each byte is moved at most once on
// average, and small buffers are not moved at all.
constexpr size_t kCompactMinBytes = 4096;

// An empty buffer keeps its memory up to this size: one big bulk does not
// pin its size for the rest of the connection.
constexpr size_t kKeepCapacityBytes = 64 << 10;

// Elements reserved up front for an array: its count comes from the client,
// so a "*1048576" line must not allocate before the elements arrive.
constexpr size_t kMaxReservedArgs = 1024;

// isspace() in the C locale, which Redis's sdssplitargs uses.
bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// Parses a length as Redis's string2ll does: "0", or an optional '-' and a
// digit 1-9 followed by digits; no '+', no blanks, no leading zeros, fits
// int64_t. False otherwise.
bool ParseLength(std::string_view s, int64_t* value) {
  if (s == "0") {
    *value = 0;
    return true;
  }
  const bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty() || s.front() < '1' || s.front() > '9') return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  if (v > static_cast<uint64_t>(INT64_MAX)) return false;
  *value = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
  return true;
}

// Splits an inline command line into words as Redis's sdssplitargs does.
// False if a quote is not closed, or a closing quote is followed by something
// other than a blank.
bool SplitInline(std::string_view line, Command* args) {
  const size_t n = line.size();
  size_t i = 0;
  while (true) {
    while (i < n && IsBlank(line[i])) ++i;
    if (i == n) return true;
    std::string word;
    enum class Quote { kNone, kDouble, kSingle } quote = Quote::kNone;
    bool done = false;
    while (!done) {
      if (quote == Quote::kNone) {
        if (i == n) break;
        const char c = line[i++];
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
            done = true;
            break;
          case '"':
            quote = Quote::kDouble;
            break;
          case '\'':
            quote = Quote::kSingle;
            break;
          default:
            word.push_back(c);
        }
        continue;
      }
      if (i == n) return false;  // unterminated quotes
      const char c = line[i];
      const char close = quote == Quote::kDouble ? '"' : '\'';
      if (c == close) {
        if (i + 1 < n && !IsBlank(line[i + 1])) return false;
        ++i;
        done = true;
      } else if (quote == Quote::kSingle) {
        if (c == '\\' && i + 1 < n && line[i + 1] == '\'') {
          word.push_back('\'');
          i += 2;
        } else {
          word.push_back(c);
          ++i;
        }
      } else if (c == '\\' && i + 3 < n && line[i + 1] == 'x' && IsHexDigit(line[i + 2]) &&
                 IsHexDigit(line[i + 3])) {
        word.push_back(static_cast<char>(HexValue(line[i + 2]) * 16 + HexValue(line[i + 3])));
        i += 4;
      } else if (c == '\\' && i + 1 < n) {
        char e = line[i + 1];
        switch (e) {
          case 'n':
            e = '\n';
            break;
          case 'r':
            e = '\r';
            break;
          case 't':
            e = '\t';
            break;
          case 'b':
            e = '\b';
            break;
          case 'a':
            e = '\a';
            break;
          default:
            break;
        }
        word.push_back(e);
        i += 2;
      } else {
        word.push_back(c);
        ++i;
      }
    }
    args->push_back(std::move(word));
  }
}

}  // namespace

Parser::Parser(ParserLimits limits) : limits_(limits) {}

void Parser::Feed(std::string_view bytes) {
  if (!status_.ok()) return;
  if (pos_ == buf_.size()) {
    if (buf_.capacity() > kKeepCapacityBytes) {
      std::string().swap(buf_);
    } else {
      buf_.clear();
    }
    pos_ = scanned_ = 0;
  } else if (pos_ >= kCompactMinBytes && pos_ >= buf_.size() / 2) {
    buf_.erase(0, pos_);
    scanned_ -= pos_;
    pos_ = 0;
  }
  buf_.append(bytes);
}

size_t Parser::Find(char c) {
  const size_t from = std::max(pos_, scanned_);
  const void* hit =
      from < buf_.size() ? std::memchr(buf_.data() + from, c, buf_.size() - from) : nullptr;
  if (hit == nullptr) {
    scanned_ = buf_.size();
    return std::string::npos;
  }
  return static_cast<size_t>(static_cast<const char*>(hit) - buf_.data());
}

void Parser::Consume(size_t n) {
  pos_ += n;
  scanned_ = pos_;
  partial_bytes_ += n;
}

Command Parser::TakeCommand() {
  Command command = std::move(args_);
  args_.clear();
  partial_bytes_ = 0;
  state_ = State::kCommandStart;
  return command;
}

absl::Status Parser::Fail(std::string message) {
  status_ = absl::InvalidArgumentError(message);
  return status_;
}

Parser::LineResult Parser::ReadLengthLine(int64_t* value, size_t* line_bytes) {
  const size_t cr = Find('\r');
  // The line is too long once more than the limit arrived without its end, so
  // the answer is the same whether the rest came in the same Feed or not.
  if (cr == std::string::npos) {
    return buf_.size() - pos_ > limits_.max_inline_bytes ? LineResult::kTooBig
                                                         : LineResult::kNeedMore;
  }
  if (cr - pos_ > limits_.max_inline_bytes) return LineResult::kTooBig;
  if (cr + 1 == buf_.size()) {
    scanned_ = cr;  // find this CR again once its LF may have arrived
    return LineResult::kNeedMore;
  }
  if (buf_[cr + 1] != '\n') return LineResult::kInvalid;
  // Skips the '*' or '$'.
  if (!ParseLength(std::string_view(buf_).substr(pos_ + 1, cr - pos_ - 1), value)) {
    return LineResult::kInvalid;
  }
  *line_bytes = cr + 2 - pos_;
  return LineResult::kOk;
}

absl::StatusOr<std::optional<Command>> Parser::NextInline() {
  const size_t lf = Find('\n');
  // As in ReadLengthLine, the limit holds for a line with or without its end.
  if (lf == std::string::npos) {
    if (buf_.size() - pos_ > limits_.max_inline_bytes) {
      return Fail("Protocol error: too big inline request");
    }
    return std::nullopt;
  }
  if (lf - pos_ > limits_.max_inline_bytes) return Fail("Protocol error: too big inline request");
  std::string_view line = std::string_view(buf_).substr(pos_, lf - pos_);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  Command args;
  if (!SplitInline(line, &args)) return Fail("Protocol error: unbalanced quotes in request");
  pos_ = scanned_ = lf + 1;
  return args;  // empty for a blank line
}

absl::StatusOr<std::optional<Command>> Parser::Next() {
  while (status_.ok()) {
    switch (state_) {
      case State::kCommandStart: {
        if (pos_ == buf_.size()) return std::nullopt;
        if (buf_[pos_] != '*') {
          absl::StatusOr<std::optional<Command>> command = NextInline();
          if (command.ok() && command->has_value() && (*command)->empty()) continue;  // skipped
          return command;
        }
        int64_t n = 0;
        size_t line_bytes = 0;
        switch (ReadLengthLine(&n, &line_bytes)) {
          case LineResult::kNeedMore:
            return std::nullopt;
          case LineResult::kTooBig:
            return Fail("Protocol error: too big mbulk count string");
          case LineResult::kInvalid:
            return Fail("Protocol error: invalid multibulk length");
          case LineResult::kOk:
            break;
        }
        if (n < -1 || (n > 0 && static_cast<uint64_t>(n) > limits_.max_args)) {
          return Fail("Protocol error: invalid multibulk length");
        }
        Consume(line_bytes);
        if (n <= 0) {  // "*0" and "*-1": no command
          partial_bytes_ = 0;
          continue;
        }
        args_left_ = static_cast<size_t>(n);
        args_.reserve(std::min(args_left_, kMaxReservedArgs));
        state_ = State::kBulkLength;
        continue;
      }
      case State::kBulkLength: {
        if (pos_ == buf_.size()) return std::nullopt;
        if (buf_[pos_] != '$') {
          return Fail(std::string("Protocol error: expected '$', got '") + buf_[pos_] + "'");
        }
        int64_t len = 0;
        size_t line_bytes = 0;
        switch (ReadLengthLine(&len, &line_bytes)) {
          case LineResult::kNeedMore:
            return std::nullopt;
          case LineResult::kTooBig:
            return Fail("Protocol error: too big bulk count string");
          case LineResult::kInvalid:
            return Fail("Protocol error: invalid bulk length");
          case LineResult::kOk:
            break;
        }
        if (len < 0 || static_cast<uint64_t>(len) > limits_.max_bulk_bytes) {
          return Fail("Protocol error: invalid bulk length");
        }
        Consume(line_bytes);
        bulk_len_ = static_cast<size_t>(len);
        state_ = State::kBulkData;
        continue;
      }
      case State::kBulkData: {
        // Waiting for a big bulk costs O(1) per call: nothing is scanned.
        if (buf_.size() - pos_ < bulk_len_ + 2) return std::nullopt;
        if (buf_[pos_ + bulk_len_] != '\r' || buf_[pos_ + bulk_len_ + 1] != '\n') {
          return Fail("Protocol error: expected CRLF after bulk string");
        }
        args_.emplace_back(buf_, pos_, bulk_len_);
        Consume(bulk_len_ + 2);
        if (--args_left_ > 0) {
          state_ = State::kBulkLength;
          continue;
        }
        return TakeCommand();
      }
    }
  }
  return status_;
}

}  // namespace kv::resp
