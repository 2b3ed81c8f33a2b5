#include "src/storage/record_codec.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kv::storage {
namespace {

using ::testing::HasSubstr;

const std::string kNode(40, 'a');

Record RoundTrip(const Record& rec) {
  absl::StatusOr<Record> got = DecodeRecord(EncodeRecord(rec));
  EXPECT_TRUE(got.ok()) << got.status();
  return got.ok() ? *got : Record{};
}

void ExpectSame(const Record& got, const Record& want) {
  EXPECT_EQ(got.value, want.value);
  EXPECT_EQ(got.version, want.version);
  EXPECT_EQ(got.tombstone, want.tombstone);
  EXPECT_EQ(got.expires_at_ms, want.expires_at_ms);
}

TEST(RecordCodecTest, RoundTripsEveryField) {
  const Record rec{.value = "hello",
                   .version = {.timestamp = 0x0123456789abcdefULL, .node_id = kNode},
                   .expires_at_ms = 1700000000123};
  ExpectSame(RoundTrip(rec), rec);
}

TEST(RecordCodecTest, RoundTripsTombstoneWithEmptyValue) {
  const Record rec{.version = {.timestamp = 7, .node_id = kNode}, .tombstone = true};
  ExpectSame(RoundTrip(rec), rec);
}

TEST(RecordCodecTest, RoundTripsDefaultRecord) { ExpectSame(RoundTrip(Record{}), Record{}); }

TEST(RecordCodecTest, RoundTripsBinaryAndLongFieldsAndExtremeNumbers) {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  Record rec{.value = binary + std::string(100000, '\0') + binary,  // multi-byte varint length
             .version = {.timestamp = std::numeric_limits<uint64_t>::max(),
                         .node_id = std::string(300, 'z')},
             .expires_at_ms = std::numeric_limits<int64_t>::max()};
  ExpectSame(RoundTrip(rec), rec);
  rec.expires_at_ms = std::numeric_limits<int64_t>::min();
  ExpectSame(RoundTrip(rec), rec);
}

// Pins the byte layout documented in docs/storage-format.md: a change to the
// encoding must change the document (and the format version) too.
TEST(RecordCodecTest, EncodesTheDocumentedByteLayout) {
  const Record rec{.value = "hi",
                   .version = {.timestamp = 0x0102030405060708ULL, .node_id = "ab"},
                   .tombstone = true,
                   .expires_at_ms = 0x1112131415161718LL};
  const std::string want = std::string(
      "\x01"                              // format version
      "\x01"                              // flags: tombstone
      "\x08\x07\x06\x05\x04\x03\x02\x01"  // timestamp, LE
      "\x18\x17\x16\x15\x14\x13\x12\x11"  // expires_at_ms, LE
      "\x02"
      "ab"  // node id
      "\x02"
      "hi",  // value
      24);
  EXPECT_EQ(EncodeRecord(rec), want);
}

TEST(RecordCodecTest, ViewPointsIntoTheEncodedBytes) {
  const std::string encoded =
      EncodeRecord(Record{.value = "payload", .version = {.timestamp = 3, .node_id = kNode}});
  absl::StatusOr<RecordView> view = DecodeRecordView(encoded);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->value, "payload");
  EXPECT_GE(view->value.data(), encoded.data());
  EXPECT_LE(view->value.data() + view->value.size(), encoded.data() + encoded.size());
  EXPECT_EQ(view->node_id, kNode);
}

TEST(RecordCodecTest, RejectsUnknownFormatVersionsNamingThem) {
  std::string encoded = EncodeRecord(Record{.value = "v", .version = {1, kNode}});
  for (int version : {0, 2, 255}) {
    encoded[0] = static_cast<char>(version);
    absl::StatusOr<Record> got = DecodeRecord(encoded);
    ASSERT_FALSE(got.ok()) << version;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(got.status().message()),
                HasSubstr(absl::StrCat("unknown format version ", version)));
  }
}

TEST(RecordCodecTest, RejectsEveryTruncation) {
  const std::string encoded = EncodeRecord(
      Record{.value = std::string(200, 'v'), .version = {99, kNode}, .expires_at_ms = 5});
  for (size_t len = 0; len < encoded.size(); ++len) {
    absl::StatusOr<Record> got = DecodeRecord(std::string_view(encoded).substr(0, len));
    ASSERT_FALSE(got.ok()) << "accepted a " << len << "-byte prefix of " << encoded.size();
    EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << len;
    EXPECT_THAT(std::string(got.status().message()), HasSubstr("truncated")) << len;
  }
}

TEST(RecordCodecTest, RejectsTrailingBytes) {
  const std::string encoded = EncodeRecord(Record{.value = "v", .version = {1, kNode}}) + "x";
  absl::StatusOr<Record> got = DecodeRecord(encoded);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("1 unexpected bytes"));
}

TEST(RecordCodecTest, RejectsReservedFlagBits) {
  std::string encoded = EncodeRecord(Record{.value = "v", .version = {1, kNode}});
  encoded[1] = static_cast<char>(0x82);
  absl::StatusOr<Record> got = DecodeRecord(encoded);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("unknown flag bits 0x82"));
}

TEST(RecordCodecTest, RejectsOverlongLengthVarint) {
  std::string encoded = EncodeRecord(Record{});
  encoded.resize(18);          // keep the header
  encoded.append(11, '\x80');  // a varint that never ends
  absl::StatusOr<Record> got = DecodeRecord(encoded);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("node id length is not a varint"));
}

TEST(RecordCodecTest, RejectsLengthBeyondTheInput) {
  std::string encoded = EncodeRecord(Record{.value = "abc"});
  encoded[encoded.size() - 4] = '\x7f';  // the value's length byte
  absl::StatusOr<Record> got = DecodeRecord(encoded);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(got.status().message()),
              HasSubstr("the value is 127 bytes but only 3 remain"));
}

}  // namespace
}  // namespace kv::storage
