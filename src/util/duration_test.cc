#include "src/util/duration.h"

#include "gtest/gtest.h"

namespace kv::util {
namespace {

TEST(DurationTest, AcceptsUnits) {
  EXPECT_EQ(*ParseDurationFlag("--x", "500ms"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseDurationFlag("--x", "2s"), absl::Seconds(2));
  EXPECT_EQ(*ParseDurationFlag("--x", "5m"), absl::Minutes(5));
  EXPECT_EQ(*ParseDurationFlag("--x", "1m30s"), absl::Seconds(90));
}

TEST(DurationTest, RejectsMissingUnitZeroAndNegative) {
  for (const char* bad : {"", "5", "0", "0s", "-1s", "soon", "inf"}) {
    auto d = ParseDurationFlag("--heartbeat-interval", bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(d.status().message().find("--heartbeat-interval"), std::string::npos);
  }
}

}  // namespace
}  // namespace kv::util
