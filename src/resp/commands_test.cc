// Every command's reply, on a fake client interface that answers at once.
#include "src/resp/commands.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace kv::resp {
namespace {

using replication::Consistency;

// A map of keys to values; remembers the last consistency and TTL asked for;
// fails every call with `fail` when set.
class FakeClient final : public node::ClientApi {
 public:
  void Put(node::PutArgs args, WriteCallback done) override {
    if (fail) return done(*fail);
    last_consistency = args.consistency;
    last_ttl = args.ttl;
    expires[args.key] =
        args.ttl > absl::ZeroDuration() ? absl::ToUnixMillis(absl::Now() + args.ttl) : 0;
    data[args.key] = args.value;
    done(replication::WriteResult{.acks = 1});
  }
  void Get(std::string key, std::optional<Consistency> c, GetCallback done) override {
    if (fail) return done(*fail);
    last_consistency = c;
    auto it = data.find(key);
    node::GetReply r;
    if (it != data.end()) {
      r.found = true;
      r.value = it->second;
      r.expires_at_ms = expires[key];
    }
    done(r);
  }
  void Delete(std::string key, std::optional<Consistency> c, WriteCallback done) override {
    if (fail) return done(*fail);
    data.erase(key);
    done(replication::WriteResult{.acks = 1});
  }
  absl::Status ValidateKey(const std::string&) const override { return absl::OkStatus(); }
  absl::Status ValidateValue(const std::string&) const override { return absl::OkStatus(); }

  std::map<std::string, std::string> data;
  std::optional<absl::Status> fail;
  std::optional<Consistency> last_consistency;
  absl::Duration last_ttl;
  std::map<std::string, int64_t> expires;
};

class CommandsTest : public ::testing::Test {
 protected:
  CommandsTest()
      : commands_(&client_, ServerFacts{.version = "0.1.0",
                                        .node_id = "ab",
                                        .resp_addr = "127.0.0.1:6380",
                                        .connected_clients = [] { return uint64_t{3}; },
                                        .keys = [this] { return client_.data.size(); }}) {
    session_.id = 7;
  }

  std::string Run(Command cmd) {
    std::optional<std::string> reply;
    commands_.Run(session_, cmd, [&](std::string r) { reply = std::move(r); });
    EXPECT_TRUE(reply.has_value()) << cmd[0] << " did not reply at once";
    return reply.value_or("");
  }

  FakeClient client_;
  Commands commands_;
  Session session_;
};

TEST_F(CommandsTest, PingEchoAndUnknownCommands) {
  EXPECT_EQ(Run({"PING"}), "+PONG\r\n");
  EXPECT_EQ(Run({"ping", "hi"}), "$2\r\nhi\r\n");
  EXPECT_EQ(Run({"ECHO", "a\r\nb"}), "$4\r\na\r\nb\r\n");
  EXPECT_EQ(Run({"FLUSHALL", "ASYNC"}),
            "-ERR unknown command 'FLUSHALL', with args beginning with: 'ASYNC' \r\n");
  EXPECT_EQ(Run({"GET"}), "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(Run({"MSET", "a", "1", "b"}), "-ERR wrong number of arguments for 'mset' command\r\n");
}

TEST_F(CommandsTest, SetGetAndMissingKeysInBothProtocols) {
  EXPECT_EQ(Run({"GET", "k"}), "$-1\r\n");
  EXPECT_EQ(Run({"SET", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(Run({"GET", "k"}), "$1\r\nv\r\n");
  EXPECT_EQ(Run({"STRLEN", "k"}), ":1\r\n");
  EXPECT_EQ(Run({"HELLO", "3"}).substr(0, 4), "%7\r\n");
  EXPECT_EQ(session_.protocol, Protocol::kResp3);
  EXPECT_EQ(Run({"GET", "missing"}), "_\r\n");
  EXPECT_EQ(Run({"RESET"}), "+RESET\r\n");
  EXPECT_EQ(session_.protocol, Protocol::kResp2);
  EXPECT_EQ(Run({"HELLO", "4"}), "-NOPROTO unsupported protocol version\r\n");
}

TEST_F(CommandsTest, ExpiriesInMilliseconds) {
  EXPECT_EQ(Run({"SET", "k", "v", "EX", "10"}), "+OK\r\n");
  EXPECT_EQ(client_.last_ttl, absl::Seconds(10));
  EXPECT_EQ(Run({"SET", "k", "v", "px", "1500"}), "+OK\r\n");
  EXPECT_EQ(client_.last_ttl, absl::Milliseconds(1500));
  EXPECT_EQ(Run({"SETEX", "k", "5", "v"}), "+OK\r\n");
  EXPECT_EQ(client_.last_ttl, absl::Seconds(5));
  EXPECT_EQ(Run({"PSETEX", "k", "2000", "v"}), "+OK\r\n");
  EXPECT_EQ(client_.last_ttl, absl::Seconds(2));
  const int64_t at = absl::ToUnixSeconds(absl::Now()) + 100;
  EXPECT_EQ(Run({"SET", "k", "v", "EXAT", absl::StrCat(at)}), "+OK\r\n");
  EXPECT_GT(client_.last_ttl, absl::Seconds(98));
  EXPECT_LE(client_.last_ttl, absl::Seconds(100));
  EXPECT_EQ(Run({"SET", "k", "v", "PXAT", "1000"}), "+OK\r\n");  // long past: expired at once
  EXPECT_EQ(client_.last_ttl, absl::Milliseconds(1));
  EXPECT_EQ(Run({"SET", "k", "v", "EX", "9223372036854775807"}),
            "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(Run({"SET", "k", "v", "EX", "0"}), "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(Run({"SET", "k", "v", "EX", "x"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(Run({"SET", "k", "v", "BOGUS"}), "-ERR syntax error\r\n");
}

TEST_F(CommandsTest, ReadModifyWriteIsRefusedNeverEmulated) {
  for (const Command& cmd : std::vector<Command>{{"INCR", "n"},
                                                 {"GETSET", "k", "v"},
                                                 {"SETNX", "k", "v"},
                                                 {"EXPIRE", "k", "10"},
                                                 {"MULTI"},
                                                 {"APPEND", "k", "v"}}) {
    const std::string r = Run(cmd);
    EXPECT_NE(r.find("is not supported: kvstore has no atomic read-modify-write"),
              std::string::npos)
        << cmd[0] << ": " << r;
  }
  EXPECT_NE(Run({"SET", "k", "v", "NX"}).find("SET NX is not supported"), std::string::npos);
  EXPECT_NE(Run({"SET", "k", "v", "GET"}).find("SET GET is not supported"), std::string::npos);
  EXPECT_TRUE(client_.data.empty()) << "a refused command wrote";
  EXPECT_EQ(Run({"TTL", "k"}), ":-2\r\n");
}

TEST_F(CommandsTest, TtlAndPttl) {
  EXPECT_EQ(Run({"TTL", "nope"}), ":-2\r\n");
  Run({"SET", "forever", "v"});
  EXPECT_EQ(Run({"TTL", "forever"}), ":-1\r\n");
  EXPECT_EQ(Run({"PTTL", "forever"}), ":-1\r\n");
  Run({"SET", "k", "v", "EX", "100"});
  EXPECT_EQ(Run({"TTL", "k"}), ":100\r\n");
  const std::string pttl = Run({"PTTL", "k"});
  int64_t ms = 0;
  ASSERT_TRUE(absl::SimpleAtoi(pttl.substr(1, pttl.size() - 3), &ms)) << pttl;
  EXPECT_GT(ms, 98000);
  EXPECT_LE(ms, 100000);
}

TEST_F(CommandsTest, MultiKeyCommands) {
  EXPECT_EQ(Run({"MSET", "a", "1", "b", "2"}), "+OK\r\n");
  EXPECT_EQ(Run({"MGET", "a", "x", "b"}), "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
  EXPECT_EQ(Run({"EXISTS", "a", "x", "a"}), ":2\r\n");
  EXPECT_EQ(Run({"DEL", "a", "x"}), ":1\r\n");
  EXPECT_EQ(Run({"UNLINK", "b"}), ":1\r\n");
  EXPECT_TRUE(client_.data.empty());
}

TEST_F(CommandsTest, NodeErrorsKeepTheirSentenceUnderARedisPrefix) {
  client_.fail = absl::UnavailableError("write quorum not reachable");
  EXPECT_EQ(Run({"SET", "k", "v"}), "-TRYAGAIN write quorum not reachable\r\n");
  EXPECT_EQ(Run({"MGET", "a", "b"}), "-TRYAGAIN write quorum not reachable\r\n");
  client_.fail = absl::InvalidArgumentError("key is 65 bytes; the limit is 64 (--max-key-bytes)");
  EXPECT_EQ(Run({"GET", "k"}), "-ERR key is 65 bytes; the limit is 64 (--max-key-bytes)\r\n");
  client_.fail = absl::ResourceExhaustedError("no room");
  EXPECT_EQ(Run({"SET", "k", "v"}), "-OOM no room\r\n");
}

TEST_F(CommandsTest, ConnectionState) {
  EXPECT_EQ(Run({"KVSTORE.CONSISTENCY"}), "$7\r\ndefault\r\n");
  EXPECT_EQ(Run({"KVSTORE.CONSISTENCY", "ALL"}), "+OK\r\n");
  EXPECT_EQ(Run({"KVSTORE.CONSISTENCY"}), "$3\r\nall\r\n");
  Run({"GET", "k"});
  EXPECT_EQ(client_.last_consistency, Consistency::kAll);
  EXPECT_NE(Run({"KVSTORE.CONSISTENCY", "most"}).find("one, quorum, all or default"),
            std::string::npos);
  EXPECT_EQ(Run({"SELECT", "0"}), "+OK\r\n");
  EXPECT_EQ(Run({"SELECT", "1"}), "-ERR DB index is out of range\r\n");
  EXPECT_EQ(Run({"CLIENT", "GETNAME"}), "$-1\r\n");
  EXPECT_EQ(Run({"CLIENT", "SETNAME", "app"}), "+OK\r\n");
  EXPECT_EQ(Run({"CLIENT", "GETNAME"}), "$3\r\napp\r\n");
  EXPECT_EQ(Run({"CLIENT", "ID"}), ":7\r\n");
  EXPECT_FALSE(session_.quit);
  EXPECT_EQ(Run({"QUIT"}), "+OK\r\n");
  EXPECT_TRUE(session_.quit);
}

TEST(CommandKeysTest, TheKeysACommandTouches) {
  using Keys = std::vector<std::string>;
  EXPECT_EQ(Commands::Keys({"GET", "k"}), Keys{"k"});
  EXPECT_EQ(Commands::Keys({"set", "k", "v", "EX", "10"}), Keys{"k"});
  EXPECT_EQ(Commands::Keys({"MSET", "a", "1", "b", "2"}), (Keys{"a", "b"}));
  EXPECT_EQ(Commands::Keys({"DEL", "a", "b", "c"}), (Keys{"a", "b", "c"}));
  EXPECT_EQ(Commands::Keys({"PING"}), Keys{});
  EXPECT_EQ(Commands::Keys({"KVSTORE.CONSISTENCY", "all"}), Keys{});
  EXPECT_EQ(Commands::Keys({"FLUSHALL"}), Keys{});
}

TEST_F(CommandsTest, ServerFacts) {
  Run({"SET", "a", "1"});
  EXPECT_EQ(Run({"DBSIZE"}), ":1\r\n");
  const std::string info = Run({"INFO"});
  EXPECT_NE(info.find("redis_version:7.0.0"), std::string::npos);
  EXPECT_NE(info.find("kvstore_version:0.1.0"), std::string::npos);
  EXPECT_NE(info.find("connected_clients:3"), std::string::npos);
  EXPECT_NE(info.find("db0:keys=1"), std::string::npos);
  EXPECT_EQ(Run({"COMMAND", "COUNT"}), absl::StrCat(":", Commands::Count(), "\r\n"));
  EXPECT_EQ(Run({"COMMAND", "INFO", "get"}).substr(0, 21), "*1\r\n*6\r\n$3\r\nget\r\n:2\r\n");
  EXPECT_EQ(Run({"TIME"}).substr(0, 4), "*2\r\n");
  // Without an admin interface (this test's), KVSTORE.LOCATE says so.
  EXPECT_EQ(Run({"KVSTORE.LOCATE", "k"}), "-ERR KVSTORE.LOCATE is not available here\r\n");
}

// With an --auth-file: AUTH takes a listed token, a listed certificate
// authenticates by itself, and each grant's role and prefix bound the keys.
class AuthTest : public CommandsTest {
 protected:
  AuthTest()
      : policy_(security::AccessPolicy::Options{
            .tls = true,
            .auth = *security::AuthFile::Parse(
                absl::StrCat("token-sha256:", security::TokenSha256Hex("w-tok"), " write app/\n",
                             "token-sha256:", security::TokenSha256Hex("r-tok"), " read\n",
                             "cn:alice write\n"),
                "node")}),
        guarded_(&client_,
                 ServerFacts{.connected_clients = [] { return uint64_t{1}; },
                             .keys = [] { return uint64_t{0}; }},
                 nullptr, &policy_) {}

  std::string RunGuarded(Command cmd) {
    std::optional<std::string> reply;
    guarded_.Run(session_, cmd, [&](std::string r) { reply = std::move(r); });
    EXPECT_TRUE(reply.has_value()) << cmd[0] << " did not reply at once";
    return reply.value_or("");
  }

  security::AccessPolicy policy_;
  Commands guarded_;
};

TEST_F(AuthTest, NothingButAuthHelloAndQuitRunsBeforeAuth) {
  EXPECT_EQ(RunGuarded({"GET", "app/k"}), "-NOAUTH Authentication required.\r\n");
  EXPECT_EQ(RunGuarded({"PING"}), "-NOAUTH Authentication required.\r\n");
  EXPECT_EQ(RunGuarded({"SET", "app/k", "v"}), "-NOAUTH Authentication required.\r\n");
  EXPECT_NE(RunGuarded({"HELLO", "3"}).find("-NOAUTH HELLO must be called"), std::string::npos);
  EXPECT_EQ(session_.protocol, Protocol::kResp2);
  EXPECT_EQ(RunGuarded({"AUTH", "wrong"}),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  EXPECT_TRUE(client_.data.empty());
  EXPECT_EQ(RunGuarded({"QUIT"}), "+OK\r\n");
}

TEST_F(AuthTest, TokenGrantsItsRoleAndPrefix) {
  EXPECT_EQ(RunGuarded({"AUTH", "default", "w-tok"}), "+OK\r\n");  // Redis 6's two-argument form
  EXPECT_EQ(RunGuarded({"SET", "app/k", "v"}), "+OK\r\n");
  EXPECT_EQ(RunGuarded({"GET", "app/k"}), "$1\r\nv\r\n");
  const std::string outside = RunGuarded({"SET", "other", "v"});
  EXPECT_EQ(outside.rfind("-NOPERM SET: token-sha256:", 0), 0u) << outside;
  EXPECT_NE(outside.find("may only touch keys starting with 'app/'"), std::string::npos);
  // One key outside the prefix refuses the whole command.
  EXPECT_EQ(RunGuarded({"MSET", "app/a", "1", "other", "2"}).substr(0, 7), "-NOPERM");
  EXPECT_EQ(client_.data.count("app/a"), 0u);
  EXPECT_EQ(RunGuarded({"DEL", "app/k"}), ":1\r\n");
  EXPECT_NE(RunGuarded({"CLIENT", "INFO"}).find("user=token-sha256:"), std::string::npos);

  // RESET forgets who the connection was.
  EXPECT_EQ(RunGuarded({"RESET"}), "+RESET\r\n");
  EXPECT_EQ(RunGuarded({"GET", "app/k"}), "-NOAUTH Authentication required.\r\n");
}

TEST_F(AuthTest, ReadRoleCannotWrite) {
  EXPECT_EQ(RunGuarded({"HELLO", "2", "AUTH", "default", "r-tok"}).substr(0, 4), "*14\r");
  EXPECT_EQ(RunGuarded({"GET", "any"}), "$-1\r\n");
  EXPECT_EQ(RunGuarded({"MGET", "a", "b"}), "*2\r\n$-1\r\n$-1\r\n");
  const std::string set = RunGuarded({"SET", "any", "v"});
  EXPECT_EQ(set.rfind("-NOPERM SET: ", 0), 0u) << set;
  EXPECT_NE(set.find("has role read, which cannot write"), std::string::npos) << set;
  EXPECT_EQ(RunGuarded({"DEL", "any"}).substr(0, 7), "-NOPERM");
  EXPECT_TRUE(client_.data.empty());
}

TEST_F(AuthTest, ListedCertificateAuthenticatesWithoutAuth) {
  session_.cert = security::CertificateInfo{.common_name = "alice"};
  EXPECT_EQ(RunGuarded({"SET", "k", "v"}), "+OK\r\n");
  EXPECT_TRUE(session_.authenticated);
  // A certificate the file does not name still needs a token.
  Session stranger;
  stranger.cert = security::CertificateInfo{.common_name = "mallory"};
  std::optional<std::string> reply;
  guarded_.Run(stranger, {"GET", "k"}, [&](std::string r) { reply = std::move(r); });
  EXPECT_EQ(reply, "-NOAUTH Authentication required.\r\n");
  // A member's certificate is never a client's.
  Session member;
  member.cert = security::CertificateInfo{.common_name = "node"};
  guarded_.Run(member, {"GET", "k"}, [&](std::string r) { reply = std::move(r); });
  EXPECT_EQ(reply, "-NOAUTH Authentication required.\r\n");
}

TEST_F(CommandsTest, AuthWithoutAnAuthFileSaysThereIsNoPassword) {
  EXPECT_NE(Run({"AUTH", "x"}).find("without any password configured"), std::string::npos);
  EXPECT_NE(Run({"HELLO", "3", "AUTH", "u", "p"}).find("no --auth-file"), std::string::npos);
  EXPECT_EQ(Run({"GET", "k"}), "$-1\r\n");
}

}  // namespace
}  // namespace kv::resp
