#include "src/storage/memory_engine.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/storage/engine_contract_test.h"

namespace kv::storage {
namespace {

using ::testing::HasSubstr;

const std::string kNode(40, 'a');

INSTANTIATE_TEST_SUITE_P(
    MemoryEngines, EngineContractTest,
    testing::Values(EngineFactory{"DefaultShards", [] { return std::make_unique<MemoryEngine>(); }},
                    EngineFactory{"OneShard", [] { return std::make_unique<MemoryEngine>(1); }},
                    EngineFactory{"SevenShards", [] { return std::make_unique<MemoryEngine>(7); }},
                    // A limit far above what the suite stores behaves as no limit.
                    EngineFactory{"WithByteLimit",
                                  [] {
                                    return std::make_unique<MemoryEngine>(
                                        MemoryEngine::Options{.max_bytes = size_t{1} << 30});
                                  }}),
    EngineFactoryName);

TEST(MemoryEngineTest, ZeroShardsBehavesAsOneShard) {
  MemoryEngine engine(0);
  absl::StatusOr<bool> stored =
      engine.Apply("k", Record{.value = "v", .version = {1, std::string(40, 'a')}});
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(*stored);
  absl::StatusOr<std::optional<Record>> got = engine.Read("k");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->value, "v");
  EXPECT_EQ(engine.Size(), 1u);
}

TEST(MemoryEngineTest, SpreadsManyKeysAcrossShardsWithoutLosingAny) {
  MemoryEngine engine(8);
  constexpr int kKeys = 2000;
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(*engine.Apply(absl::StrCat("key-", i), Record{.value = absl::StrCat(i)}));
  }
  EXPECT_EQ(engine.Size(), static_cast<size_t>(kKeys));
  for (int i = 0; i < kKeys; ++i) {
    absl::StatusOr<std::optional<Record>> got = engine.Read(absl::StrCat("key-", i));
    ASSERT_TRUE(got.ok() && got->has_value()) << i;
    EXPECT_EQ((*got)->value, absl::StrCat(i));
  }
}

Record Rec(std::string value, uint64_t ts) {
  return Record{.value = std::move(value), .version = {ts, kNode}};
}

TEST(MemoryEngineLimitTest, CountsTheApproximateBytesOfEveryStoredRecord) {
  MemoryEngine engine;
  EXPECT_EQ(engine.ApproximateBytes(), 0u);
  const Record a = Rec(std::string(100, 'a'), 1);
  const Record b = Rec(std::string(1000, 'b'), 1);
  ASSERT_TRUE(*engine.Apply("a", a));
  ASSERT_TRUE(*engine.Apply("b", b));
  EXPECT_EQ(engine.ApproximateBytes(), a.ApproximateBytes("a") + b.ApproximateBytes("b"));
  // An older version is not stored and changes nothing.
  ASSERT_FALSE(*engine.Apply("a", Rec(std::string(5000, 'x'), 0)));
  EXPECT_EQ(engine.ApproximateBytes(), a.ApproximateBytes("a") + b.ApproximateBytes("b"));
  engine.TEST_Erase("b");
  EXPECT_EQ(engine.ApproximateBytes(), a.ApproximateBytes("a"));
}

TEST(MemoryEngineLimitTest, RefusesARecordThatWouldPassTheLimitWithAMessageNamingTheFlag) {
  const Record rec = Rec(std::string(1000, 'v'), 1);
  const size_t each = rec.ApproximateBytes("key-0");
  // Room for three records and a half.
  const size_t limit = each * 7 / 2;
  MemoryEngine engine(MemoryEngine::Options{.max_bytes = limit});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(*engine.Apply(absl::StrCat("key-", i), rec)) << i;

  absl::StatusOr<bool> refused = engine.Apply("key-3", rec);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  const std::string message(refused.status().message());
  EXPECT_THAT(message, HasSubstr(absl::StrCat("memory engine holds ", 3 * each, " bytes")));
  EXPECT_THAT(message, HasSubstr(absl::StrCat("--max-memory-bytes=", limit)));
  EXPECT_THAT(message, HasSubstr("delete keys or raise the limit"));

  // Nothing changed: the refused key is absent and the total is the same.
  EXPECT_EQ(*engine.Read("key-3"), std::nullopt);
  EXPECT_EQ(engine.Size(), 3u);
  EXPECT_EQ(engine.ApproximateBytes(), 3 * each);
  // A record larger than the whole limit is refused too.
  EXPECT_EQ(engine.Apply("huge", Rec(std::string(limit, 'h'), 1)).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(MemoryEngineLimitTest, OverwritesThatShrinkOrKeepSizeAreAllowedAtTheLimit) {
  const size_t each = Rec(std::string(1000, 'v'), 1).ApproximateBytes("key-0");
  MemoryEngine engine(MemoryEngine::Options{.max_bytes = 2 * each});
  ASSERT_TRUE(*engine.Apply("key-0", Rec(std::string(1000, 'v'), 1)));
  ASSERT_TRUE(*engine.Apply("key-1", Rec(std::string(1000, 'v'), 1)));
  ASSERT_EQ(engine.ApproximateBytes(), 2 * each);

  // Same size, at the limit: allowed.
  EXPECT_TRUE(*engine.Apply("key-0", Rec(std::string(1000, 'w'), 2)));
  // Growing an existing record past the limit: refused, the old value stays.
  EXPECT_EQ(engine.Apply("key-0", Rec(std::string(1100, 'x'), 3)).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ((*engine.Read("key-0"))->value, std::string(1000, 'w'));
  // Shrinking frees room...
  EXPECT_TRUE(*engine.Apply("key-0", Rec("short", 4)));
  EXPECT_EQ(engine.ApproximateBytes(), each + Rec("short", 4).ApproximateBytes("key-0"));
  // ...and so does a tombstone for a stored key.
  EXPECT_TRUE(*engine.Apply("key-1", Record{.version = {5, kNode}, .tombstone = true}));
  EXPECT_LT(engine.ApproximateBytes(), each);
  // The freed room takes a new key.
  EXPECT_TRUE(*engine.Apply("key-2", Rec(std::string(1000, 'v'), 1)));
  EXPECT_LE(engine.ApproximateBytes(), 2 * each);
}

// The sum of ApproximateBytes over what ForEach sees.
size_t StoredBytes(const MemoryEngine& engine) {
  size_t total = 0;
  engine.ForEach([&](std::string_view key, const Record& r) { total += r.ApproximateBytes(key); });
  return total;
}

TEST(MemoryEngineLimitTest, EraseIfFreesTheRecordsBytesForNewWrites) {
  const Record rec = Rec(std::string(1000, 'v'), 1);
  const size_t each = rec.ApproximateBytes("key-0");
  MemoryEngine engine(MemoryEngine::Options{.max_bytes = 2 * each});
  ASSERT_TRUE(*engine.Apply("key-0", rec));
  ASSERT_TRUE(*engine.Apply("key-1", rec));
  ASSERT_EQ(engine.Apply("key-2", rec).status().code(), absl::StatusCode::kResourceExhausted);

  ASSERT_FALSE(*engine.EraseIf("key-0", Version{2, kNode}));  // other version: nothing freed
  EXPECT_EQ(engine.ApproximateBytes(), 2 * each);
  ASSERT_TRUE(*engine.EraseIf("key-0", rec.version));
  EXPECT_EQ(engine.ApproximateBytes(), each);
  EXPECT_EQ(StoredBytes(engine), engine.ApproximateBytes());
  EXPECT_TRUE(*engine.Apply("key-2", rec));
}

TEST(MemoryEngineLimitTest, PurgeReportsAndReleasesTheBytesItFrees) {
  constexpr int64_t kNow = 1'700'000'000'000;
  const uint64_t ts = static_cast<uint64_t>(kNow) << 16;
  Record expired = Rec(std::string(1000, 'x'), ts);
  expired.expires_at_ms = kNow;
  const Record tombstone{.version = {ts, kNode}, .tombstone = true};
  const Record live = Rec(std::string(1000, 'v'), ts);
  const size_t limit = expired.ApproximateBytes("expired") + tombstone.ApproximateBytes("deleted") +
                       live.ApproximateBytes("live");
  MemoryEngine engine(MemoryEngine::Options{.shards = 4, .max_bytes = limit});
  ASSERT_TRUE(*engine.Apply("expired", expired));
  ASSERT_TRUE(*engine.Apply("deleted", tombstone));
  ASSERT_TRUE(*engine.Apply("live", live));
  ASSERT_EQ(engine.ApproximateBytes(), limit);

  absl::StatusOr<PurgeStats> stats = engine.Purge(kNow, absl::ZeroDuration());
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->expired, 1u);
  EXPECT_EQ(stats->tombstones_dropped, 1u);
  const size_t freed = expired.ApproximateBytes("expired") -
                       ExpiredTombstone(expired).ApproximateBytes("expired") +
                       tombstone.ApproximateBytes("deleted");
  EXPECT_EQ(stats->bytes_freed, freed);
  EXPECT_EQ(engine.ApproximateBytes(), limit - freed);
  EXPECT_EQ(StoredBytes(engine), engine.ApproximateBytes());
  // The freed room takes new writes.
  EXPECT_TRUE(*engine.Apply("new", Rec(std::string(500, 'n'), ts)));
}

// Writers of distinct keys in every shard race for the last bytes: the total
// never passes the limit, matches what is stored, and the engine fills up to
// within one record of it.
TEST(MemoryEngineLimitTest, ConcurrentWritersNeverPassTheLimit) {
  constexpr int kThreads = 8;
  const Record rec = Rec(std::string(200, 'v'), 1);
  // Keys "t<thread>-<5 digits>" all count the same.
  auto key = [](int t, int i) { return absl::StrCat("t", t, "-", absl::Dec(i, absl::kZeroPad5)); };
  const size_t each = rec.ApproximateBytes(key(0, 0));
  const size_t limit = 1000 * each + each / 2;
  MemoryEngine engine(MemoryEngine::Options{.shards = 16, .max_bytes = limit});
  std::atomic<size_t> most_seen{0};
  std::atomic<int> other_errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        absl::StatusOr<bool> stored = engine.Apply(key(t, i), rec);
        size_t seen = engine.ApproximateBytes();
        size_t prev = most_seen.load();
        while (seen > prev && !most_seen.compare_exchange_weak(prev, seen)) {
        }
        if (!stored.ok()) {
          if (stored.status().code() != absl::StatusCode::kResourceExhausted) ++other_errors;
          return;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(other_errors.load(), 0);
  EXPECT_LE(most_seen.load(), limit);
  EXPECT_EQ(engine.Size(), 1000u);
  size_t stored_bytes = 0;
  engine.ForEach(
      [&](std::string_view key, const Record& r) { stored_bytes += r.ApproximateBytes(key); });
  EXPECT_EQ(stored_bytes, engine.ApproximateBytes());
  EXPECT_EQ(engine.ApproximateBytes(), 1000 * each);
}

}  // namespace
}  // namespace kv::storage
