#include "src/rpc/peer_batcher.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace kv::rpc {
namespace {

// A send that records each call and lets the test finish it.
struct FakeSend {
  struct Call {
    std::vector<std::string> keys;
    StoreBatcher::Finished finished;
  };
  std::vector<Call> calls;

  StoreBatcher::SendFn Fn() {
    return [this](const std::vector<StoreItem>& items, StoreBatcher::Finished finished) {
      Call c;
      for (const StoreItem& i : items) c.keys.push_back(i.key);
      c.finished = std::move(finished);
      calls.push_back(std::move(c));
    };
  }
  // Answers call `i` with OK for every item but the ones named in `failed`.
  void Finish(size_t i, const std::vector<std::string>& failed = {}) {
    std::vector<absl::Status> out;
    for (const std::string& k : calls[i].keys) {
      bool fail = std::find(failed.begin(), failed.end(), k) != failed.end();
      out.push_back(fail ? absl::ResourceExhaustedError(k) : absl::OkStatus());
    }
    StoreBatcher::Finished f = std::move(calls[i].finished);
    f(std::move(out));
  }
};

struct Results {
  std::vector<std::pair<std::string, absl::Status>> done;
  StoreItem Item(std::string key, absl::Duration timeout = absl::Seconds(10)) {
    StoreItem item;
    item.key = key;
    item.deadline = absl::Now() + timeout;
    item.done = [this, key](absl::Status s) { done.emplace_back(key, std::move(s)); };
    return item;
  }
};

TEST(StoreBatcherTest, IdlePeerGetsEachStoreAtOnce) {
  FakeSend send;
  Results r;
  StoreBatcher b({.window = 2}, send.Fn());
  b.Add(r.Item("a"));
  b.Add(r.Item("b"));
  ASSERT_EQ(send.calls.size(), 2u);
  EXPECT_EQ(send.calls[0].keys, std::vector<std::string>{"a"});
  EXPECT_EQ(send.calls[1].keys, std::vector<std::string>{"b"});
  EXPECT_EQ(b.in_flight(), 2u);
}

TEST(StoreBatcherTest, StoresWaitingForTheWindowLeaveTogetherInOrder) {
  FakeSend send;
  Results r;
  StoreBatcher b({.window = 1}, send.Fn());
  for (const char* k : {"a", "b", "c", "d"}) b.Add(r.Item(k));
  ASSERT_EQ(send.calls.size(), 1u);
  EXPECT_EQ(b.waiting(), 3u);
  send.Finish(0);
  ASSERT_EQ(send.calls.size(), 2u);
  EXPECT_EQ(send.calls[1].keys, (std::vector<std::string>{"b", "c", "d"}));
  EXPECT_EQ(b.in_flight(), 1u);
  send.Finish(1, {"c"});
  EXPECT_EQ(b.in_flight(), 0u);
  ASSERT_EQ(r.done.size(), 4u);
  EXPECT_EQ(r.done[0].first, "a");
  EXPECT_TRUE(r.done[0].second.ok());
  EXPECT_EQ(r.done[2].first, "c");
  EXPECT_EQ(r.done[2].second.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(r.done[3].second.ok());
}

TEST(StoreBatcherTest, BatchesRespectMaxItemsAndMaxBytes) {
  FakeSend send;
  Results r;
  StoreBatcher b({.window = 1, .max_items = 2, .max_bytes = 1 << 20}, send.Fn());
  for (const char* k : {"a", "b", "c", "d"}) b.Add(r.Item(k));
  send.Finish(0);
  EXPECT_EQ(send.calls[1].keys, (std::vector<std::string>{"b", "c"}));
  send.Finish(1);
  EXPECT_EQ(send.calls[2].keys, (std::vector<std::string>{"d"}));

  FakeSend send2;
  StoreBatcher small({.window = 1, .max_items = 100, .max_bytes = 200}, send2.Fn());
  for (const char* k : {"w", "x", "y", "z"}) {
    StoreItem item = r.Item(k);
    item.rec.value = std::string(100, 'v');  // each item counts over 100 bytes
    small.Add(std::move(item));
  }
  send2.Finish(0);
  // One item per call: two would pass 200 bytes. A single large item still goes.
  EXPECT_EQ(send2.calls[1].keys, std::vector<std::string>{"x"});
}

TEST(StoreBatcherTest, ExpiredStoresFailWithoutBeingSent) {
  FakeSend send;
  Results r;
  StoreBatcher b({.window = 1}, send.Fn());
  b.Add(r.Item("a"));
  b.Add(r.Item("late", absl::ZeroDuration()));
  b.Add(r.Item("b"));
  send.Finish(0);
  ASSERT_EQ(send.calls.size(), 2u);
  EXPECT_EQ(send.calls[1].keys, std::vector<std::string>{"b"});
  ASSERT_EQ(r.done.size(), 2u);
  EXPECT_EQ(r.done[1].first, "late");
  EXPECT_EQ(r.done[1].second.code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(StoreBatcherTest, SendsThatFinishAtOnceDrainTheQueueWithoutRecursing) {
  Results r;
  int calls = 0;
  StoreBatcher* self = nullptr;
  // A send that answers at once and, the first time, queues 10,000 more
  // Stores from inside the call (as a shutting-down transport would fail them).
  StoreBatcher b({.window = 1, .max_items = 1},
                 [&](const std::vector<StoreItem>& items, StoreBatcher::Finished finished) {
                   if (calls++ == 0) {
                     for (int i = 0; i < 10000; ++i) self->Add(r.Item(std::to_string(i)));
                   }
                   finished(std::vector<absl::Status>(items.size(), absl::UnavailableError("x")));
                 });
  self = &b;
  b.Add(r.Item("first"));
  EXPECT_EQ(calls, 10001);
  EXPECT_EQ(r.done.size(), 10001u);
  EXPECT_EQ(b.in_flight(), 0u);
  EXPECT_EQ(b.waiting(), 0u);
}

TEST(StoreBatcherTest, ShortAnswerFailsTheItemsItLacks) {
  Results r;
  StoreBatcher b({.window = 1}, [](const std::vector<StoreItem>&, StoreBatcher::Finished f) {
    f({absl::OkStatus()});
  });
  // The first goes alone; the next two wait behind nothing (the send finished
  // at once), so each goes alone too and gets its one OK.
  b.Add(r.Item("a"));
  ASSERT_EQ(r.done.size(), 1u);
  EXPECT_TRUE(r.done[0].second.ok());

  FakeSend send;
  StoreBatcher b2({.window = 1}, send.Fn());
  b2.Add(r.Item("x"));
  b2.Add(r.Item("y"));
  b2.Add(r.Item("z"));
  send.Finish(0);
  StoreBatcher::Finished f = std::move(send.calls[1].finished);
  f({absl::OkStatus()});  // answers y only
  ASSERT_EQ(r.done.size(), 4u);
  EXPECT_TRUE(r.done[2].second.ok());
  EXPECT_EQ(r.done[3].first, "z");
  EXPECT_EQ(r.done[3].second.code(), absl::StatusCode::kInternal);
}

TEST(FetchBatcherTest, RecordsAndErrorsReachTheirOwnCallers) {
  std::vector<std::pair<std::vector<std::string>, FetchBatcher::Finished>> calls;
  FetchBatcher b({.window = 1},
                 [&](const std::vector<FetchItem>& items, FetchBatcher::Finished finished) {
                   std::vector<std::string> keys;
                   for (const FetchItem& i : items) keys.push_back(i.key);
                   calls.emplace_back(std::move(keys), std::move(finished));
                 });
  std::map<std::string, FetchItem::Result> got;
  auto item = [&](std::string key, absl::Duration timeout = absl::Seconds(10)) {
    return FetchItem{.key = key,
                     .deadline = absl::Now() + timeout,
                     .done = [&got, key](FetchItem::Result r) { got.emplace(key, std::move(r)); }};
  };
  b.Add(item("a"));
  b.Add(item("found"));
  b.Add(item("expired", absl::ZeroDuration()));
  b.Add(item("missing"));
  b.Add(item("broken"));
  ASSERT_EQ(calls.size(), 1u);
  FetchBatcher::Finished first = std::move(calls[0].second);
  first({std::optional<storage::Record>()});
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].first, (std::vector<std::string>{"found", "missing", "broken"}));
  FetchBatcher::Finished second = std::move(calls[1].second);
  second({std::optional<storage::Record>(storage::Record{.value = "v"}),
          std::optional<storage::Record>(), absl::UnavailableError("disk")});
  ASSERT_EQ(got.size(), 5u);
  EXPECT_FALSE(got.at("a")->has_value());
  ASSERT_TRUE(got.at("found").ok());
  EXPECT_EQ((*got.at("found"))->value, "v");
  EXPECT_FALSE(got.at("missing")->has_value());
  EXPECT_EQ(got.at("broken").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(got.at("expired").status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(b.in_flight(), 0u);
}

}  // namespace
}  // namespace kv::rpc
