#include "src/storage/memory_engine.h"

#include <malloc.h>

#include <atomic>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/storage/engine_contract_test.h"
#include "src/storage/writer_table.h"

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

// A record as text (record.h's operator<<: every field of a small record).
std::string Text(const Record& rec) {
  std::ostringstream os;
  os << rec;
  return os.str();
}

// What `engine` holds under `key`, as Text, or "absent".
std::string Stored(const MemoryEngine& engine, std::string_view key) {
  absl::StatusOr<std::optional<Record>> got = engine.Read(key);
  if (!got.ok()) return got.status().ToString();
  return got->has_value() ? Text(**got) : "absent";
}

TEST(MemoryEngineTest, KeepsEachRecordsWriterNodeIdAcrossOverwritesAndErases) {
  MemoryEngine engine(1);
  const std::string x(40, 'x'), y(40, 'y'), z = "short-id";
  ASSERT_TRUE(*engine.Apply("a", Record{.value = "1", .version = {1, x}}));
  // Same value size: overwritten in place; x is no longer referenced.
  ASSERT_TRUE(*engine.Apply("a", Record{.value = "2", .version = {2, y}}));
  // x's table slot is free and taken by z.
  ASSERT_TRUE(*engine.Apply("b", Record{.value = "3", .version = {1, z}}));
  // A longer value with an expiry: a new block.
  ASSERT_TRUE(*engine.Apply("c", Record{.value = "4", .version = {1, x}, .expires_at_ms = 99}));
  ASSERT_TRUE(*engine.Apply("c", Record{.value = "longer", .version = {2, x}}));
  // The same value size but an expiry added: a new block too.
  ASSERT_TRUE(*engine.Apply("b", Record{.value = "5", .version = {2, z}, .expires_at_ms = 7}));
  ASSERT_TRUE(*engine.EraseIf("a", Version{2, y}));

  EXPECT_EQ(Stored(engine, "a"), "absent");
  EXPECT_EQ(Stored(engine, "b"), Text({.value = "5", .version = {2, z}, .expires_at_ms = 7}));
  EXPECT_EQ(Stored(engine, "c"), Text({.value = "longer", .version = {2, x}}));
  // y's slot was freed by the erase; a new writer takes it.
  ASSERT_TRUE(*engine.Apply("d", Record{.version = {3, y + "2"}, .tombstone = true}));
  EXPECT_EQ(Stored(engine, "d"), Text({.version = {3, y + "2"}, .tombstone = true}));
  EXPECT_EQ(Stored(engine, "c"), Text({.value = "longer", .version = {2, x}}));
}

TEST(MemoryEngineTest, RefusesKeysLongerThanItCanStore) {
  MemoryEngine engine;
  const std::string longest(MemoryEntry::kMaxKeyBytes, 'k');
  ASSERT_TRUE(*engine.Apply(longest, Rec("v", 1)));
  EXPECT_EQ((*engine.Read(longest))->value, "v");

  absl::StatusOr<bool> refused = engine.Apply(longest + "k", Rec("v", 1));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("key is 65536 bytes; the memory engine stores keys of at most 65535"));
  EXPECT_EQ(engine.Size(), 1u);
}

TEST(MemoryEngineTest, RefusesANewWriterWhenAShardNamesAsManyAsItCan) {
  MemoryEngine engine(1);
  auto writer = [](size_t i) { return absl::StrCat("node-", i); };
  for (size_t i = 0; i < MemoryEntry::kMaxWriters; ++i) {
    ASSERT_TRUE(*engine.Apply(absl::StrCat("k", i), Record{.version = {1, writer(i)}})) << i;
  }
  const std::string one_more = writer(MemoryEntry::kMaxWriters);
  absl::StatusOr<bool> refused = engine.Apply("new", Record{.version = {1, one_more}});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), HasSubstr("16384 distinct writer node IDs"));
  // Overwriting a key by a writer already named is fine, and once no record
  // names writer 0 its place goes to another.
  ASSERT_TRUE(*engine.Apply("k0", Record{.version = {2, writer(1)}}));
  ASSERT_TRUE(*engine.Apply("new", Record{.version = {1, one_more}}));
  EXPECT_EQ((*engine.Read("new"))->version.node_id, one_more);
  EXPECT_EQ((*engine.Read("k0"))->version.node_id, writer(1));
}

// What the allocator really gives a block of n bytes (its usable size).
size_t UsableBytes(size_t n) {
  void* p = ::operator new(n);
  const size_t usable = malloc_usable_size(p);
  ::operator delete(p);
  return usable;
}

TEST(MemoryEngineLimitTest, RecordBytesCountsTheAllocatorsBlockAndASlot) {
  for (size_t value : {0, 1, 100, 117, 1000, 5000}) {
    // A 16-byte header, the 3-byte key and the value.
    const size_t block = 16 + 3 + value;
    const size_t counted = MemoryEngine::RecordBytes("key", Rec(std::string(value, 'v'), 1)) -
                           MemoryEngine::kSlotBytes;
    EXPECT_GE(counted, UsableBytes(block)) << value;
#ifdef KV_TCMALLOC
    EXPECT_EQ(counted, UsableBytes(block)) << value;  // tcmalloc's size class, exactly
#else
    EXPECT_EQ(counted, block + 23) << value;  // glibc: an 8-byte header, rounding up to 16
#endif
  }
  // An expiry adds 8 bytes to the block.
  EXPECT_GE(
      MemoryEngine::RecordBytes("key", Record{.value = std::string(100, 'v'), .expires_at_ms = 1}),
      UsableBytes(16 + 8 + 3 + 100) + MemoryEngine::kSlotBytes);
  // The node ID is not counted per record: it is stored once per shard.
  EXPECT_EQ(MemoryEngine::RecordBytes("key", Record{.version = {1, std::string(40, 'n')}}),
            MemoryEngine::RecordBytes("key", Record{}));
}

TEST(MemoryEngineLimitTest, RecordBytesNeverShrinksAsValuesGrow) {
  size_t previous = 0;
  for (size_t n = 0; n < 300; ++n) {
    const size_t bytes = MemoryEngine::RecordBytes("k", Record{.value = std::string(n, 'v')});
    EXPECT_GE(bytes, previous) << n;
    EXPECT_GE(bytes, n + 1 + MemoryEngine::kSlotBytes) << n;
    previous = bytes;
  }
}

// The charge for kNode, held once per shard that stores a record of it.
const size_t kWriter = WriterTable::ChargeFor(kNode);

TEST(MemoryEngineLimitTest, CountsTheRecordBytesOfEveryStoredRecord) {
  MemoryEngine engine(MemoryEngine::Options{.shards = 1});
  EXPECT_EQ(engine.ApproximateBytes(), 0u);
  const Record a = Rec(std::string(100, 'a'), 1);
  const Record b = Rec(std::string(1000, 'b'), 1);
  ASSERT_TRUE(*engine.Apply("a", a));
  ASSERT_TRUE(*engine.Apply("b", b));
  EXPECT_EQ(engine.ApproximateBytes(),
            MemoryEngine::RecordBytes("a", a) + MemoryEngine::RecordBytes("b", b) + kWriter);
  // An older version is not stored and changes nothing.
  ASSERT_FALSE(*engine.Apply("a", Rec(std::string(5000, 'x'), 0)));
  EXPECT_EQ(engine.ApproximateBytes(),
            MemoryEngine::RecordBytes("a", a) + MemoryEngine::RecordBytes("b", b) + kWriter);
  engine.TEST_Erase("b");
  EXPECT_EQ(engine.ApproximateBytes(), MemoryEngine::RecordBytes("a", a) + kWriter);
  engine.TEST_Erase("a");
  EXPECT_EQ(engine.ApproximateBytes(), 0u);  // the last record of kNode frees its charge
}

TEST(MemoryEngineLimitTest, EachDistinctWriterIdIsChargedWhileARecordNamesIt) {
  const std::string long_id(1000, 'l');
  EXPECT_GT(WriterTable::ChargeFor(long_id), 2 * long_id.size());
  EXPECT_GT(WriterTable::ChargeFor(kNode), 2 * kNode.size());
  MemoryEngine engine(MemoryEngine::Options{.shards = 1});
  const Record rec{.value = "v", .version = {1, long_id}};
  ASSERT_TRUE(*engine.Apply("k1", rec));
  ASSERT_TRUE(*engine.Apply("k2", rec));  // the same writer: charged once
  EXPECT_EQ(engine.ApproximateBytes(), MemoryEngine::RecordBytes("k1", rec) +
                                           MemoryEngine::RecordBytes("k2", rec) +
                                           WriterTable::ChargeFor(long_id));
  // Overwritten by another writer: the long ID's charge goes with its last record.
  ASSERT_TRUE(*engine.Apply("k1", Rec("v", 2)));
  ASSERT_TRUE(*engine.Apply("k2", Rec("v", 2)));
  EXPECT_EQ(engine.ApproximateBytes(), MemoryEngine::RecordBytes("k1", Rec("v", 2)) +
                                           MemoryEngine::RecordBytes("k2", Rec("v", 2)) + kWriter);
}

TEST(MemoryEngineLimitTest, ManyDistinctWritersReachTheLimitSooner) {
  auto writer = [](int i) {
    return absl::StrCat(std::string(36, 'c'), absl::Dec(i, absl::kZeroPad4));
  };
  const Record first{.value = "v", .version = {1, writer(0)}};
  const size_t each = MemoryEngine::RecordBytes("key-0", first) + WriterTable::ChargeFor(writer(0));
  MemoryEngine engine(MemoryEngine::Options{.shards = 1, .max_bytes = 5 * each + each / 2});
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        *engine.Apply(absl::StrCat("key-", i), Record{.value = "v", .version = {1, writer(i)}}))
        << i;
  }
  EXPECT_EQ(engine.Apply("key-5", Record{.value = "v", .version = {1, writer(5)}}).status().code(),
            absl::StatusCode::kResourceExhausted);
  // The same record from a writer already held fits: it costs no charge.
  EXPECT_TRUE(*engine.Apply("key-5", Record{.value = "v", .version = {1, writer(4)}}));
}

TEST(MemoryEngineLimitTest, RefusesARecordThatWouldPassTheLimitWithAMessageNamingTheFlag) {
  const Record rec = Rec(std::string(1000, 'v'), 1);
  const size_t each = MemoryEngine::RecordBytes("key-0", rec);
  // Room for three records and a half, and kNode's charge.
  const size_t limit = each * 7 / 2 + kWriter;
  MemoryEngine engine(MemoryEngine::Options{.shards = 1, .max_bytes = limit});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(*engine.Apply(absl::StrCat("key-", i), rec)) << i;

  absl::StatusOr<bool> refused = engine.Apply("key-3", rec);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  const std::string message(refused.status().message());
  EXPECT_THAT(message,
              HasSubstr(absl::StrCat("memory engine holds ", 3 * each + kWriter, " bytes")));
  EXPECT_THAT(message, HasSubstr(absl::StrCat("--max-memory-bytes=", limit)));
  EXPECT_THAT(message, HasSubstr("delete keys or raise the limit"));

  // Nothing changed: the refused key is absent and the total is the same.
  EXPECT_EQ(*engine.Read("key-3"), std::nullopt);
  EXPECT_EQ(engine.Size(), 3u);
  EXPECT_EQ(engine.ApproximateBytes(), 3 * each + kWriter);
  // A record larger than the whole limit is refused too.
  EXPECT_EQ(engine.Apply("huge", Rec(std::string(limit, 'h'), 1)).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(MemoryEngineLimitTest, RefusedWritesLeaveTheDigestTreeUnchanged) {
  const Record rec = Rec(std::string(1000, 'v'), 1);
  const size_t each = MemoryEngine::RecordBytes("key-0", rec);
  MemoryEngine engine(MemoryEngine::Options{.shards = 1, .max_bytes = each * 5 / 2 + kWriter});
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(*engine.Apply(absl::StrCat("key-", i), rec)) << i;
  const uint64_t root = engine.digest_tree().Hash(0, 0);
  const std::vector<uint32_t> leaves = engine.digest_tree().NonEmptyLeaves();
  ASSERT_NE(root, 0u);

  // A new key, an overwrite that grows its record, a key too long to store.
  EXPECT_EQ(engine.Apply("key-2", rec).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(engine.Apply("key-0", Rec(std::string(3000, 'v'), 2)).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(
      engine.Apply(std::string(MemoryEntry::kMaxKeyBytes + 1, 'k'), Rec("v", 1)).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine.digest_tree().Hash(0, 0), root);
  EXPECT_EQ(engine.digest_tree().NonEmptyLeaves(), leaves);

  // A write that fits still moves the tree.
  ASSERT_TRUE(*engine.Apply("key-0", Rec(std::string(10, 'v'), 3)));
  DigestTree want;
  const Version v1 = rec.version;
  const Version v3{3, kNode};
  want.Replace("key-0", nullptr, &v3);
  want.Replace("key-1", nullptr, &v1);
  EXPECT_EQ(engine.digest_tree().Hash(0, 0), want.Hash(0, 0));
}

TEST(MemoryEngineLimitTest, OverwritesThatShrinkOrKeepSizeAreAllowedAtTheLimit) {
  const size_t each = MemoryEngine::RecordBytes("key-0", Rec(std::string(1000, 'v'), 1));
  MemoryEngine engine(MemoryEngine::Options{.shards = 1, .max_bytes = 2 * each + kWriter});
  ASSERT_TRUE(*engine.Apply("key-0", Rec(std::string(1000, 'v'), 1)));
  ASSERT_TRUE(*engine.Apply("key-1", Rec(std::string(1000, 'v'), 1)));
  ASSERT_EQ(engine.ApproximateBytes(), 2 * each + kWriter);

  // Same size, at the limit: allowed.
  EXPECT_TRUE(*engine.Apply("key-0", Rec(std::string(1000, 'w'), 2)));
  // Growing an existing record past the limit: refused, the old value stays.
  EXPECT_EQ(engine.Apply("key-0", Rec(std::string(1100, 'x'), 3)).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ((*engine.Read("key-0"))->value, std::string(1000, 'w'));
  // Shrinking frees room...
  EXPECT_TRUE(*engine.Apply("key-0", Rec("short", 4)));
  EXPECT_EQ(engine.ApproximateBytes(),
            each + MemoryEngine::RecordBytes("key-0", Rec("short", 4)) + kWriter);
  // ...and so does a tombstone for a stored key.
  EXPECT_TRUE(*engine.Apply("key-1", Record{.version = {5, kNode}, .tombstone = true}));
  EXPECT_LT(engine.ApproximateBytes(), each + kWriter);
  // The freed room takes a new key.
  EXPECT_TRUE(*engine.Apply("key-2", Rec(std::string(1000, 'v'), 1)));
  EXPECT_LE(engine.ApproximateBytes(), 2 * each + kWriter);
}

// The sum of RecordBytes over what ForEach sees.
size_t StoredBytes(const MemoryEngine& engine) {
  size_t total = 0;
  engine.ForEach(
      [&](std::string_view key, const Record& r) { total += MemoryEngine::RecordBytes(key, r); });
  return total;
}

TEST(MemoryEngineLimitTest, EraseIfFreesTheRecordsBytesForNewWrites) {
  const Record rec = Rec(std::string(1000, 'v'), 1);
  const size_t each = MemoryEngine::RecordBytes("key-0", rec);
  MemoryEngine engine(MemoryEngine::Options{.shards = 1, .max_bytes = 2 * each + kWriter});
  ASSERT_TRUE(*engine.Apply("key-0", rec));
  ASSERT_TRUE(*engine.Apply("key-1", rec));
  ASSERT_EQ(engine.Apply("key-2", rec).status().code(), absl::StatusCode::kResourceExhausted);

  ASSERT_FALSE(*engine.EraseIf("key-0", Version{2, kNode}));  // other version: nothing freed
  EXPECT_EQ(engine.ApproximateBytes(), 2 * each + kWriter);
  ASSERT_TRUE(*engine.EraseIf("key-0", rec.version));
  EXPECT_EQ(engine.ApproximateBytes(), each + kWriter);
  EXPECT_EQ(StoredBytes(engine) + kWriter, engine.ApproximateBytes());
  EXPECT_TRUE(*engine.Apply("key-2", rec));
}

TEST(MemoryEngineLimitTest, PurgeReportsAndReleasesTheBytesItFrees) {
  constexpr int64_t kNow = 1'700'000'000'000;
  const uint64_t ts = static_cast<uint64_t>(kNow) << 16;
  Record expired = Rec(std::string(1000, 'x'), ts);
  expired.expires_at_ms = kNow;
  const Record tombstone{.version = {ts, kNode}, .tombstone = true};
  const Record live = Rec(std::string(1000, 'v'), ts);
  const size_t limit = MemoryEngine::RecordBytes("expired", expired) +
                       MemoryEngine::RecordBytes("deleted", tombstone) +
                       MemoryEngine::RecordBytes("live", live) + kWriter;
  MemoryEngine engine(MemoryEngine::Options{.shards = 1, .max_bytes = limit});
  ASSERT_TRUE(*engine.Apply("expired", expired));
  ASSERT_TRUE(*engine.Apply("deleted", tombstone));
  ASSERT_TRUE(*engine.Apply("live", live));
  ASSERT_EQ(engine.ApproximateBytes(), limit);

  absl::StatusOr<PurgeStats> stats = engine.Purge(kNow, absl::ZeroDuration());
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->expired, 1u);
  EXPECT_EQ(stats->tombstones_dropped, 1u);
  const size_t freed = MemoryEngine::RecordBytes("expired", expired) -
                       MemoryEngine::RecordBytes("expired", ExpiredTombstone(expired)) +
                       MemoryEngine::RecordBytes("deleted", tombstone);
  EXPECT_EQ(stats->bytes_freed, freed);
  EXPECT_EQ(engine.ApproximateBytes(), limit - freed);
  EXPECT_EQ(StoredBytes(engine) + kWriter, engine.ApproximateBytes());
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
  const size_t each = MemoryEngine::RecordBytes(key(0, 0), rec);
  // 1000 keys fill all 16 shards, each of which is charged for kNode once.
  const size_t writers = 16 * kWriter;
  const size_t limit = 1000 * each + writers + each / 2;
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
  engine.ForEach([&](std::string_view key, const Record& r) {
    stored_bytes += MemoryEngine::RecordBytes(key, r);
  });
  EXPECT_EQ(stored_bytes + writers, engine.ApproximateBytes());
  EXPECT_EQ(engine.ApproximateBytes(), 1000 * each + writers);
}

}  // namespace
}  // namespace kv::storage
