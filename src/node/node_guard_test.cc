// What a node keeps on a caller's word alone: hints only for members, a
// bounded queue of anti-entropy requests, routing-table entries only for
// contacts that answered a ping. A Node on a memory engine, its peers faked.
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "src/node/node.h"
#include "src/replication/peer_transport.h"
#include "src/storage/memory_engine.h"
#include "src/util/clock.h"

namespace kv::node {
namespace {

// Answers a Ping at an address registered with Answer(); every other call
// fails at once.
class PingOnlyTransport final : public replication::PeerTransport {
 public:
  void Answer(const dht::Contact& c) {
    absl::MutexLock l(&mu_);
    at_[c.address] = c;
  }
  void Ping(const std::string& address, PingCallback done) override {
    std::optional<dht::Contact> c;
    {
      absl::MutexLock l(&mu_);
      if (auto it = at_.find(address); it != at_.end()) c = it->second;
    }
    if (!c) return done(absl::UnavailableError("connection refused"));
    done(*c);
  }
  void Store(const dht::Contact&, const std::string&, const storage::Record&,
             StoreCallback done) override {
    done(absl::UnavailableError("not in this test"));
  }
  void Fetch(const dht::Contact&, const std::string&, FetchCallback done) override {
    done(absl::UnavailableError("not in this test"));
  }
  void FindNode(const dht::Contact&, const dht::NodeId&, FindNodeCallback done) override {
    done(absl::UnavailableError("not in this test"));
  }
  void Join(const std::string&, JoinCallback done) override {
    done(absl::UnavailableError("not in this test"));
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, dht::Contact> at_ ABSL_GUARDED_BY(mu_);
};

class NodeGuardTest : public ::testing::Test {
 protected:
  NodeGuardTest() {
    NodeOptions o;
    o.self = Contact(0);
    node_ = std::make_unique<Node>(o, &engine_, &transport_, util::SystemClock::Default());
  }

  static dht::Contact Contact(int i) {
    return {dht::NodeId::FromKey(absl::StrCat("node-", i)), absl::StrCat("127.0.0.1:", 9000 + i)};
  }
  std::vector<dht::Contact> Table() const {
    std::vector<dht::Contact> out;
    for (const auto& p : node_->Peers()) out.push_back(p.contact);
    return out;
  }
  storage::Record Now(std::string value) const {
    const int64_t ms = absl::ToUnixMillis(absl::Now());
    return {.value = std::move(value),
            .version = {replication::HybridClock::Make(ms, 0), Contact(1).id.ToHex()}};
  }

  storage::MemoryEngine engine_;
  PingOnlyTransport transport_;
  std::unique_ptr<Node> node_;
};

TEST_F(NodeGuardTest, ASenderEntersTheTableOnlyOnceItAnsweredAPingAtItsAddress) {
  node_->HandlePing(Contact(1));  // nobody answers at its address
  EXPECT_TRUE(Table().empty());
  transport_.Answer(Contact(1));
  node_->HandlePing(Contact(1));
  ASSERT_EQ(Table().size(), 1u);
  EXPECT_EQ(Table()[0], Contact(1));
}

TEST_F(NodeGuardTest, AKnownIdKeepsItsAddressWhileItAnswersThere) {
  transport_.Answer(Contact(1));
  node_->HandlePing(Contact(1));
  ASSERT_EQ(Table().size(), 1u);
  // Someone claims node 1 is elsewhere, and something there even answers as it.
  const dht::Contact moved{Contact(1).id, "127.0.0.1:9999"};
  transport_.Answer(moved);
  node_->HandleHeartbeat(moved);
  EXPECT_EQ(Table()[0].address, Contact(1).address);
}

TEST_F(NodeGuardTest, HintsAreKeptOnlyForKnownNodes) {
  std::optional<absl::Status> got;
  node_->HandleStoreHint(Contact(1), Contact(2).id, "k", Now("v"),
                         [&](absl::Status s) { got = s; });
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->code(), absl::StatusCode::kFailedPrecondition) << *got;
  EXPECT_NE(got->message().find("does not know"), std::string::npos) << *got;

  transport_.Answer(Contact(2));
  node_->HandlePing(Contact(2));
  got.reset();
  node_->HandleStoreHint(Contact(1), Contact(2).id, "k", Now("v"),
                         [&](absl::Status s) { got = s; });
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->ok()) << *got;
}

TEST_F(NodeGuardTest, AntiEntropyRequestsBeyondTheBoundAreRefusedNotQueued) {
  // Enough records that one digest scan outlasts issuing every request.
  for (int i = 0; i < 100'000; ++i) {
    ASSERT_TRUE(engine_.Apply(absl::StrCat("key-", i), Now("v")).ok());
  }
  constexpr int kRequests = 60;
  absl::Mutex mu;
  int finished = 0, answered = 0, refused = 0;
  for (int i = 0; i < kRequests; ++i) {
    node_->HandleSyncDigest(Contact(1), 0, std::nullopt,
                            [&](absl::StatusOr<replication::DigestAnswer> a) {
                              absl::MutexLock l(&mu);
                              ++finished;
                              if (a.ok()) ++answered;
                              if (a.status().code() == absl::StatusCode::kResourceExhausted) {
                                ++refused;
                              }
                            });
  }
  absl::MutexLock l(&mu);
  ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(
                                      +[](int* n) { return *n == kRequests; }, &finished),
                                  absl::Seconds(120)));
  EXPECT_EQ(answered + refused, kRequests) << "an answer neither OK nor RESOURCE_EXHAUSTED";
  EXPECT_GE(refused, 1);
  EXPECT_GE(answered, 1);
}

// Keys travel between nodes as protobuf strings: a key that is not UTF-8
// is refused up front with a sentence, not by a peer's serializer.
TEST_F(NodeGuardTest, KeysMustBeUtf8) {
  const std::vector<std::string> good = {"plain", "caf\xc3\xa9",
                                         "\xe2\x82\xac"
                                         "5",
                                         "emoji \xf0\x9f\x98\x80", std::string("nul\0byte", 8)};
  for (const std::string& ok : good) {
    EXPECT_TRUE(node_->ValidateKey(ok).ok()) << ok;
  }
  const std::vector<std::string> bad_keys = {
      "\xff", "ab\x80", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"};
  for (const std::string& bad : bad_keys) {
    absl::Status s = node_->ValidateKey(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << absl::CEscape(bad);
    EXPECT_NE(s.message().find("not valid UTF-8"), absl::string_view::npos) << s;
  }
  EXPECT_NE(node_->ValidateKey("ab\x80").message().find("byte 2"), absl::string_view::npos);
}

}  // namespace
}  // namespace kv::node
