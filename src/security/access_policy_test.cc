#include "src/security/access_policy.h"

#include "gtest/gtest.h"

namespace kv::security {
namespace {

const dht::NodeId kA = dht::NodeId::FromKey("a");
const dht::NodeId kB = dht::NodeId::FromKey("b");

Caller WithCert(std::string cn, dht::NodeId id, std::string peer = "ipv4:10.0.0.9:4000") {
  return Caller{.peer = std::move(peer), .cert = CertificateInfo{.common_name = cn, .id = id}};
}

AccessPolicy Tls(std::optional<AuthFile> auth = std::nullopt) {
  return AccessPolicy({.tls = true, .auth = std::move(auth)});
}

AuthFile Auth(const std::string& text) {
  absl::StatusOr<AuthFile> f = AuthFile::Parse(text, "node");
  EXPECT_TRUE(f.ok()) << f.status();
  return *f;
}

TEST(AccessPolicyTest, PlaintextTrustsEveryCallerOnMemberCalls) {
  AccessPolicy plain;
  EXPECT_TRUE(plain.CheckMember(Caller{}, "Peer.Store").ok());
  EXPECT_TRUE(plain.CheckClaim(Caller{}, kA, "KV.Join").ok());
}

TEST(AccessPolicyTest, MemberCallsNeedTheMemberCertificate) {
  AccessPolicy p = Tls();
  EXPECT_TRUE(p.CheckMember(WithCert("node", kA), "Peer.Store").ok());
  absl::Status client = p.CheckMember(WithCert("alice", kA), "Peer.Fetch");
  EXPECT_EQ(client.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(client.message().find("Peer.Fetch is for cluster members"), std::string::npos);
  EXPECT_NE(client.message().find("CN 'alice'"), std::string::npos);
  EXPECT_EQ(p.CheckMember(Caller{}, "Peer.Fetch").code(), absl::StatusCode::kPermissionDenied);
}

TEST(AccessPolicyTest, ClaimedIdMustBeTheCertificates) {
  AccessPolicy p = Tls();
  EXPECT_TRUE(p.CheckClaim(WithCert("node", kA), kA, "KV.Join").ok());
  absl::Status s = p.CheckClaim(WithCert("node", kA), kB, "KV.Join");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find(kB.ToHex()), std::string::npos);
  EXPECT_NE(s.message().find(kA.ToHex()), std::string::npos);
  EXPECT_EQ(p.CheckClaim(WithCert("alice", kA), kA, "KV.Join").code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AccessPolicyTest, WithoutAuthFileEveryClientReadsAndWrites) {
  AccessPolicy p = Tls();
  absl::StatusOr<const Grant*> g = p.ClientGrant(Caller{}, "KV.Put");
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(AccessPolicy::CheckKey(*g, KeyAccess::kWrite, "k", "KV.Put").ok());
}

TEST(AccessPolicyTest, AuthFileNeedsAListedPrincipal) {
  AccessPolicy p = Tls(Auth("cn:alice write\ntoken-sha256:" + TokenSha256Hex("t") + " read"));
  EXPECT_EQ(p.ClientGrant(Caller{}, "KV.Get").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(p.ClientGrant(WithCert("bob", kA), "KV.Get").status().code(),
            absl::StatusCode::kUnauthenticated);
  Caller wrong_token{.token = "nope"};
  EXPECT_EQ(p.ClientGrant(wrong_token, "KV.Get").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(p.ClientGrant(WithCert("alice", kA), "KV.Get").ok());
  Caller token{.token = "t"};
  EXPECT_TRUE(p.ClientGrant(token, "KV.Get").ok());
}

TEST(AccessPolicyTest, ReadRoleCannotWriteAndPrefixBindsKeys) {
  AccessPolicy p = Tls(Auth("cn:reader read\ncn:app write app/"));
  const Grant* reader = *p.ClientGrant(WithCert("reader", kA), "KV.Put");
  EXPECT_TRUE(AccessPolicy::CheckKey(reader, KeyAccess::kRead, "x", "KV.Get").ok());
  absl::Status put = AccessPolicy::CheckKey(reader, KeyAccess::kWrite, "x", "KV.Put");
  EXPECT_EQ(put.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(put.message().find("role read"), std::string::npos);
  const Grant* app = *p.ClientGrant(WithCert("app", kA), "KV.Put");
  EXPECT_TRUE(AccessPolicy::CheckKey(app, KeyAccess::kWrite, "app/1", "KV.Put").ok());
  absl::Status other = AccessPolicy::CheckKey(app, KeyAccess::kRead, "other/1", "KV.Get");
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(other.message().find("'app/'"), std::string::npos);
}

TEST(AccessPolicyTest, AdminRoleReplacesTheLoopbackRule) {
  AccessPolicy p = Tls(Auth("cn:ops admin\ncn:app write"));
  EXPECT_TRUE(p.CheckAdminChange(WithCert("ops", kA, "ipv4:10.1.2.3:5"), "Admin.Leave").ok());
  absl::Status app = p.CheckAdminChange(WithCert("app", kA, "ipv4:127.0.0.1:5"), "Admin.Leave");
  EXPECT_EQ(app.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(app.message().find("needs role admin"), std::string::npos);
  // Members are not admins, even on loopback.
  EXPECT_EQ(p.CheckAdminChange(WithCert("node", kA, "ipv4:127.0.0.1:5"), "Admin.Leave").code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(p.CheckAdminRead(WithCert("node", kA), "Admin.Peers").ok());
  EXPECT_TRUE(p.CheckAdminRead(WithCert("app", kA), "Admin.Peers").ok());
  EXPECT_EQ(p.CheckAdminRead(Caller{}, "Admin.Peers").code(), absl::StatusCode::kUnauthenticated);
}

TEST(AccessPolicyTest, WithoutAuthFileAdminChangesFollowTheLoopbackRule) {
  AccessPolicy p = Tls();
  EXPECT_TRUE(p.CheckAdminChange(Caller{.peer = "ipv4:127.0.0.1:5"}, "Admin.Leave").ok());
  EXPECT_EQ(p.CheckAdminChange(Caller{.peer = "ipv4:10.1.2.3:5"}, "Admin.Leave").code(),
            absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace kv::security
