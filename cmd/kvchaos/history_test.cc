#include "cmd/kvchaos/history.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace kv::chaos {
namespace {

using ::nlohmann::json;

// Every byte value, a quote and a backslash among them.
std::string AllBytes() {
  std::string s;
  for (int c = 0; c < 256; ++c) s += static_cast<char>(c);
  return s;
}

// What a JSON reader sees for `bytes`: each byte as the code point of the
// same number, in UTF-8 (Python: `bytes.decode("latin-1")`).
std::string AsLatin1Text(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

bool IsPrintableAscii(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// A file of its own under the test's temporary directory, removed at the end.
class HistoryFileTest : public ::testing::Test {
 protected:
  void TearDown() override { std::remove(path_.c_str()); }
  const std::string path_ = ::testing::TempDir() + "/kvchaos_history_test_" +
                            ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                            ".jsonl";
};

// kvchaos replicas' lines, which tests/chaos reads back.
TEST(HistoryTest, ReplicaAnswerLines) {
  EXPECT_EQ(ToJson(ReplicaAnswer{.key = "k1", .node = "127.0.0.1:1", .error = "UNAVAILABLE: x"}),
            R"({"key":"k1","node":"127.0.0.1:1","error":"UNAVAILABLE: x"})");
  EXPECT_EQ(ToJson(ReplicaAnswer{.key = "k1", .node = "n"}),
            R"({"key":"k1","node":"n","found":false})");
  EXPECT_EQ(ToJson(ReplicaAnswer{.key = std::string("k\xff\"", 3),
                                 .node = "n",
                                 .found = true,
                                 .tombstone = true,
                                 .timestamp = 117743661897875456u,
                                 .node_id = "ab12"}),
            R"({"key":"k\u00ff\"","node":"n","found":true,"tombstone":true,)"
            R"("version":{"timestamp":117743661897875456,"node_id":"ab12"}})");
}

TEST(HistoryTest, InvocationLineIsTheReadmeExample) {
  Event e;
  e.process = "4";
  e.type = "invoke";
  e.f = "write";
  e.key = "reg-2";
  e.value = "4-17";
  e.time_ns = 13047105966156;
  e.node = "10.213.0.13:50051";
  EXPECT_EQ(ToJson(e), R"({"process":4,"type":"invoke","f":"write","key":"reg-2","value":"4-17",)"
                       R"("time_ns":13047105966156,"node":"10.213.0.13:50051"})");
}

TEST(HistoryTest, CompletionCarriesErrorAndVersionOnlyWhenSet) {
  Event e;
  e.process = "final";
  e.type = "fail";
  e.f = "read";
  e.key = "k";
  e.time_ns = 5;
  e.node = "n";
  e.error = "UNAVAILABLE: write quorum not reachable";
  EXPECT_EQ(ToJson(e),
            R"({"process":"final","type":"fail","f":"read","key":"k","value":null,"time_ns":5,)"
            R"("node":"n","error":"UNAVAILABLE: write quorum not reachable"})");
  e.type = "ok";
  e.error.clear();
  e.value = "";
  e.version = "1732@3fa1b2c4";
  EXPECT_EQ(ToJson(e),
            R"({"process":"final","type":"ok","f":"read","key":"k","value":"","time_ns":5,)"
            R"("node":"n","version":"1732@3fa1b2c4"})");
}

TEST(HistoryTest, ProcessTooLargeForANumberStaysAString) {
  Event e;
  e.process = "123456789012345678901234567890";
  const json j = json::parse(ToJson(e));
  EXPECT_EQ(j["process"], "123456789012345678901234567890");
}

TEST(HistoryTest, AnyBytesMakeOneAsciiLineThatReadsBackAsLatin1) {
  Event e;
  e.process = "7";
  e.type = "info";
  e.f = "write";
  e.key = AllBytes();
  e.value = "quote \" backslash \\ newline \n nul " + std::string(1, '\0') + " bad utf-8 \xff\xfe";
  e.node = "n\x01";
  e.error = "DEADLINE_EXCEEDED: caf\xc3\xa9";  // valid UTF-8 is bytes like any other
  const std::string line = ToJson(e);
  EXPECT_TRUE(IsPrintableAscii(line)) << line;
  EXPECT_NE(line.find(R"(\u00ff\u00fe")"), std::string::npos) << line;

  const json j = json::parse(line);
  EXPECT_EQ(j["process"], 7);
  EXPECT_EQ(j["key"], AsLatin1Text(AllBytes()));
  EXPECT_EQ(j["value"], AsLatin1Text(*e.value));
  EXPECT_EQ(j["node"], AsLatin1Text(e.node));
  EXPECT_EQ(j["error"], "DEADLINE_EXCEEDED: caf\xc3\x83\xc2\xa9");  // "cafÃ©"
}

TEST(HistoryTest, JsonStringEscapesWhatJsonRequires) {
  EXPECT_EQ(JsonString("plain"), R"("plain")");
  EXPECT_EQ(JsonString("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(JsonString("\x01\x7f\x80\xff"), R"("\u0001\u007f\u0080\u00ff")");
  EXPECT_EQ(json::parse(JsonString("tab\tnl\n")), "tab\tnl\n");
}

TEST_F(HistoryFileTest, KeysInHistoryReturnsEachKeyOnceAsItsBytes) {
  const std::vector<std::string> written = {
      "reg-1", AllBytes(), "reg-1", "caf\xc3\xa9", std::string("a\0b", 3), AllBytes()};
  {
    absl::StatusOr<std::unique_ptr<HistoryWriter>> w = HistoryWriter::Open(path_);
    ASSERT_TRUE(w.ok()) << w.status();
    for (const std::string& key : written) {
      Event e;
      e.process = "1";
      e.type = "invoke";
      e.f = "add";
      e.key = key;
      (*w)->Write(e);
    }
  }
  absl::StatusOr<std::vector<std::string>> keys = KeysInHistory(path_);
  ASSERT_TRUE(keys.ok()) << keys.status();
  const std::vector<std::string> want = {"reg-1", AllBytes(), "caf\xc3\xa9",
                                         std::string("a\0b", 3)};
  EXPECT_EQ(*keys, want);
}

TEST_F(HistoryFileTest, KeysInHistorySkipsLinesWithoutAKey) {
  {
    std::ofstream out(path_);
    // As the hand-written encoder before nlohmann wrote them: \u000a, not \n.
    out << R"({"process":1,"type":"invoke","f":"add","key":"a\u000ab\u00ff","value":null})"
        << "\n";
    out << R"({"process":1,"type":"invoke","f":"add","key":"cut-o)"
        << "\n";  // not JSON
    out << R"({"key":17})"
        << "\n";
    out << R"(["key","k"])"
        << "\n";
    out << "\n";
    out << R"({"key":"\u20ac"})"
        << "\n";  // not Latin-1: its UTF-8 bytes
  }
  absl::StatusOr<std::vector<std::string>> keys = KeysInHistory(path_);
  ASSERT_TRUE(keys.ok()) << keys.status();
  const std::vector<std::string> want = {"a\nb\xff", "\xe2\x82\xac"};
  EXPECT_EQ(*keys, want);
}

TEST_F(HistoryFileTest, KeysInHistoryOfAMissingFileIsNotFound) {
  absl::StatusOr<std::vector<std::string>> keys = KeysInHistory(path_ + ".missing");
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kv::chaos
