#include "src/resp/writer.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <string>

#include "gtest/gtest.h"
#include "src/resp/parser.h"

namespace kv::resp {
namespace {

using std::string_literals::operator""s;

// The bytes `write` appends in `protocol`.
std::string Wire(Protocol protocol, const std::function<void(Writer&)>& write) {
  std::string out;
  Writer writer(&out, protocol);
  write(writer);
  return out;
}

std::string Resp2(const std::function<void(Writer&)>& write) {
  return Wire(Protocol::kResp2, write);
}

std::string Resp3(const std::function<void(Writer&)>& write) {
  return Wire(Protocol::kResp3, write);
}

TEST(RespWriterTest, SimpleStringIsOneLineInBothProtocols) {
  for (Protocol p : {Protocol::kResp2, Protocol::kResp3}) {
    EXPECT_EQ(Wire(p, [](Writer& w) { w.SimpleString("OK"); }), "+OK\r\n");
    EXPECT_EQ(Wire(p, [](Writer& w) { w.SimpleString("a\r\nb\nc\rd"); }), "+a  b c d\r\n");
    EXPECT_EQ(Wire(p, [](Writer& w) { w.SimpleString(""); }), "+\r\n");
  }
}

TEST(RespWriterTest, ErrorIsOneLineInBothProtocols) {
  for (Protocol p : {Protocol::kResp2, Protocol::kResp3}) {
    EXPECT_EQ(Wire(p, [](Writer& w) { w.Error("ERR unknown command 'FOO'"); }),
              "-ERR unknown command 'FOO'\r\n");
    EXPECT_EQ(Wire(p, [](Writer& w) { w.Error("WRONGTYPE a\r\nb"); }), "-WRONGTYPE a  b\r\n");
  }
}

TEST(RespWriterTest, IntegerIsTheSameInBothProtocols) {
  for (Protocol p : {Protocol::kResp2, Protocol::kResp3}) {
    EXPECT_EQ(Wire(p, [](Writer& w) { w.Integer(1); }), ":1\r\n");
    EXPECT_EQ(Wire(p, [](Writer& w) { w.Integer(0); }), ":0\r\n");
    EXPECT_EQ(Wire(p, [](Writer& w) { w.Integer(-42); }), ":-42\r\n");
    EXPECT_EQ(Wire(p, [](Writer& w) { w.Integer(INT64_MIN); }), ":-9223372036854775808\r\n");
    EXPECT_EQ(Wire(p, [](Writer& w) { w.Integer(INT64_MAX); }), ":9223372036854775807\r\n");
  }
}

TEST(RespWriterTest, BulkIsBinarySafeInBothProtocols) {
  for (Protocol p : {Protocol::kResp2, Protocol::kResp3}) {
    EXPECT_EQ(Wire(p, [](Writer& w) { w.Bulk("abc"); }), "$3\r\nabc\r\n");
    EXPECT_EQ(Wire(p, [](Writer& w) { w.Bulk(""); }), "$0\r\n\r\n");
    EXPECT_EQ(Wire(p, [](Writer& w) { w.Bulk("a\r\n\0b"s); }), "$5\r\na\r\n\0b\r\n"s);
  }
}

TEST(RespWriterTest, NullIsANullBulkInResp2AndUnderscoreInResp3) {
  EXPECT_EQ(Resp2([](Writer& w) { w.Null(); }), "$-1\r\n");
  EXPECT_EQ(Resp3([](Writer& w) { w.Null(); }), "_\r\n");
}

TEST(RespWriterTest, NullArrayIsStarMinusOneInResp2AndUnderscoreInResp3) {
  EXPECT_EQ(Resp2([](Writer& w) { w.NullArray(); }), "*-1\r\n");
  EXPECT_EQ(Resp3([](Writer& w) { w.NullArray(); }), "_\r\n");
}

TEST(RespWriterTest, ArrayHeaderIsTheSameInBothProtocols) {
  for (Protocol p : {Protocol::kResp2, Protocol::kResp3}) {
    EXPECT_EQ(Wire(p, [](Writer& w) { w.ArrayHeader(0); }), "*0\r\n");
    EXPECT_EQ(Wire(p,
                   [](Writer& w) {
                     w.ArrayHeader(2);
                     w.Bulk("a");
                     w.Integer(1);
                   }),
              "*2\r\n$1\r\na\r\n:1\r\n");
  }
}

TEST(RespWriterTest, MapIsAFlatArrayOfPairsInResp2) {
  const auto map = [](Writer& w) {
    w.MapHeader(2);
    w.Bulk("a");
    w.Integer(1);
    w.Bulk("b");
    w.Integer(2);
  };
  EXPECT_EQ(Resp3(map), "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:2\r\n");
  EXPECT_EQ(Resp2(map), "*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:2\r\n");
  EXPECT_EQ(Resp2([](Writer& w) { w.MapHeader(0); }), "*0\r\n");
}

TEST(RespWriterTest, SetIsAnArrayInResp2) {
  EXPECT_EQ(Resp3([](Writer& w) { w.SetHeader(3); }), "~3\r\n");
  EXPECT_EQ(Resp2([](Writer& w) { w.SetHeader(3); }), "*3\r\n");
}

TEST(RespWriterTest, DoubleIsABulkStringInResp2) {
  EXPECT_EQ(Resp3([](Writer& w) { w.Double(1.5); }), ",1.5\r\n");
  EXPECT_EQ(Resp2([](Writer& w) { w.Double(1.5); }), "$3\r\n1.5\r\n");
  EXPECT_EQ(Resp3([](Writer& w) { w.Double(3); }), ",3\r\n");
  EXPECT_EQ(Resp3([](Writer& w) { w.Double(-0.0); }), ",-0\r\n");
  EXPECT_EQ(Resp3([](Writer& w) { w.Double(0.0); }), ",0\r\n");
  EXPECT_EQ(Resp3([](Writer& w) { w.Double(1e18); }), ",1000000000000000000\r\n");
  EXPECT_EQ(Resp3([](Writer& w) { w.Double(1e100); }), ",1e+100\r\n");
  EXPECT_EQ(Resp3([](Writer& w) { w.Double(0.1); }), ",0.1\r\n");
  EXPECT_EQ(Resp3([](Writer& w) { w.Double(-2.5); }), ",-2.5\r\n");
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(Resp3([&](Writer& w) { w.Double(inf); }), ",inf\r\n");
  EXPECT_EQ(Resp3([&](Writer& w) { w.Double(-inf); }), ",-inf\r\n");
  EXPECT_EQ(Resp3([](Writer& w) { w.Double(std::nan("")); }), ",nan\r\n");
  EXPECT_EQ(Resp3([](Writer& w) { w.Double(-std::nan("")); }), ",nan\r\n");
  EXPECT_EQ(Resp2([&](Writer& w) { w.Double(inf); }), "$3\r\ninf\r\n");
  EXPECT_EQ(Resp2([&](Writer& w) { w.Double(-inf); }), "$4\r\n-inf\r\n");
  EXPECT_EQ(Resp2([](Writer& w) { w.Double(std::nan("")); }), "$3\r\nnan\r\n");
}

TEST(RespWriterTest, DoubleTextReadsBackAsTheSameValue) {
  for (double v : {0.1, 1.0 / 3, 6.02214076e23, -1.7976931348623157e308, 5e-324, 4.6e18}) {
    const std::string wire = Resp3([&](Writer& w) { w.Double(v); });
    ASSERT_EQ(wire.front(), ',');
    // strtod, not stod: stod throws on the subnormal 5e-324.
    EXPECT_EQ(std::strtod(wire.c_str() + 1, nullptr), v) << wire;
  }
}

TEST(RespWriterTest, BooleanIsAnIntegerInResp2) {
  EXPECT_EQ(Resp3([](Writer& w) { w.Boolean(true); }), "#t\r\n");
  EXPECT_EQ(Resp3([](Writer& w) { w.Boolean(false); }), "#f\r\n");
  EXPECT_EQ(Resp2([](Writer& w) { w.Boolean(true); }), ":1\r\n");
  EXPECT_EQ(Resp2([](Writer& w) { w.Boolean(false); }), ":0\r\n");
}

TEST(RespWriterTest, VerbatimIsABulkStringOfTheTextInResp2) {
  EXPECT_EQ(Resp3([](Writer& w) { w.Verbatim("txt", "hello"); }), "=9\r\ntxt:hello\r\n");
  EXPECT_EQ(Resp3([](Writer& w) { w.Verbatim("mkd", ""); }), "=4\r\nmkd:\r\n");
  EXPECT_EQ(Resp3([](Writer& w) { w.Verbatim("txt", "a\r\nb"); }), "=8\r\ntxt:a\r\nb\r\n");
  EXPECT_EQ(Resp2([](Writer& w) { w.Verbatim("txt", "hello"); }), "$5\r\nhello\r\n");
}

TEST(RespWriterTest, ProtocolCanChangeBetweenReplies) {
  std::string out;
  Writer w(&out, Protocol::kResp2);
  EXPECT_EQ(w.protocol(), Protocol::kResp2);
  w.Null();
  w.set_protocol(Protocol::kResp3);
  EXPECT_EQ(w.protocol(), Protocol::kResp3);
  w.Null();
  EXPECT_EQ(out, "$-1\r\n_\r\n");
}

TEST(RespWriterTest, AppendsToWhatTheStringHolds) {
  std::string out = "+PONG\r\n";
  Writer w(&out, Protocol::kResp3);
  w.SimpleString("a\nb");
  EXPECT_EQ(out, "+PONG\r\n+a b\r\n");
}

TEST(RespWriterTest, ArraysOfBulksParseBackAsTheSameCommand) {
  const Command command = {"SET", "k\r\n\0"s, std::string(100000, 'v'), ""};
  std::string out;
  Writer w(&out, Protocol::kResp2);
  w.ArrayHeader(command.size());
  for (const std::string& arg : command) w.Bulk(arg);
  Parser parser;
  parser.Feed(out);
  EXPECT_EQ(parser.Next().value(), command);
  EXPECT_EQ(parser.buffered(), 0u);
}

}  // namespace
}  // namespace kv::resp
