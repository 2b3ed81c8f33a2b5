#include "src/storage/record.h"

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace kv::storage {
namespace {

const std::string kNodeA(40, 'a');
const std::string kNodeB(40, 'b');

TEST(VersionTest, OrdersByTimestampFirst) {
  EXPECT_LT((Version{1, kNodeB}), (Version{2, kNodeA}));
  EXPECT_GT((Version{2, kNodeA}), (Version{1, kNodeB}));
}

TEST(VersionTest, BreaksTimestampTieByNodeId) {
  EXPECT_LT((Version{5, kNodeA}), (Version{5, kNodeB}));
  EXPECT_NE((Version{5, kNodeA}), (Version{5, kNodeB}));
  EXPECT_EQ((Version{5, kNodeA}), (Version{5, kNodeA}));
}

TEST(VersionTest, ZeroVersionSortsBeforeEveryOther) {
  Version zero;
  EXPECT_TRUE(zero.IsZero());
  EXPECT_FALSE((Version{1, ""}).IsZero());
  EXPECT_FALSE((Version{0, kNodeA}).IsZero());
  EXPECT_LT(zero, (Version{0, kNodeA}));
  EXPECT_LT(zero, (Version{1, ""}));
}

TEST(RecordTest, NeverExpiresWithoutExpiry) {
  Record rec;
  EXPECT_FALSE(rec.ExpiredAt(0));
  EXPECT_FALSE(rec.ExpiredAt(std::numeric_limits<int64_t>::max()));
  EXPECT_TRUE(rec.LiveAt(std::numeric_limits<int64_t>::max()));
}

TEST(RecordTest, ExpiresAtExactlyExpiryTime) {
  Record rec{.value = "v", .expires_at_ms = 1000};
  EXPECT_FALSE(rec.ExpiredAt(999));
  EXPECT_TRUE(rec.LiveAt(999));
  EXPECT_TRUE(rec.ExpiredAt(1000));
  EXPECT_FALSE(rec.LiveAt(1000));
  EXPECT_TRUE(rec.ExpiredAt(1001));
}

TEST(RecordTest, TombstoneIsNeverLive) {
  Record rec{.tombstone = true};
  EXPECT_FALSE(rec.ExpiredAt(5));
  EXPECT_FALSE(rec.LiveAt(5));
}

TEST(RecordTest, ApproximateBytesCountsKeyValueAndNodeId) {
  Record rec{.value = std::string(100, 'v'), .version = {7, kNodeA}};
  // "key" fits std::string's inline buffer; the 100-byte value and the
  // 40-byte node ID take malloc blocks of 112 and 64 bytes.
  EXPECT_EQ(rec.ApproximateBytes("key"), 3 + 112 + 64 + kRecordOverheadBytes);
  EXPECT_GT(rec.ApproximateBytes("longer-key"), rec.ApproximateBytes("key"));
  EXPECT_EQ(rec.ApproximateBytes(std::string(16, 'k')), 32 + 112 + 64 + kRecordOverheadBytes);
  Record empty;
  EXPECT_EQ(empty.ApproximateBytes(""), kRecordOverheadBytes);
}

TEST(RecordTest, ApproximateBytesNeverShrinksAsStringsGrow) {
  size_t previous = 0;
  for (size_t n = 0; n < 300; ++n) {
    const size_t bytes = Record{.value = std::string(n, 'v')}.ApproximateBytes("k");
    EXPECT_GE(bytes, previous) << n;
    EXPECT_GE(bytes, n + 1 + kRecordOverheadBytes) << n;
    previous = bytes;
  }
}

TEST(RecordTest, PrintsVersionAndRecordReadably) {
  std::ostringstream version;
  version << Version{(uint64_t{1700} << 16) | 3, kNodeA};
  EXPECT_EQ(version.str(), "1700.3@" + kNodeA);

  std::ostringstream zero;
  zero << Version{};
  EXPECT_EQ(zero.str(), "0.0@-");

  Record rec{.value = std::string("a\0\n", 3) + std::string(100, 'x'),
             .version = {(uint64_t{5} << 16), kNodeB},
             .tombstone = true,
             .expires_at_ms = 99};
  std::ostringstream out;
  out << rec;
  EXPECT_EQ(out.str(), "{version=5.0@" + kNodeB + " tombstone expires_at_ms=99 value=\"a\\x00\\n" +
                           std::string(61, 'x') + "\"...(103 bytes)}");
}

}  // namespace
}  // namespace kv::storage
