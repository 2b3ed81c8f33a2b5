#include "src/util/address_prefix.h"

#include <string>

#include "gtest/gtest.h"

namespace kv::util {
namespace {

IpAddress Ip(const std::string& s) {
  absl::StatusOr<IpAddress> a = IpAddress::Parse(s);
  EXPECT_TRUE(a.ok()) << s << ": " << a.status();
  return a.ok() ? *a : IpAddress{};
}

bool In(const std::string& prefix, const std::string& addr) {
  absl::StatusOr<AddressPrefix> p = AddressPrefix::Parse(prefix);
  EXPECT_TRUE(p.ok()) << prefix << ": " << p.status();
  return p.ok() && p->Contains(Ip(addr));
}

TEST(IpAddressTest, LoopbackIsAll127AndIpv6One) {
  EXPECT_TRUE(Ip("127.0.0.1").IsLoopback());
  EXPECT_TRUE(Ip("127.200.3.4").IsLoopback());
  EXPECT_TRUE(Ip("::1").IsLoopback());
  EXPECT_TRUE(Ip("[::1]").IsLoopback());
  EXPECT_TRUE(Ip("::ffff:127.0.0.1").IsLoopback());
  EXPECT_FALSE(Ip("10.0.0.1").IsLoopback());
  EXPECT_FALSE(Ip("128.0.0.1").IsLoopback());
  EXPECT_FALSE(Ip("::2").IsLoopback());
  EXPECT_FALSE(Ip("fe80::1").IsLoopback());
}

TEST(IpAddressTest, RefusesWhatIsNotAnAddress) {
  for (const char* bad : {"", "localhost", "10.0.0", "10.0.0.256", "1.2.3.4:80", "::g"}) {
    absl::StatusOr<IpAddress> a = IpAddress::Parse(bad);
    ASSERT_FALSE(a.ok()) << bad;
    EXPECT_NE(a.status().message().find("not an IPv4 or IPv6"), std::string::npos) << bad;
  }
}

// Found by fuzz/flags_fuzzer.cc: inet_pton stopped at the NUL, so these
// parsed as 10.0.0.1 and 10.0.0.0/8.
TEST(IpAddressTest, RefusesTextWithANulByte) {
  using namespace std::string_literals;
  EXPECT_FALSE(IpAddress::Parse("10.0.0.1\0junk"s).ok());
  EXPECT_FALSE(IpAddress::Parse("10.0.0.1\0"s).ok());
  EXPECT_FALSE(AddressPrefix::Parse("10.0.0.0\0/8"s).ok());
}

TEST(IpAddressTest, PrintsBothFamilies) {
  EXPECT_EQ(Ip("10.1.2.3").ToString(), "10.1.2.3");
  EXPECT_EQ(Ip("[fd00::7]").ToString(), "fd00::7");
}

TEST(AddressPrefixTest, Ipv4PrefixesMatchTheirRangeOnly) {
  EXPECT_TRUE(In("10.0.0.0/8", "10.255.1.2"));
  EXPECT_FALSE(In("10.0.0.0/8", "11.0.0.1"));
  EXPECT_TRUE(In("192.168.4.0/22", "192.168.7.255"));
  EXPECT_FALSE(In("192.168.4.0/22", "192.168.8.0"));
  EXPECT_TRUE(In("0.0.0.0/0", "203.0.113.9"));
  EXPECT_FALSE(In("0.0.0.0/0", "fd00::1"));  // an IPv4 prefix holds no IPv6 address
}

TEST(AddressPrefixTest, AnAddressAloneMatchesItself) {
  EXPECT_TRUE(In("10.1.2.3", "10.1.2.3"));
  EXPECT_FALSE(In("10.1.2.3", "10.1.2.4"));
  EXPECT_TRUE(In("fd00::1", "fd00::1"));
  EXPECT_FALSE(In("fd00::1", "fd00::2"));
}

TEST(AddressPrefixTest, Ipv6Prefixes) {
  EXPECT_TRUE(In("fd00::/8", "fdab::1"));
  EXPECT_FALSE(In("fd00::/8", "fe00::1"));
  EXPECT_TRUE(In("::/0", "10.0.0.1"));  // IPv4 as IPv4-mapped IPv6
}

TEST(AddressPrefixTest, RefusesBadLengths) {
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/-1", "fd00::/129",
                          "10.0.0.0/8/8", "nope/8"}) {
    EXPECT_FALSE(AddressPrefix::Parse(bad).ok()) << bad;
  }
}

TEST(AddressPrefixTest, PrintsAsWritten) {
  EXPECT_EQ(AddressPrefix::Parse("10.0.0.0/8")->ToString(), "10.0.0.0/8");
  EXPECT_EQ(AddressPrefix::Parse("fd00::/8")->ToString(), "fd00::/8");
  EXPECT_EQ(AddressPrefix::Parse("10.1.2.3")->ToString(), "10.1.2.3/32");
}

// Found by fuzz/flags_fuzzer.cc: an IPv4-mapped prefix written as IPv6 was
// shown as "10.0.0.0/104", which Parse refuses (an IPv4 prefix is /0 to /32).
TEST(AddressPrefixTest, PrintsAnIpv4MappedPrefixWrittenAsIpv6AsIpv6) {
  for (const char* text : {"::ffff:10.0.0.0/104", "::ffff:10.0.0.1"}) {
    absl::StatusOr<AddressPrefix> p = AddressPrefix::Parse(text);
    ASSERT_TRUE(p.ok()) << text << ": " << p.status();
    absl::StatusOr<AddressPrefix> again = AddressPrefix::Parse(p->ToString());
    ASSERT_TRUE(again.ok()) << p->ToString() << ": " << again.status();
    EXPECT_EQ(again->ToString(), p->ToString());
  }
  EXPECT_EQ(AddressPrefix::Parse("::ffff:10.0.0.0/104")->ToString(), "::ffff:10.0.0.0/104");
  EXPECT_TRUE(In("::ffff:10.0.0.0/104", "10.9.8.7"));
}

}  // namespace
}  // namespace kv::util
