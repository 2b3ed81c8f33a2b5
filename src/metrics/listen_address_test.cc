#include "src/metrics/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace kv::metrics {
namespace {

TEST(MetricsListenAddressTest, ParsesIpv4HostAndPort) {
  const auto a = ParseListenAddress("127.0.0.1:9100");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9100);
  EXPECT_EQ(a->ToString(), "127.0.0.1:9100");
  const auto any = ParseListenAddress("0.0.0.0:0");
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_EQ(any->port, 0);
}

TEST(MetricsListenAddressTest, MalformedAddressesNameTheFix) {
  struct Case {
    const char* input;
    const char* hint;
  };
  for (const Case& c :
       {Case{"9100", "expected host:port"}, Case{":9100", "expected host:port"},
        Case{"localhost:9100", "not a name"}, Case{"[::1]:9100", "IPv6"}, Case{"::1:9100", "IPv6"},
        Case{"127.0.0.1:", "0 to 65535"}, Case{"127.0.0.1:65536", "0 to 65535"},
        Case{"127.0.0.1:+80", "0 to 65535"}, Case{"127.0.0.1:http", "0 to 65535"}}) {
    const auto a = ParseListenAddress(c.input);
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument) << c.input;
    EXPECT_NE(a.status().message().find(c.hint), absl::string_view::npos)
        << c.input << ": " << a.status();
  }
}

TEST(MetricsListenAddressTest, PortHeldByAnotherSocketIsInUse) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(sa);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  const ListenAddress taken{.host = "127.0.0.1", .port = ntohs(sa.sin_port)};
  const absl::Status s = DiagnoseListenFailure(taken, "civetweb failed");
  close(fd);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), taken.ToString() + ": address in use; pick another port");
}

TEST(MetricsListenAddressTest, AddressOfAnotherMachineIsInvalidArgument) {
  std::ifstream nonlocal("/proc/sys/net/ipv4/ip_nonlocal_bind");
  int allowed = 0;
  if (nonlocal >> allowed && allowed != 0) {
    GTEST_SKIP() << "net.ipv4.ip_nonlocal_bind=1: any address binds on this machine";
  }
  // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never assigned to a real interface.
  const absl::Status s = DiagnoseListenFailure({.host = "192.0.2.1", .port = 0}, "");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("not an address of this machine"), absl::string_view::npos) << s;
}

}  // namespace
}  // namespace kv::metrics
