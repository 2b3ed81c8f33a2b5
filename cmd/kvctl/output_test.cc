#include "cmd/kvctl/output.h"

#include <cmath>
#include <string>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "proto/kv.pb.h"

namespace kv::kvctl {
namespace {

namespace v1 = kvstore::v1;

// What protobuf's own JSON parser reads back from `json` (a JSON string).
std::string ParsedString(const std::string& json) {
  google::protobuf::Value v;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &v).ok()) << json;
  return v.string_value();
}

TEST(KvctlJsonStringTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonString("a\"b\\c\n\t\r\x01"), R"("a\"b\\c\n\t\r\u0001")");
  EXPECT_EQ(JsonString(std::string("\0", 1)), R"("\u0000")");
}

TEST(KvctlJsonStringTest, PassesWellFormedUtf8Through) {
  EXPECT_EQ(JsonString("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

TEST(KvctlJsonStringTest, ReplacesEachByteOfIllFormedUtf8WithReplacementCharacter) {
  const std::string fffd = "\xef\xbf\xbd";
  EXPECT_EQ(JsonString("a\xff"
                       "b"),
            "\"a" + fffd + "b\"");
  EXPECT_EQ(JsonString("\xe2\x82"), "\"" + fffd + fffd + "\"");             // cut short
  EXPECT_EQ(JsonString("\xc0\xaf"), "\"" + fffd + fffd + "\"");             // overlong '/'
  EXPECT_EQ(JsonString("\xed\xa0\x80"), "\"" + fffd + fffd + fffd + "\"");  // a surrogate
  EXPECT_EQ(JsonString("\xf4\x90\x80\x80"), "\"" + fffd + fffd + fffd + fffd + "\"");  // > U+10FFFF
}

TEST(KvctlJsonStringTest, EveryByteGivesJsonThatParses) {
  for (int b = 0; b < 256; ++b) {
    const std::string s = std::string("x") + static_cast<char>(b) + "y";
    const std::string parsed = ParsedString(JsonString(s));
    if (b < 0x80) {
      EXPECT_EQ(parsed, s) << b;
    } else {
      EXPECT_EQ(parsed, "x\xef\xbf\xbdy") << b;
    }
  }
}

TEST(KvctlProtoJsonTest, UsesProtoFieldNamesAndPrintsDefaultValues) {
  v1::GetResponse resp;
  EXPECT_EQ(ProtoJson(resp), R"({"found":false,"value":""})");
  v1::LocateResponse locate;
  locate.set_key_id("ab");
  locate.set_replication_factor(3);
  EXPECT_EQ(ProtoJson(locate), R"({"key_id":"ab","replication_factor":3,"replicas":[]})");
}

TEST(KvctlProtoJsonTest, PrintsBytesAsBase64And64BitIntegersAsStrings) {
  v1::GetResponse resp;
  resp.set_found(true);
  resp.set_value(std::string("\xff\0a", 3));
  resp.mutable_version()->set_timestamp(uint64_t{1} << 60);
  resp.mutable_version()->set_node_id("n1");
  EXPECT_EQ(ProtoJson(resp),
            R"({"found":true,"value":"/wBh","version":{"timestamp":"1152921504606846976",)"
            R"("node_id":"n1"}})");
}

TEST(KvctlProtoJsonTest, PrintsEnumsByName) {
  v1::PeerEntry p;
  p.set_state(v1::SUSPECT);
  EXPECT_NE(ProtoJson(p).find(R"("state":"SUSPECT")"), std::string::npos) << ProtoJson(p);
}

TEST(KvctlProtoJsonTest, LeavesOutUnsetOptionalFieldsAndPrintsSetOnes) {
  v1::PeerEntry p;
  EXPECT_EQ(ProtoJson(p).find("clock_offset_micros"), std::string::npos) << ProtoJson(p);
  p.set_clock_offset_micros(0);  // measured: no offset
  EXPECT_NE(ProtoJson(p).find(R"("clock_offset_micros":"0")"), std::string::npos) << ProtoJson(p);
}

TEST(KvctlProtoJsonTest, SortsMapEntriesByKey) {
  v1::StatsResponse stats;
  for (const char* name : {"zeta", "alpha", "mid", "beta", "omega", "keys", "hints"}) {
    (*stats.mutable_counters())[name] = 1;
  }
  const std::string json = ProtoJson(stats);
  EXPECT_NE(json.find(R"("counters":{"alpha":"1","beta":"1","hints":"1","keys":"1","mid":"1",)"
                      R"("omega":"1","zeta":"1"})"),
            std::string::npos)
      << json;
}

TEST(KvctlJsonObjectTest, KeepsFieldsInOrderAndSplicesOtherObjects) {
  EXPECT_EQ(JsonObject().str(), "{}");
  EXPECT_EQ(JsonObject().String("key", "k").Fields("{}").str(), R"({"key":"k"})");
  EXPECT_EQ(JsonObject()
                .Fields(R"({"a":1,"b":{"c":2}})")
                .Bool("t", true)
                .Int("i", -3)
                .Uint("u", 18446744073709551615u)
                .Null("n")
                .Raw("r", "[1]")
                .str(),
            R"({"a":1,"b":{"c":2},"t":true,"i":-3,"u":18446744073709551615,"n":null,"r":[1]})");
}

TEST(KvctlJsonObjectTest, PrintsNonFiniteDoublesAsNull) {
  EXPECT_EQ(JsonObject().Double("d", 0.25).Double("nan", std::nan("")).str(),
            R"({"d":0.25,"nan":null})");
}

}  // namespace
}  // namespace kv::kvctl
