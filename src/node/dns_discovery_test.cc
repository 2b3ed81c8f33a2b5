#include "src/node/dns_discovery.h"

#include <algorithm>
#include <string>

#include "gtest/gtest.h"

namespace kv::node {
namespace {

TEST(DnsDiscovery, ParsesTarget) {
  auto t = ParseDnsTarget("dns:kvstore-headless.default.svc.cluster.local:50051");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->name, "kvstore-headless.default.svc.cluster.local");
  EXPECT_EQ(t->port, 50051);
  auto v6 = ParseDnsTarget("dns:[::1]:7");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->name, "::1");
  EXPECT_EQ(v6->port, 7);
}

TEST(DnsDiscovery, RejectsBadTargets) {
  for (const char* bad : {"", "kvstore:50051", "dns:", "dns:name", "dns::50051", "dns:name:",
                          "dns:name:0", "dns:name:65536", "dns:name:5x", "srv:name:1"}) {
    EXPECT_FALSE(ParseDnsTarget(bad).ok()) << bad;
  }
}

// Found by fuzz/flags_fuzzer.cc: getaddrinfo would resolve "localhost".
TEST(DnsDiscovery, RejectsANameWithANulByte) {
  using namespace std::string_literals;
  EXPECT_FALSE(ParseDnsTarget("dns:localhost\0.evil.example:50051"s).ok());
}

TEST(DnsDiscovery, ResolvesLocalhost) {
  auto seeds = ResolveDnsSeeds({"localhost", 50051});
  ASSERT_TRUE(seeds.ok()) << seeds.status();
  ASSERT_FALSE(seeds->empty());
  // /etc/hosts maps localhost to 127.0.0.1 (and usually ::1).
  bool v4 = std::find(seeds->begin(), seeds->end(), "127.0.0.1:50051") != seeds->end();
  bool v6 = std::find(seeds->begin(), seeds->end(), "[::1]:50051") != seeds->end();
  EXPECT_TRUE(v4 || v6) << (*seeds)[0];
  for (const std::string& s : *seeds) EXPECT_TRUE(s.ends_with(":50051")) << s;
  EXPECT_TRUE(std::is_sorted(seeds->begin(), seeds->end()));
}

TEST(DnsDiscovery, UnknownNameIsAnError) {
  auto seeds = ResolveDnsSeeds({"no-such-host.invalid", 50051});
  EXPECT_FALSE(seeds.ok());
}

}  // namespace
}  // namespace kv::node
