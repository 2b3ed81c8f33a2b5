#include "src/node/batch.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace kv::node {
namespace {

using replication::Consistency;

// Keeps each call's answer until Answer() runs them, so the test chooses the
// order (and thread) ops complete in. A key "bad..." fails.
class DeferredClient final : public ClientApi {
 public:
  void Put(PutArgs args, WriteCallback done) override {
    calls.push_back("put " + args.key);
    consistencies.push_back(args.consistency);
    ttls.push_back(args.ttl);
    Later([this, args = std::move(args), done = std::move(done)] {
      if (args.key.starts_with("bad")) return done(absl::UnavailableError("no quorum"));
      data[args.key] = args.value;
      done(replication::WriteResult{.acks = 2});
    });
  }
  void Get(std::string key, std::optional<Consistency> c, GetCallback done) override {
    calls.push_back("get " + key);
    consistencies.push_back(c);
    Later([this, key = std::move(key), done = std::move(done)] {
      if (key.starts_with("bad")) return done(absl::UnavailableError("no quorum"));
      GetReply r;
      if (auto it = data.find(key); it != data.end()) {
        r.found = true;
        r.value = it->second;
      }
      done(std::move(r));
    });
  }
  void Delete(std::string key, std::optional<Consistency> c, WriteCallback done) override {
    calls.push_back("delete " + key);
    consistencies.push_back(c);
    Later([this, key = std::move(key), done = std::move(done)] {
      data.erase(key);
      done(replication::WriteResult{.acks = 3});
    });
  }
  absl::Status ValidateKey(const std::string&) const override { return absl::OkStatus(); }
  absl::Status ValidateValue(const std::string&) const override { return absl::OkStatus(); }

  // Runs the answers kept so far, last call first.
  void AnswerInReverse() {
    std::vector<std::function<void()>> run = std::move(later_);
    later_.clear();
    for (auto it = run.rbegin(); it != run.rend(); ++it) (*it)();
  }

  std::map<std::string, std::string> data;
  std::vector<std::string> calls;
  std::vector<std::optional<Consistency>> consistencies;
  std::vector<absl::Duration> ttls;

 private:
  void Later(std::function<void()> f) { later_.push_back(std::move(f)); }
  std::vector<std::function<void()>> later_;
};

BatchOp Op(BatchOp::Kind kind, std::string key, std::string value = "",
           std::optional<Consistency> c = std::nullopt) {
  BatchOp op;
  op.kind = kind;
  op.args.key = std::move(key);
  op.args.value = std::move(value);
  op.args.consistency = c;
  return op;
}

TEST(RunBatchTest, EmptyBatchCompletesAtOnce) {
  DeferredClient client;
  std::optional<std::vector<BatchResult>> got;
  RunBatch(&client, {}, [&](std::vector<BatchResult> r) { got = std::move(r); });
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->empty());
}

TEST(RunBatchTest, ResultsComeInOpOrderWhateverOrderOpsComplete) {
  DeferredClient client;
  client.data["a"] = "old";
  std::vector<BatchOp> ops;
  ops.push_back(Op(BatchOp::Kind::kGet, "a", "", Consistency::kAll));
  ops.push_back(Op(BatchOp::Kind::kPut, "b", "2", Consistency::kOne));
  ops.back().args.ttl = absl::Seconds(5);
  ops.push_back(Op(BatchOp::Kind::kGet, "missing"));
  ops.push_back(Op(BatchOp::Kind::kDelete, "c"));
  std::optional<std::vector<BatchResult>> got;
  RunBatch(&client, std::move(ops), [&](std::vector<BatchResult> r) { got = std::move(r); });
  EXPECT_FALSE(got.has_value()) << "done ran before the ops completed";
  EXPECT_EQ(client.calls, (std::vector<std::string>{"get a", "put b", "get missing", "delete c"}));
  EXPECT_EQ(client.consistencies[0], Consistency::kAll);
  EXPECT_EQ(client.consistencies[1], Consistency::kOne);
  EXPECT_EQ(client.consistencies[2], std::nullopt);
  EXPECT_EQ(client.ttls[0], absl::Seconds(5));
  client.AnswerInReverse();
  ASSERT_TRUE(got.has_value());
  ASSERT_EQ(got->size(), 4u);
  for (const BatchResult& r : *got) EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE((*got)[0].get.found);
  EXPECT_EQ((*got)[0].get.value, "old");
  EXPECT_EQ((*got)[1].write.acks, 2u);
  EXPECT_FALSE((*got)[2].get.found);
  EXPECT_EQ((*got)[3].write.acks, 3u);
  EXPECT_EQ(client.data["b"], "2");
}

TEST(RunBatchTest, AFailedOrRefusedOpFailsOnlyItself) {
  DeferredClient client;
  std::vector<BatchOp> ops;
  ops.push_back(Op(BatchOp::Kind::kPut, "bad1", "x"));
  ops.push_back(Op(BatchOp::Kind::kPut, "secret", "x"));
  ops.back().refused = absl::PermissionDeniedError("role read cannot write");
  ops.push_back(Op(BatchOp::Kind::kPut, "ok", "y"));
  ops.push_back(Op(BatchOp::Kind::kGet, "bad2"));
  std::optional<std::vector<BatchResult>> got;
  RunBatch(&client, std::move(ops), [&](std::vector<BatchResult> r) { got = std::move(r); });
  // The refused op never reached the client.
  EXPECT_EQ(client.calls, (std::vector<std::string>{"put bad1", "put ok", "get bad2"}));
  client.AnswerInReverse();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ((*got)[0].status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ((*got)[1].status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE((*got)[2].status.ok());
  EXPECT_EQ((*got)[3].status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(client.data.count("secret"), 0u);
}

TEST(RunBatchTest, AllRefusedCompletesWithoutTheClient) {
  DeferredClient client;
  std::vector<BatchOp> ops(3);
  for (BatchOp& op : ops) op.refused = absl::InvalidArgumentError("empty op");
  std::optional<std::vector<BatchResult>> got;
  RunBatch(&client, std::move(ops), [&](std::vector<BatchResult> r) { got = std::move(r); });
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->size(), 3u);
  EXPECT_TRUE(client.calls.empty());
}

// Ops answered from several threads at once: done runs once, with every
// result (ASan/TSan builds check the hand-over).
TEST(RunBatchTest, OpsCompletingOnManyThreadsCallDoneOnce) {
  class ThreadedClient final : public ClientApi {
   public:
    void Put(PutArgs, WriteCallback done) override {
      threads.emplace_back([done = std::move(done)] { done(replication::WriteResult{}); });
    }
    void Get(std::string key, std::optional<Consistency>, GetCallback done) override {
      threads.emplace_back([key = std::move(key), done = std::move(done)] {
        GetReply r;
        r.found = true;
        r.value = key;
        done(std::move(r));
      });
    }
    void Delete(std::string, std::optional<Consistency>, WriteCallback done) override {
      Put({}, std::move(done));
    }
    absl::Status ValidateKey(const std::string&) const override { return absl::OkStatus(); }
    absl::Status ValidateValue(const std::string&) const override { return absl::OkStatus(); }
    std::vector<std::thread> threads;
  } client;
  constexpr int kOps = 64;
  std::vector<BatchOp> ops;
  for (int i = 0; i < kOps; ++i) {
    ops.push_back(Op(i % 2 ? BatchOp::Kind::kGet : BatchOp::Kind::kPut, std::to_string(i)));
  }
  std::atomic<int> calls{0};
  std::vector<BatchResult> got;
  absl::Notification done;
  RunBatch(&client, std::move(ops), [&](std::vector<BatchResult> r) {
    got = std::move(r);
    calls.fetch_add(1);
    done.Notify();
  });
  for (std::thread& t : client.threads) t.join();
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(calls.load(), 1);
  ASSERT_EQ(got.size(), static_cast<size_t>(kOps));
  for (int i = 1; i < kOps; i += 2) EXPECT_EQ(got[i].get.value, std::to_string(i));
}

}  // namespace
}  // namespace kv::node
