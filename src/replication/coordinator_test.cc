#include "src/replication/coordinator.h"

#include <deque>
#include <memory>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"
#include "src/storage/memory_engine.h"

namespace kv::replication {
namespace {

// An in-memory cluster: each peer has its own engine. Calls are queued and
// delivered by Deliver(), so tests control ordering; peers listed in `down_`
// fail with UNAVAILABLE.
class FakeTransport final : public PeerTransport {
 public:
  storage::MemoryEngine& engine(const dht::NodeId& id) {
    std::unique_ptr<storage::MemoryEngine>& e = engines_[id];
    if (!e) e = std::make_unique<storage::MemoryEngine>();
    return *e;
  }
  // Gives peer `id` its own engine (e.g. one with a byte limit).
  void SetEngine(const dht::NodeId& id, std::unique_ptr<storage::MemoryEngine> e) {
    engines_[id] = std::move(e);
  }
  void SetDown(const dht::NodeId& id, bool down) {
    if (down) {
      down_.insert(id);
    } else {
      down_.erase(id);
    }
  }
  void Deliver() {
    while (!queue_.empty()) {
      auto f = std::move(queue_.front());
      queue_.pop_front();
      f();
    }
  }
  size_t pending() const { return queue_.size(); }
  // Fetches sent to `id` so far.
  int fetches(const dht::NodeId& id) const {
    auto it = fetches_.find(id);
    return it == fetches_.end() ? 0 : it->second;
  }

  void Store(const dht::Contact& to, const std::string& key, const storage::Record& rec,
             StoreCallback done) override {
    queue_.push_back([=, this] {
      if (down_.contains(to.id)) return done(absl::UnavailableError("down"));
      done(engine(to.id).Apply(key, rec).status());
    });
  }
  void Fetch(const dht::Contact& to, const std::string& key, FetchCallback done) override {
    ++fetches_[to.id];
    queue_.push_back([=, this] {
      if (down_.contains(to.id)) return done(absl::UnavailableError("down"));
      done(engine(to.id).Read(key));
    });
  }
  void FindNode(const dht::Contact&, const dht::NodeId&, FindNodeCallback done) override {
    done(absl::UnimplementedError("not in this test"));
  }
  void Ping(const std::string&, PingCallback done) override {
    done(absl::UnimplementedError("not in this test"));
  }
  void Join(const std::string&, JoinCallback done) override {
    done(absl::UnimplementedError("not in this test"));
  }

 private:
  absl::flat_hash_map<dht::NodeId, std::unique_ptr<storage::MemoryEngine>> engines_;
  absl::flat_hash_set<dht::NodeId> down_;
  absl::flat_hash_map<dht::NodeId, int> fetches_;
  std::deque<std::function<void()>> queue_;
};

// A timer whose closures run when the test says so.
class FakeTimer final : public util::Timer {
 public:
  void After(absl::Duration delay, std::function<void()> fn) override {
    delays_.push_back(delay);
    due_.push_back(std::move(fn));
  }
  void FireAll() {
    std::vector<std::function<void()>> due;
    due.swap(due_);
    for (auto& fn : due) fn();
  }
  const std::vector<absl::Duration>& delays() const { return delays_; }

 private:
  std::vector<std::function<void()>> due_;
  std::vector<absl::Duration> delays_;
};

class CoordinatorTest : public ::testing::Test {
 protected:
  CoordinatorTest() {
    std::mt19937_64 rng(42);
    for (int i = 0; i < 3; ++i) {
      replicas_.push_back({dht::NodeId::Random(rng), "127.0.0.1:" + std::to_string(7000 + i)});
    }
  }
  storage::Record Value(std::string v, uint64_t ts) {
    storage::Record r;
    r.value = std::move(v);
    r.version = {ts, replicas_[0].id.ToHex()};
    return r;
  }
  // Coordinates from replicas_[0]: that replica is the local engine.
  Coordinator Make(util::Timer* timer = nullptr) {
    return Coordinator(
        {.self = replicas_[0].id, .timer = timer, .speculate_after = absl::Milliseconds(20)},
        &local_, &transport_);
  }

  std::vector<dht::Contact> replicas_;
  storage::MemoryEngine local_;
  FakeTransport transport_;
};

TEST(RequiredAcksTest, MatchesConsistencyLevels) {
  EXPECT_EQ(RequiredAcks(Consistency::kOne, 3), 1);
  EXPECT_EQ(RequiredAcks(Consistency::kQuorum, 3), 2);
  EXPECT_EQ(RequiredAcks(Consistency::kQuorum, 4), 3);
  EXPECT_EQ(RequiredAcks(Consistency::kQuorum, 1), 1);
  EXPECT_EQ(RequiredAcks(Consistency::kAll, 5), 5);
}

TEST_F(CoordinatorTest, QuorumWriteAnswersAfterTwoAcksAndThirdStillApplies) {
  Coordinator c = Make();
  std::optional<absl::StatusOr<WriteResult>> result;
  c.Write("k", Value("v", 100), replicas_, 3, Consistency::kQuorum,
          [&](absl::StatusOr<WriteResult> r) { result = r; });
  EXPECT_FALSE(result.has_value()) << "one local ack is not a quorum";
  transport_.Deliver();
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok());
  EXPECT_EQ((*result)->acks, 2u);
  EXPECT_EQ((*result)->version.timestamp, 100u);
  for (int i = 1; i < 3; ++i) {
    auto rec = transport_.engine(replicas_[i].id).Read("k");
    ASSERT_TRUE(rec.ok() && rec->has_value()) << i;
    EXPECT_EQ((*rec)->value, "v");
  }
}

TEST_F(CoordinatorTest, WriteFailsWithCountsWhenQuorumUnreachable) {
  transport_.SetDown(replicas_[1].id, true);
  transport_.SetDown(replicas_[2].id, true);
  Coordinator c = Make();
  std::optional<absl::StatusOr<WriteResult>> result;
  c.Write("k", Value("v", 100), replicas_, 3, Consistency::kQuorum,
          [&](absl::StatusOr<WriteResult> r) { result = r; });
  transport_.Deliver();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(result->status().message().find("1 of 3 replicas answered"), std::string::npos)
      << result->status();
  EXPECT_NE(result->status().message().find("QUORUM needs 2"), std::string::npos);
}

// The count of (op, c, outcome) in `c`'s outcomes.
uint64_t OutcomeOf(const Coordinator& c, Coordinator::Op op, Consistency consistency,
                   Coordinator::Outcome outcome) {
  for (const Coordinator::OutcomeCount& o : c.Outcomes()) {
    if (o.op == op && o.consistency == consistency && o.outcome == outcome) return o.count;
  }
  ADD_FAILURE() << "no such outcome slot";
  return 0;
}

TEST_F(CoordinatorTest, CountsEachOperationOnceByOpConsistencyAndOutcome) {
  using Op = Coordinator::Op;
  using Outcome = Coordinator::Outcome;
  Coordinator c = Make();
  EXPECT_EQ(c.Outcomes().size(), 2u * 3u * 4u);
  int answers = 0;
  c.Write("k", Value("v", 100), replicas_, 3, Consistency::kQuorum,
          [&](absl::StatusOr<WriteResult>) { ++answers; });
  c.Read("k", replicas_, 3, Consistency::kOne, [&](absl::StatusOr<ReadResult>) { ++answers; });
  transport_.Deliver();
  transport_.SetDown(replicas_[1].id, true);
  transport_.SetDown(replicas_[2].id, true);
  c.Read("k", replicas_, 3, Consistency::kAll, [&](absl::StatusOr<ReadResult>) { ++answers; });
  transport_.Deliver();
  ASSERT_EQ(answers, 3);
  EXPECT_EQ(OutcomeOf(c, Op::kWrite, Consistency::kQuorum, Outcome::kOk), 1u);
  EXPECT_EQ(OutcomeOf(c, Op::kRead, Consistency::kOne, Outcome::kOk), 1u);
  EXPECT_EQ(OutcomeOf(c, Op::kRead, Consistency::kAll, Outcome::kUnavailable), 1u);
  uint64_t total = 0;
  for (const Coordinator::OutcomeCount& o : c.Outcomes()) total += o.count;
  EXPECT_EQ(total, 3u) << "the third replica's late write answer is not an operation";
}

// An engine whose byte limit refuses every record.
std::unique_ptr<storage::MemoryEngine> FullEngine() {
  return std::make_unique<storage::MemoryEngine>(storage::MemoryEngine::Options{.max_bytes = 1});
}

TEST_F(CoordinatorTest, WriteRefusedByEveryFailingReplicaForLackOfMemoryIsResourceExhausted) {
  std::unique_ptr<storage::MemoryEngine> full_local = FullEngine();
  transport_.SetEngine(replicas_[1].id, FullEngine());
  transport_.SetEngine(replicas_[2].id, FullEngine());
  Coordinator c({.self = replicas_[0].id}, full_local.get(), &transport_);
  std::optional<absl::StatusOr<WriteResult>> result;
  c.Write("k", Value("v", 100), replicas_, 3, Consistency::kQuorum,
          [&](absl::StatusOr<WriteResult> r) { result = r; });
  transport_.Deliver();
  ASSERT_TRUE(result.has_value());
  ASSERT_EQ(result->status().code(), absl::StatusCode::kResourceExhausted) << result->status();
  const std::string message(result->status().message());
  // The replica's own message, which names the flag and the fix...
  EXPECT_NE(message.find("--max-memory-bytes=1; delete keys or raise the limit"), std::string::npos)
      << message;
  // ...and the counts when the quorum became unreachable.
  EXPECT_NE(message.find("write refused by 2 of 3 replicas, 0 acknowledged; QUORUM needs 2"),
            std::string::npos)
      << message;
}

TEST_F(CoordinatorTest, WriteRefusedForMemoryWhileAnotherReplicaIsDownStaysUnavailable) {
  std::unique_ptr<storage::MemoryEngine> full_local = FullEngine();
  transport_.SetDown(replicas_[1].id, true);
  Coordinator c({.self = replicas_[0].id}, full_local.get(), &transport_);
  std::optional<absl::StatusOr<WriteResult>> result;
  c.Write("k", Value("v", 100), replicas_, 3, Consistency::kQuorum,
          [&](absl::StatusOr<WriteResult> r) { result = r; });
  transport_.Deliver();
  ASSERT_TRUE(result.has_value());
  // The down replica coming back would make the quorum: UNAVAILABLE, retry.
  EXPECT_EQ(result->status().code(), absl::StatusCode::kUnavailable) << result->status();
  EXPECT_NE(result->status().message().find("0 of 3 replicas answered"), std::string::npos)
      << result->status();
}

TEST_F(CoordinatorTest, WriteRefusedByTheOnlyReplicaIsResourceExhausted) {
  std::unique_ptr<storage::MemoryEngine> full_local = FullEngine();
  Coordinator c({.self = replicas_[0].id}, full_local.get(), &transport_);
  std::optional<absl::StatusOr<WriteResult>> result;
  c.Write("k", Value("v", 100), {replicas_[0]}, 1, Consistency::kQuorum,
          [&](absl::StatusOr<WriteResult> r) { result = r; });
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), absl::StatusCode::kResourceExhausted) << result->status();
  EXPECT_NE(result->status().message().find("write refused by 1 of 1 replicas"), std::string::npos)
      << result->status();
}

TEST_F(CoordinatorTest, MissingReplicasCountAsFailures) {
  Coordinator c = Make();
  std::optional<absl::StatusOr<WriteResult>> result;
  std::vector<dht::Contact> only_local{replicas_[0]};
  c.Write("k", Value("v", 1), only_local, 3, Consistency::kQuorum,
          [&](absl::StatusOr<WriteResult> r) { result = r; });
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), absl::StatusCode::kUnavailable);
  // ONE succeeds with the local replica alone.
  result.reset();
  c.Write("k", Value("v", 2), only_local, 3, Consistency::kOne,
          [&](absl::StatusOr<WriteResult> r) { result = r; });
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->ok());
}

TEST_F(CoordinatorTest, ReadReturnsNewestAndRepairsStaleReplicas) {
  ASSERT_TRUE(local_.Apply("k", Value("old", 100)).ok());
  ASSERT_TRUE(transport_.engine(replicas_[1].id).Apply("k", Value("new", 200)).ok());
  // replicas_[2] has nothing.
  Coordinator c = Make();
  std::optional<absl::StatusOr<ReadResult>> result;
  c.Read("k", replicas_, 3, Consistency::kAll, [&](absl::StatusOr<ReadResult> r) { result = r; });
  transport_.Deliver();
  ASSERT_TRUE(result.has_value() && result->ok());
  ASSERT_TRUE((*result)->record.has_value());
  EXPECT_EQ((*result)->record->value, "new");
  EXPECT_EQ(c.read_repairs(), 2u);
  transport_.Deliver();  // the repair of replicas_[2]
  EXPECT_EQ((*local_.Read("k"))->value, "new");
  EXPECT_EQ((*transport_.engine(replicas_[2].id).Read("k"))->value, "new");
}

TEST_F(CoordinatorTest, AReplicaAnsweringWithAForgedVersionCountsAsFailedAndIsNotRepaired) {
  constexpr int64_t kNowMs = 1'700'000'000'000;
  util::ManualClock physical{absl::FromUnixMillis(kNowMs)};
  HybridClock hlc(&physical);
  const uint64_t now = HybridClock::Make(kNowMs, 0);
  ASSERT_TRUE(local_.Apply("k", Value("real", now)).ok());
  ASSERT_TRUE(transport_.engine(replicas_[1].id).Apply("k", Value("real", now)).ok());
  // replicas_[2] answers with a version an hour in the future.
  ASSERT_TRUE(transport_.engine(replicas_[2].id)
                  .Apply("k", Value("forged", HybridClock::Make(kNowMs + 3'600'000, 0)))
                  .ok());
  Coordinator c({.self = replicas_[0].id, .hlc = &hlc}, &local_, &transport_);
  std::optional<absl::StatusOr<ReadResult>> result;
  c.Read("k", replicas_, 3, Consistency::kAll, [&](absl::StatusOr<ReadResult> r) { result = r; });
  transport_.Deliver();
  ASSERT_TRUE(result.has_value());
  // ALL needs replicas_[2], whose answer is refused.
  EXPECT_EQ(result->status().code(), absl::StatusCode::kUnavailable) << result->status();
  EXPECT_NE(result->status().message().find("ms ahead"), std::string::npos) << result->status();
  transport_.Deliver();
  EXPECT_EQ((*local_.Read("k"))->value, "real");  // nothing repaired onto the others
  EXPECT_EQ((*transport_.engine(replicas_[1].id).Read("k"))->value, "real");
  // Its timestamp was not merged: the next local version is on time.
  EXPECT_EQ(HybridClock::PhysicalMillis(hlc.Now()), kNowMs);

  // QUORUM is met by the two honest replicas and returns the real value.
  result.reset();
  c.Read("k", replicas_, 3, Consistency::kQuorum,
         [&](absl::StatusOr<ReadResult> r) { result = r; });
  transport_.Deliver();
  ASSERT_TRUE(result.has_value() && result->ok()) << result->status();
  EXPECT_EQ((*result)->record->value, "real");
}

TEST_F(CoordinatorTest, ReadFailsWhenTooFewReplicasAnswer) {
  transport_.SetDown(replicas_[1].id, true);
  transport_.SetDown(replicas_[2].id, true);
  Coordinator c = Make();
  std::optional<absl::StatusOr<ReadResult>> result;
  c.Read("k", replicas_, 3, Consistency::kQuorum,
         [&](absl::StatusOr<ReadResult> r) { result = r; });
  transport_.Deliver();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(CoordinatorTest, QuorumReadSeesQuorumWriteWithOneReplicaDown) {
  Coordinator c = Make();
  transport_.SetDown(replicas_[2].id, true);
  c.Write("k", Value("v1", 10), replicas_, 3, Consistency::kQuorum, [](auto) {});
  transport_.Deliver();
  transport_.SetDown(replicas_[2].id, false);
  transport_.SetDown(replicas_[1].id, true);
  std::optional<absl::StatusOr<ReadResult>> result;
  c.Read("k", replicas_, 3, Consistency::kQuorum,
         [&](absl::StatusOr<ReadResult> r) { result = r; });
  transport_.Deliver();
  ASSERT_TRUE(result.has_value() && result->ok());
  ASSERT_TRUE((*result)->record.has_value());
  EXPECT_EQ((*result)->record->value, "v1");
}

TEST_F(CoordinatorTest, QuorumReadAsksOnlyAQuorumOwnCopyFirst) {
  ASSERT_TRUE(local_.Apply("k", Value("v", 100)).ok());
  ASSERT_TRUE(transport_.engine(replicas_[1].id).Apply("k", Value("v", 100)).ok());
  Coordinator c = Make();
  std::optional<absl::StatusOr<ReadResult>> result;
  // This node (replicas_[0]) listed last: it is still read first.
  c.Read("k", {replicas_[1], replicas_[2], replicas_[0]}, 3, Consistency::kQuorum,
         [&](absl::StatusOr<ReadResult> r) { result = r; });
  transport_.Deliver();
  ASSERT_TRUE(result.has_value() && result->ok()) << result->status();
  EXPECT_EQ((*result)->responses, 2u);
  EXPECT_EQ(transport_.fetches(replicas_[1].id), 1);
  EXPECT_EQ(transport_.fetches(replicas_[2].id), 0) << "two answers make the quorum";
  EXPECT_EQ(c.read_repairs(), 0u) << "replicas not asked are not repaired";
}

TEST_F(CoordinatorTest, OneReadOfAReplicaIsLocalOnly) {
  ASSERT_TRUE(local_.Apply("k", Value("v", 100)).ok());
  Coordinator c = Make();
  std::optional<absl::StatusOr<ReadResult>> result;
  c.Read("k", replicas_, 3, Consistency::kOne, [&](absl::StatusOr<ReadResult> r) { result = r; });
  ASSERT_TRUE(result.has_value() && result->ok()) << "answered without a network call";
  EXPECT_EQ((*result)->record->value, "v");
  EXPECT_EQ(transport_.pending(), 0u);
}

TEST_F(CoordinatorTest, FailedReplicaIsReplacedByTheNextOne) {
  ASSERT_TRUE(transport_.engine(replicas_[2].id).Apply("k", Value("new", 200)).ok());
  transport_.SetDown(replicas_[1].id, true);
  Coordinator c = Make();
  std::optional<absl::StatusOr<ReadResult>> result;
  c.Read("k", replicas_, 3, Consistency::kQuorum,
         [&](absl::StatusOr<ReadResult> r) { result = r; });
  transport_.Deliver();
  ASSERT_TRUE(result.has_value() && result->ok()) << result->status();
  EXPECT_EQ((*result)->record->value, "new");
  EXPECT_EQ(transport_.fetches(replicas_[1].id), 1);
  EXPECT_EQ(transport_.fetches(replicas_[2].id), 1);
  // The local copy (none) was stale among the replicas that answered.
  EXPECT_EQ(c.read_repairs(), 1u);
  transport_.Deliver();
  EXPECT_EQ((*local_.Read("k"))->value, "new");
}

TEST_F(CoordinatorTest, LateAnswersMakeTheReadAskOneMoreReplica) {
  FakeTimer timer;
  Coordinator c = Make(&timer);
  std::optional<absl::StatusOr<ReadResult>> result;
  c.Read("k", replicas_, 3, Consistency::kQuorum,
         [&](absl::StatusOr<ReadResult> r) { result = r; });
  ASSERT_EQ(timer.delays(), std::vector<absl::Duration>{absl::Milliseconds(20)});
  EXPECT_EQ(transport_.fetches(replicas_[2].id), 0);
  timer.FireAll();  // replicas_[1] has not answered yet
  EXPECT_EQ(transport_.fetches(replicas_[2].id), 1);
  EXPECT_EQ(c.speculative_reads(), 1u);
  transport_.Deliver();
  ASSERT_TRUE(result.has_value() && result->ok()) << result->status();
  EXPECT_EQ((*result)->responses, 2u);

  // A read answered before its timer fires asks no one else.
  result.reset();
  c.Read("k", replicas_, 3, Consistency::kQuorum,
         [&](absl::StatusOr<ReadResult> r) { result = r; });
  transport_.Deliver();
  ASSERT_TRUE(result.has_value() && result->ok());
  timer.FireAll();
  EXPECT_EQ(transport_.pending(), 0u);
  EXPECT_EQ(c.speculative_reads(), 1u);
}

}  // namespace
}  // namespace kv::replication
