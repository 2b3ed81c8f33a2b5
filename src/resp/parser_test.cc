#include "src/resp/parser.h"

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace kv::resp {
namespace {

using std::string_literals::operator""s;

// What a parser made of a stream: the commands, then OK (it wants more bytes)
// or the error it stopped at.
struct Parsed {
  std::vector<Command> commands;
  absl::Status status;
};

// Takes every command the parser has.
void Drain(Parser& parser, Parsed* parsed) {
  while (parsed->status.ok()) {
    absl::StatusOr<std::optional<Command>> next = parser.Next();
    if (!next.ok()) {
      parsed->status = next.status();
    } else if (!next->has_value()) {
      return;
    } else {
      parsed->commands.push_back(std::move(**next));
    }
  }
}

// Feeds `bytes` in pieces of `piece` bytes, draining after each.
Parsed ParseInPieces(std::string_view bytes, size_t piece, ParserLimits limits = {}) {
  Parser parser(limits);
  Parsed parsed;
  for (size_t i = 0; i < bytes.size(); i += piece) {
    parser.Feed(bytes.substr(i, piece));
    Drain(parser, &parsed);
  }
  return parsed;
}

Parsed Parse(std::string_view bytes, ParserLimits limits = {}) {
  return ParseInPieces(bytes, bytes.empty() ? 1 : bytes.size(), limits);
}

// The error Parse ends with, or "" if it ends wanting more bytes.
std::string ErrorOf(std::string_view bytes, ParserLimits limits = {}) {
  const Parsed parsed = Parse(bytes, limits);
  if (parsed.status.ok()) return "";
  EXPECT_EQ(parsed.status.code(), absl::StatusCode::kInvalidArgument);
  return std::string(parsed.status.message());
}

// A RESP array of bulk strings, written by hand (not by Writer).
std::string Array(const Command& args) {
  std::string out = absl::StrCat("*", args.size(), "\r\n");
  for (const std::string& a : args) absl::StrAppend(&out, "$", a.size(), "\r\n", a, "\r\n");
  return out;
}

TEST(RespParserTest, ParsesAnArrayOfBulkStrings) {
  const Parsed parsed = Parse("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
  ASSERT_TRUE(parsed.status.ok()) << parsed.status;
  EXPECT_EQ(parsed.commands, (std::vector<Command>{{"GET", "k"}}));
}

TEST(RespParserTest, KeepsTheCommandNameAsTyped) {
  EXPECT_EQ(Parse("*1\r\n$4\r\npInG\r\nget k\r\n").commands,
            (std::vector<Command>{{"pInG"}, {"get", "k"}}));
}

TEST(RespParserTest, WantsMoreBytesUntilTheCommandIsComplete) {
  Parser parser;
  EXPECT_EQ(parser.Next().value(), std::nullopt);
  parser.Feed("*2\r\n$3\r\nGET\r\n$1\r\nk\r");
  EXPECT_EQ(parser.Next().value(), std::nullopt);
  parser.Feed("\n");
  EXPECT_EQ(parser.Next().value(), (Command{"GET", "k"}));
  EXPECT_EQ(parser.Next().value(), std::nullopt);
}

TEST(RespParserTest, ParsesACommandFedOneByteAtATime) {
  const std::string wire = "*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$5\r\nv\0lue\r\nPING\r\n"s;
  Parser parser;
  std::vector<Command> commands;
  for (size_t i = 0; i < wire.size(); ++i) {
    parser.Feed(wire.substr(i, 1));
    absl::StatusOr<std::optional<Command>> next = parser.Next();
    ASSERT_TRUE(next.ok()) << next.status();
    if (next->has_value()) commands.push_back(**next);
  }
  EXPECT_EQ(commands, (std::vector<Command>{{"SET", "k\r\n", "v\0lue"s}, {"PING"}}));
  EXPECT_EQ(ParseInPieces(wire, 1).commands, commands);
}

TEST(RespParserTest, ParsesManyPipelinedCommandsFromOneFeed) {
  std::string wire;
  std::vector<Command> want;
  for (int i = 0; i < 1000; ++i) {
    Command c = {"SET", absl::StrCat("key", i), std::string(i % 50, 'v')};
    if (i % 3 == 0) {
      absl::StrAppend(&wire, "SET ", c[1], " ", c[2].empty() ? "\"\"" : c[2], "\r\n");
    } else {
      wire += Array(c);
    }
    want.push_back(std::move(c));
  }
  Parser parser;
  parser.Feed(wire);
  Parsed parsed;
  Drain(parser, &parsed);
  ASSERT_TRUE(parsed.status.ok()) << parsed.status;
  EXPECT_EQ(parsed.commands, want);
  EXPECT_EQ(parser.buffered(), 0u);
}

TEST(RespParserTest, BulkStringsAreBinarySafe) {
  const std::string value = "a\r\nb\0c\r\n\n\r$*"s;
  EXPECT_EQ(Parse(Array({"SET", "\0"s, value})).commands,
            (std::vector<Command>{{"SET", "\0"s, value}}));
  EXPECT_EQ(Parse(Array({"SET", "", ""})).commands, (std::vector<Command>{{"SET", "", ""}}));
}

TEST(RespParserTest, ParsesAOneMebibyteBulkFedInOneKibibytePieces) {
  std::string value(1 << 20, '\0');
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(i * 7 + i / 1000);
  const std::string wire = "PING\r\n" + Array({"SET", "big", value}) + Array({"GET", "big"});
  const Parsed parsed = ParseInPieces(wire, 1024);
  ASSERT_TRUE(parsed.status.ok()) << parsed.status;
  EXPECT_EQ(parsed.commands,
            (std::vector<Command>{{"PING"}, {"SET", "big", value}, {"GET", "big"}}));
}

TEST(RespParserTest, ParsesAStreamLongerThanItsBufferInSmallPieces) {
  // Consumed bytes are dropped while later commands and a partial one are
  // kept: every piece size crosses the compaction threshold many times.
  std::string wire;
  std::vector<Command> want;
  for (int i = 0; i < 3000; ++i) {
    Command c = {"SET", absl::StrCat("k", i), std::string(static_cast<size_t>(i % 700), 'x')};
    wire += i % 2 ? Array(c) : absl::StrCat(c[0], " ", c[1], " '", c[2], "'\n");
    want.push_back(std::move(c));
  }
  for (size_t piece : {7u, 1000u, 4096u, 5000u}) {
    const Parsed parsed = ParseInPieces(wire, piece);
    ASSERT_TRUE(parsed.status.ok()) << parsed.status;
    EXPECT_EQ(parsed.commands, want) << "pieces of " << piece;
  }
}

TEST(RespParserTest, AnySplitOfTheStreamParsesTheSame) {
  const std::string wire = Array({"SET", "k", "a\r\nb"}) + "GET \"k\\x41\"\r\n" + "*0\r\n\r\n" +
                           Array({"DEL", "k"}) + "*1\r\n$4\r\nPING\r\nX";
  const Parsed whole = Parse(wire);
  ASSERT_EQ(whole.commands.size(), 4u);
  for (size_t split = 0; split <= wire.size(); ++split) {
    Parser parser;
    Parsed parsed;
    parser.Feed(std::string_view(wire).substr(0, split));
    Drain(parser, &parsed);
    parser.Feed(std::string_view(wire).substr(split));
    Drain(parser, &parsed);
    EXPECT_EQ(parsed.commands, whole.commands) << "split at " << split;
    EXPECT_EQ(parser.buffered(), 1u) << "split at " << split;  // the "X"
  }
}

TEST(RespParserTest, SkipsEmptyAndNullArrays) {
  const Parsed parsed = Parse("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n*0\r\n");
  ASSERT_TRUE(parsed.status.ok()) << parsed.status;
  EXPECT_EQ(parsed.commands, (std::vector<Command>{{"PING"}}));
}

TEST(RespParserTest, SkipsEmptyInlineLines) {
  Parser parser;
  parser.Feed("\r\n\n   \t\r\n\nPING\n\r\n");
  EXPECT_EQ(parser.Next().value(), (Command{"PING"}));
  EXPECT_EQ(parser.Next().value(), std::nullopt);
  EXPECT_EQ(parser.buffered(), 0u);
}

TEST(RespParserTest, SplitsInlineCommandsOnBlanks) {
  EXPECT_EQ(Parse("SET k v\n  set\tk2   v2 \r\nPING\r\n").commands,
            (std::vector<Command>{{"SET", "k", "v"}, {"set", "k2", "v2"}, {"PING"}}));
  // A CR inside the line separates words; only one before the LF is stripped.
  EXPECT_EQ(Parse("GET a\rb\r\r\n").commands, (std::vector<Command>{{"GET", "a", "b"}}));
  // NUL is an ordinary byte.
  EXPECT_EQ(Parse("GET a\0b\n"s).commands, (std::vector<Command>{{"GET", "a\0b"s}}));
}

TEST(RespParserTest, InlineCommandsFollowRedisQuotingRules) {
  EXPECT_EQ(Parse("SET \"a b\" 'c d'\r\n").commands, (std::vector<Command>{{"SET", "a b", "c d"}}));
  EXPECT_EQ(Parse("SET k \"\"\n").commands, (std::vector<Command>{{"SET", "k", ""}}));
  EXPECT_EQ(Parse(R"(SET "\x41\x7a\n\r\t\b\a\"\\\q" 'it\'s \n')"
                  "\n")
                .commands,
            (std::vector<Command>{{"SET", "Az\n\r\t\b\a\"\\q", "it's \\n"}}));
  // "\x4" is not a hex escape: the backslash escapes the x.
  EXPECT_EQ(Parse("GET \"\\x4\"\n").commands, (std::vector<Command>{{"GET", "x4"}}));
  // A quote inside a word opens a quoted part of that word.
  EXPECT_EQ(Parse("SET a\"b c\"\n").commands, (std::vector<Command>{{"SET", "ab c"}}));
}

TEST(RespParserTest, RefusesUnbalancedQuotes) {
  constexpr char kUnbalanced[] = "Protocol error: unbalanced quotes in request";
  EXPECT_EQ(ErrorOf("SET \"a b\r\n"), kUnbalanced);
  EXPECT_EQ(ErrorOf("SET 'a b\n"), kUnbalanced);
  EXPECT_EQ(ErrorOf("SET \"a\\\"\n"), kUnbalanced);
  // A closing quote must be followed by a blank or the end of the line.
  EXPECT_EQ(ErrorOf("SET \"a\"b\n"), kUnbalanced);
  EXPECT_EQ(ErrorOf("SET 'a'b\n"), kUnbalanced);
  // Commands before the bad line are returned.
  const Parsed parsed = Parse("PING\nSET \"a\n");
  EXPECT_EQ(parsed.commands, (std::vector<Command>{{"PING"}}));
  EXPECT_EQ(parsed.status.message(), kUnbalanced);
}

TEST(RespParserTest, RefusesInvalidMultibulkLengths) {
  constexpr char kInvalid[] = "Protocol error: invalid multibulk length";
  for (const char* wire : {"*x\r\n", "*\r\n", "*-2\r\n", "*-0\r\n", "*01\r\n", "*+1\r\n", "*1 \r\n",
                           "* 1\r\n", "*1x\r\n", "*99999999999999999999\r\n",
                           "*9223372036854775808\r\n", "*1\rX", "*1\n$1\r\n"}) {
    EXPECT_EQ(ErrorOf(wire), kInvalid) << wire;
  }
}

TEST(RespParserTest, RefusesArrayElementsThatAreNotBulkStrings) {
  EXPECT_EQ(ErrorOf("*1\r\n:1\r\n"), "Protocol error: expected '$', got ':'");
  EXPECT_EQ(ErrorOf("*2\r\n$1\r\na\r\n*1\r\n"), "Protocol error: expected '$', got '*'");
  // Known from the first byte, without waiting for the line's end.
  EXPECT_EQ(ErrorOf("*1\r\nx"), "Protocol error: expected '$', got 'x'");
}

TEST(RespParserTest, RefusesInvalidBulkLengths) {
  constexpr char kInvalid[] = "Protocol error: invalid bulk length";
  for (const char* wire :
       {"*1\r\n$x\r\n", "*1\r\n$\r\n", "*1\r\n$-1\r\n", "*1\r\n$-5\r\n", "*1\r\n$01\r\n",
        "*1\r\n$3 \r\n", "*1\r\n$99999999999999999999\r\n", "*1\r\n$3\rabc\r\n"}) {
    EXPECT_EQ(ErrorOf(wire), kInvalid) << wire;
  }
}

TEST(RespParserTest, RefusesABulkNotFollowedByCrlf) {
  constexpr char kNoCrlf[] = "Protocol error: expected CRLF after bulk string";
  EXPECT_EQ(ErrorOf("*1\r\n$3\r\nabcd\r\n"), kNoCrlf);
  EXPECT_EQ(ErrorOf("*1\r\n$3\r\nabc\rX"), kNoCrlf);
  EXPECT_EQ(ErrorOf("*1\r\n$3\r\nabc\n\r"), kNoCrlf);
  EXPECT_EQ(ErrorOf("*1\r\n$3\r\nabc\r"), "");  // its LF may still come
}

TEST(RespParserTest, BulkLengthLimitIsInclusive) {
  ParserLimits limits;
  limits.max_bulk_bytes = 4;
  EXPECT_EQ(Parse(Array({"GET", "abcd"}), limits).commands,
            (std::vector<Command>{{"GET", "abcd"}}));
  EXPECT_EQ(ErrorOf(Array({"GET", "abcde"}), limits), "Protocol error: invalid bulk length");
  // Refused from the header, before the bulk arrives.
  EXPECT_EQ(ErrorOf("*1\r\n$600000000\r\n"), "Protocol error: invalid bulk length");
}

TEST(RespParserTest, ArgumentCountLimitIsInclusive) {
  ParserLimits limits;
  limits.max_args = 3;
  EXPECT_EQ(Parse(Array({"SET", "k", "v"}), limits).commands,
            (std::vector<Command>{{"SET", "k", "v"}}));
  EXPECT_EQ(ErrorOf("*4\r\n", limits), "Protocol error: invalid multibulk length");
  EXPECT_EQ(ErrorOf("*2000000\r\n"), "Protocol error: invalid multibulk length");
}

TEST(RespParserTest, InlineLineLimitIsInclusive) {
  ParserLimits limits;
  limits.max_inline_bytes = 10;
  constexpr char kTooBig[] = "Protocol error: too big inline request";
  EXPECT_EQ(Parse("GET 123456\n", limits).commands, (std::vector<Command>{{"GET", "123456"}}));
  // The limit counts the CR of a CRLF.
  EXPECT_EQ(Parse("GET 12345\r\n", limits).commands, (std::vector<Command>{{"GET", "12345"}}));
  EXPECT_EQ(ErrorOf("GET 1234567\n", limits), kTooBig);
  // Refused as soon as more than the limit arrived without a line end.
  EXPECT_EQ(ErrorOf("GET 1234567", limits), kTooBig);
  EXPECT_EQ(ErrorOf("GET 123456", limits), "");
  EXPECT_EQ(ErrorOf(std::string(64 << 10, 'a') + "\n"), "");
  EXPECT_EQ(ErrorOf(std::string((64 << 10) + 1, 'a')), kTooBig);
}

TEST(RespParserTest, LengthLinesAreBoundByTheInlineLimit) {
  ParserLimits limits;
  limits.max_inline_bytes = 4;
  EXPECT_EQ(ErrorOf("*0000", limits), "Protocol error: too big mbulk count string");
  EXPECT_EQ(ErrorOf("*1\r\n$0000", limits), "Protocol error: too big bulk count string");
  EXPECT_EQ(ErrorOf("*1\r\n$0000\r\n", limits), "Protocol error: too big bulk count string");
  EXPECT_EQ(Parse("*1\r\n$3\r\nabc\r\n", limits).commands, (std::vector<Command>{{"abc"}}));
}

TEST(RespParserTest, StaysFailedAfterAnError) {
  Parser parser;
  parser.Feed("PING\r\n*1\r\n$x\r\n");
  EXPECT_EQ(parser.Next().value(), (Command{"PING"}));
  const absl::Status first = parser.Next().status();
  EXPECT_EQ(first, absl::InvalidArgumentError("Protocol error: invalid bulk length"));
  parser.Feed("PING\r\n");
  EXPECT_EQ(parser.Next().status(), first);
  EXPECT_EQ(parser.Next().status(), first);
}

TEST(RespParserTest, BufferedCountsBytesNotYetReturnedAsACommand) {
  Parser parser;
  parser.Feed("*2\r\n$3\r\nGET\r\n");
  EXPECT_EQ(parser.Next().value(), std::nullopt);
  EXPECT_EQ(parser.buffered(), 13u);
  parser.Feed("$1\r\nk\r\nPI");
  EXPECT_EQ(parser.buffered(), 22u);
  EXPECT_EQ(parser.Next().value(), (Command{"GET", "k"}));
  EXPECT_EQ(parser.buffered(), 2u);
  EXPECT_EQ(parser.Next().value(), std::nullopt);
  parser.Feed("NG\r\n*0\r\n");
  EXPECT_EQ(parser.Next().value(), (Command{"PING"}));
  EXPECT_EQ(parser.buffered(), 4u);
  EXPECT_EQ(parser.Next().value(), std::nullopt);
  EXPECT_EQ(parser.buffered(), 0u);
}

}  // namespace
}  // namespace kv::resp
