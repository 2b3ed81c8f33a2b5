#include "cmd/kvstore/status/page.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace kv::cmd::status {
namespace {

int Count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

dht::NodeId Id(uint8_t top) {
  std::array<uint8_t, dht::kIdBytes> b{};
  b[0] = top;
  b[19] = 1;
  return dht::NodeId(b);
}

PageModel FiveMembers() {
  PageModel m;
  m.rendered_at = absl::FromUnixSeconds(1796630400);
  m.self = {.id = Id(0x10), .address = "127.0.0.1:50051", .state = "alive", .self = true};
  m.self.keys = 1200;
  m.self.stored_bytes = 3 << 20;
  m.self.version = "0.2.0";
  m.self.uptime = absl::Minutes(90);
  m.members.push_back(m.self);
  const std::vector<std::pair<uint8_t, std::string>> others = {
      {0x40, "alive"}, {0x70, "suspect"}, {0xa0, "down"}, {0xd0, "alive"}};
  for (const auto& [top, state] : others) {
    MemberRow r{
        .id = Id(top), .address = "127.0.0.1:5005" + std::to_string(top % 10), .state = state};
    r.phi = 0.4;
    r.last_heard = absl::Milliseconds(300);
    if (state != "down") {
      r.keys = 1000;
      r.ops_per_second = 250;
    } else {
      r.error = "failed to connect to all addresses";
    }
    m.members.push_back(r);
  }
  m.recent = RecentSummary{.span = absl::Minutes(1),
                           .requests = 6000,
                           .requests_per_second = 100,
                           .p99 = absl::Microseconds(2500)};
  m.repair = {{.name = "hints_kept", .total = 12, .last_minute = 3},
              {.name = "hints_pending", .total = 9}};
  return m;
}

TEST(PageTest, ShowsEveryMemberByStateOnTheRingAndInTheTable) {
  const std::string page = RenderPage(FiveMembers());
  EXPECT_TRUE(absl::StartsWith(page, "<!doctype html>"));
  EXPECT_EQ(Count(page, R"(<tr class="member")"), 5);
  EXPECT_EQ(Count(page, R"(<circle class="member")"), 5);
  EXPECT_EQ(
      Count(page, R"(<tr class="member" data-id=")" + Id(0xa0).ToHex() + R"(" data-state="down")"),
      1);
  EXPECT_EQ(Count(page, R"(data-state="down")"), 2);  // its row and its dot
  EXPECT_EQ(Count(page, R"(data-state="alive")"), 6);
  EXPECT_TRUE(absl::StrContains(page, R"(<span>5 members</span>)"));
  EXPECT_TRUE(absl::StrContains(page, "did not answer: failed to connect to all addresses"));
  // Five owners (the down member still owns its keys) each get an arc.
  for (uint8_t top : {0x10, 0x40, 0x70, 0xa0, 0xd0}) {
    EXPECT_TRUE(absl::StrContains(page, R"(class="arc" data-owner=")" + Id(top).ToHex()))
        << int(top);
  }
}

TEST(PageTest, ShowsTheLastMinuteAndRepair) {
  const std::string page = RenderPage(FiveMembers());
  EXPECT_TRUE(absl::StrContains(page, R"(<span id="rate">100.0</span>)"));
  EXPECT_TRUE(absl::StrContains(page, R"(<span id="p99">2.50 ms</span>)"));
  EXPECT_TRUE(absl::StrContains(page, "<code>hints_kept</code></td><td>12</td><td>+3</td>"));
  EXPECT_TRUE(absl::StrContains(page, "<code>hints_pending</code></td><td>9</td><td>&mdash;"));
}

TEST(PageTest, SelfContainedAndRefreshing) {
  const std::string page = RenderPage(FiveMembers());
  EXPECT_TRUE(absl::StrContains(page, R"(<meta http-equiv="refresh" content="5">)"));
  EXPECT_FALSE(absl::StrContains(page, "<script"));
  EXPECT_FALSE(absl::StrContains(page, "src="));
  EXPECT_FALSE(absl::StrContains(page, "href="));
}

TEST(PageTest, DeadAndLeftMembersOwnNoArc) {
  PageModel m = FiveMembers();
  m.members[3].state = "dead";
  m.members[4].state = "left";
  const std::string page = RenderPage(m);
  EXPECT_FALSE(absl::StrContains(page, R"(data-owner=")" + m.members[3].id.ToHex()));
  EXPECT_FALSE(absl::StrContains(page, R"(data-owner=")" + m.members[4].id.ToHex()));
  EXPECT_EQ(Count(page, R"(<tr class="member")"), 5);
}

TEST(PageTest, EscapesWhatMembersSay) {
  PageModel m = FiveMembers();
  m.members[1].version = R"(<script>alert("x")</script>)";
  m.members[2].address = "a\"b'c&d";
  const std::string page = RenderPage(m);
  EXPECT_FALSE(absl::StrContains(page, "<script>"));
  EXPECT_TRUE(absl::StrContains(page, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
  EXPECT_TRUE(absl::StrContains(page, "a&quot;b&#39;c&amp;d"));
}

TEST(PageTest, BeforeTheFirstSamples) {
  PageModel m = FiveMembers();
  m.recent.reset();
  EXPECT_TRUE(absl::StrContains(RenderPage(m), "Not measured yet"));
}

}  // namespace
}  // namespace kv::cmd::status
