#include "src/security/auth_file.h"

#include "gtest/gtest.h"

namespace kv::security {
namespace {

constexpr char kMember[] = "node";

TEST(AuthFileTest, ParsesCertificateNamesTokensRolesAndPrefixes) {
  const std::string text = "# who may do what\n\ncn:alice write\ncn:ops admin\n  token-sha256:" +
                           TokenSha256Hex("s3cret") + " read app/\n";
  absl::StatusOr<AuthFile> f = AuthFile::Parse(text, kMember);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->size(), 3u);
  ASSERT_NE(f->ForCommonName("alice"), nullptr);
  EXPECT_EQ(f->ForCommonName("alice")->role, Role::kWrite);
  EXPECT_EQ(f->ForCommonName("alice")->prefix, "");
  EXPECT_EQ(f->ForCommonName("ops")->role, Role::kAdmin);
  ASSERT_NE(f->ForToken("s3cret"), nullptr);
  EXPECT_EQ(f->ForToken("s3cret")->role, Role::kRead);
  EXPECT_EQ(f->ForToken("s3cret")->prefix, "app/");
  EXPECT_EQ(f->ForToken("wrong"), nullptr);
  EXPECT_EQ(f->ForCommonName("bob"), nullptr);
}

TEST(AuthFileTest, TokenHashIsSha256InLowercaseHex) {
  EXPECT_EQ(TokenSha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AuthFileTest, UppercaseHashIsAccepted) {
  std::string hex = TokenSha256Hex("t");
  for (char& c : hex) c = static_cast<char>(std::toupper(c));
  absl::StatusOr<AuthFile> f = AuthFile::Parse("token-sha256:" + hex + " write", kMember);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_NE(f->ForToken("t"), nullptr);
}

TEST(AuthFileTest, BadLinesAreRefusedWithTheLineNumber) {
  const struct {
    std::string text;
    std::string why;
  } cases[] = {
      {"cn:alice", "line 1: expected"},
      {"\ncn:alice owner", "line 2: role 'owner' is not one of read, write, admin"},
      {"user:alice read", "starts with neither cn: nor token-sha256:"},
      {"cn: read", "cn: needs a name"},
      {"token-sha256:abcd read", "64 hex characters"},
      {"cn:alice read\ncn:alice write", "line 2: cn:alice appears twice"},
      {"cn:node admin", "is the member CN"},
      {"cn:a read x y", "expected"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<AuthFile> f = AuthFile::Parse(c.text, kMember);
    ASSERT_FALSE(f.ok()) << c.text;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(f.status().message().find(c.why), std::string::npos)
        << c.text << " -> " << f.status().message();
  }
}

}  // namespace
}  // namespace kv::security
