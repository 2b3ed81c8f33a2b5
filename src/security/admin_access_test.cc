#include "src/security/admin_access.h"

#include <string>

#include "gtest/gtest.h"

namespace kv::security {
namespace {

TEST(AdminAccessTest, LoopbackAndUnixSocketsAreAlwaysAllowed) {
  AdminAccess open_to_none;
  EXPECT_TRUE(open_to_none.Check("ipv4:127.0.0.1:5000", "Leave").ok());
  EXPECT_TRUE(open_to_none.Check("ipv4:127.9.8.7:5000", "Leave").ok());
  EXPECT_TRUE(open_to_none.Check("ipv6:[::1]:5000", "Leave").ok());
  EXPECT_TRUE(open_to_none.Check("ipv6:[::ffff:127.0.0.1]:5000", "Leave").ok());
  EXPECT_TRUE(open_to_none.Check("unix:/run/kvstore.sock", "Leave").ok());
}

TEST(AdminAccessTest, OtherAddressesAreDeniedWithAReasonAndAFix) {
  AdminAccess open_to_none;
  absl::Status s = open_to_none.Check("ipv4:10.0.0.5:41234", "Admin.Snapshot");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("Admin.Snapshot"), std::string::npos) << s;
  EXPECT_NE(s.message().find("10.0.0.5"), std::string::npos) << s;
  EXPECT_NE(s.message().find("--admin-from"), std::string::npos) << s;
  EXPECT_EQ(open_to_none.Check("ipv6:[fd00::1]:1", "Leave").code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AdminAccessTest, AllowedPrefixesLetTheirAddressesIn) {
  AdminAccess access(
      {*util::AddressPrefix::Parse("10.200.0.0/16"), *util::AddressPrefix::Parse("fd00::/8")});
  EXPECT_TRUE(access.Check("ipv4:10.200.3.4:1", "Leave").ok());
  EXPECT_TRUE(access.Check("ipv6:[fd12::9]:1", "Leave").ok());
  EXPECT_FALSE(access.Check("ipv4:10.201.0.1:1", "Leave").ok());
}

TEST(AdminAccessTest, UnparsablePeersAreDenied) {
  AdminAccess all({*util::AddressPrefix::Parse("0.0.0.0/0"), *util::AddressPrefix::Parse("::/0")});
  for (const char* peer : {"", "ipv4:", "ipv4:nonsense", "vsock:3:5", "ipv4:127.0.0.1"}) {
    EXPECT_EQ(all.Check(peer, "Leave").code(), absl::StatusCode::kPermissionDenied) << peer;
  }
}

}  // namespace
}  // namespace kv::security
