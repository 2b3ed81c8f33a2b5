#include "src/replication/hint_store.h"

#include <stdlib.h>

#include <array>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/storage/record_codec.h"
#include "src/storage/rocksdb_engine.h"

namespace kv::replication {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const std::string kNode(40, 'a');

dht::NodeId Id(uint8_t first) {
  std::array<uint8_t, dht::kIdBytes> bytes{};
  bytes[0] = first;
  bytes[dht::kIdBytes - 1] = 0x5a;
  return dht::NodeId(bytes);
}

const dht::NodeId kTargetA = Id(0xa0);
const dht::NodeId kTargetB = Id(0xb0);

storage::Record Rec(std::string value, uint64_t ts) {
  return storage::Record{.value = std::move(value), .version = {ts, kNode}};
}

std::unique_ptr<HintStore> MustOpen(HintStore::Options options = {}, HintStore::Log log = {}) {
  absl::StatusOr<std::unique_ptr<HintStore>> store = HintStore::Open(options, std::move(log));
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// "key=value@timestamp" for each hint, to compare lists in one line.
std::vector<std::string> Describe(const std::vector<Hint>& hints) {
  std::vector<std::string> out;
  for (const Hint& h : hints) {
    out.push_back(absl::StrCat(h.key, "=", h.record.value, "@", h.record.version.timestamp));
  }
  return out;
}

// The encoded size of a hint, as the store counts it.
size_t Bytes(const dht::NodeId& target, std::string_view key, const storage::Record& rec) {
  return EncodeHint(target, key, rec).size();
}

// ---- Encoding -----------------------------------------------------------------

TEST(HintEncodingTest, RoundTripsTargetKeyAndRecord) {
  storage::Record rec{.value = std::string("v\0al", 4),
                      .version = {0x0102030405060708, kNode},
                      .tombstone = false,
                      .expires_at_ms = 99};
  const std::string key(300, 'k');  // a two-byte varint length
  const std::string bytes = EncodeHint(kTargetA, key, rec);
  EXPECT_EQ(bytes.size(), dht::kIdBytes + 2 + key.size() + storage::EncodeRecord(rec).size());
  EXPECT_EQ(bytes.substr(0, dht::kIdBytes),
            std::string(reinterpret_cast<const char*>(kTargetA.bytes().data()), dht::kIdBytes));
  EXPECT_EQ(bytes.substr(dht::kIdBytes, 2), "\xac\x02");  // 300 as LEB128

  absl::StatusOr<Hint> hint = DecodeHint(7, bytes);
  ASSERT_TRUE(hint.ok()) << hint.status();
  EXPECT_EQ(hint->seq, 7u);
  EXPECT_EQ(hint->target, kTargetA);
  EXPECT_EQ(hint->key, key);
  EXPECT_EQ(hint->record.value, rec.value);
  EXPECT_EQ(hint->record.version, rec.version);
  EXPECT_EQ(hint->record.expires_at_ms, 99);
}

TEST(HintEncodingTest, DecodeRejectsCorruptBytesNamingTheProblem) {
  const std::string good = EncodeHint(kTargetA, "key", Rec("v", 1));
  auto message = [](std::string_view bytes) {
    absl::StatusOr<Hint> hint = DecodeHint(1, bytes);
    EXPECT_EQ(hint.status().code(), absl::StatusCode::kDataLoss);
    return std::string(hint.status().message());
  };
  EXPECT_THAT(message(good.substr(0, 19)), HasSubstr("shorter than the 20-byte target ID"));
  EXPECT_THAT(message(good.substr(0, 20)), HasSubstr("key length is not a varint"));
  EXPECT_THAT(message(good.substr(0, 22)), HasSubstr("the key is 3 bytes but only 1 remain"));
  EXPECT_THAT(message(good + "x"), HasSubstr("hint for key \"key\": record corrupt"));
  std::string bad_format = good;
  bad_format[dht::kIdBytes + 4] = '\x09';  // the record's format version
  EXPECT_THAT(message(bad_format), HasSubstr("unknown format version 9"));
}

// ---- Memory-only store ----------------------------------------------------------

TEST(HintStoreTest, HandsOutEachTargetsHintsOldestFirst) {
  std::unique_ptr<HintStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Add(kTargetA, "a1", Rec("x", 1)).ok());
  ASSERT_TRUE(store->Add(kTargetB, "b1", Rec("x", 2)).ok());
  ASSERT_TRUE(store->Add(kTargetA, "a2", Rec("x", 3)).ok());
  ASSERT_TRUE(store->Add(kTargetA, "a3", Rec("x", 4)).ok());

  EXPECT_THAT(Describe(store->Oldest(kTargetA, 10)), ElementsAre("a1=x@1", "a2=x@3", "a3=x@4"));
  EXPECT_THAT(Describe(store->Oldest(kTargetA, 2)), ElementsAre("a1=x@1", "a2=x@3"));
  EXPECT_THAT(Describe(store->Oldest(kTargetB, 10)), ElementsAre("b1=x@2"));
  EXPECT_THAT(store->Oldest(Id(0xc0), 10), IsEmpty());
  EXPECT_THAT(store->Oldest(kTargetA, 0), IsEmpty());
  EXPECT_THAT(store->Targets(), UnorderedElementsAre(kTargetA, kTargetB));

  std::vector<Hint> a = store->Oldest(kTargetA, 10);
  EXPECT_LT(a[0].seq, a[1].seq);
  EXPECT_EQ(a[0].target, kTargetA);
  const HintStore::Stats stats = store->stats();
  EXPECT_EQ(stats.hints, 4u);
  EXPECT_EQ(stats.added, 4u);
  EXPECT_EQ(stats.bytes, Bytes(kTargetA, "a1", Rec("x", 1)) * 4);
}

TEST(HintStoreTest, KeepsOneHintPerTargetAndKeyTheNewestVersion) {
  std::unique_ptr<HintStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Add(kTargetA, "k", Rec("first", 10)).ok());
  ASSERT_TRUE(store->Add(kTargetA, "other", Rec("o", 11)).ok());
  // A newer version replaces the hint, and it moves to the back of the line.
  ASSERT_TRUE(store->Add(kTargetA, "k", Rec("newer", 20)).ok());
  EXPECT_THAT(Describe(store->Oldest(kTargetA, 10)), ElementsAre("other=o@11", "k=newer@20"));
  // An equal version replaces it too.
  ASSERT_TRUE(store->Add(kTargetA, "k", Rec("equal", 20)).ok());
  // An older version is ignored.
  ASSERT_TRUE(store->Add(kTargetA, "k", Rec("older", 15)).ok());
  EXPECT_THAT(Describe(store->Oldest(kTargetA, 10)), ElementsAre("other=o@11", "k=equal@20"));
  // The same key for another target is a separate hint.
  ASSERT_TRUE(store->Add(kTargetB, "k", Rec("for-b", 1)).ok());
  EXPECT_THAT(Describe(store->Oldest(kTargetB, 10)), ElementsAre("k=for-b@1"));

  const HintStore::Stats stats = store->stats();
  EXPECT_EQ(stats.hints, 3u);
  EXPECT_EQ(stats.added, 5u);
  EXPECT_EQ(stats.replaced, 2u);
  EXPECT_EQ(stats.bytes, Bytes(kTargetA, "other", Rec("o", 11)) +
                             Bytes(kTargetA, "k", Rec("equal", 20)) +
                             Bytes(kTargetB, "k", Rec("for-b", 1)));
}

TEST(HintStoreTest, EvictsTheOldestHintsOfAnyTargetToStayWithinMaxBytes) {
  const storage::Record rec = Rec(std::string(100, 'v'), 1);
  const size_t each = Bytes(kTargetA, "k0", rec);
  std::unique_ptr<HintStore> store = MustOpen({.max_bytes = 3 * each + each / 2});
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Add(kTargetA, "k0", rec).ok());
  ASSERT_TRUE(store->Add(kTargetB, "k1", rec).ok());
  ASSERT_TRUE(store->Add(kTargetA, "k2", rec).ok());
  EXPECT_EQ(store->stats().evicted, 0u);

  ASSERT_TRUE(store->Add(kTargetB, "k3", rec).ok());  // one too many: k0 goes
  EXPECT_THAT(Describe(store->Oldest(kTargetA, 10)),
              ElementsAre(absl::StrCat("k2=", rec.value, "@1")));
  EXPECT_EQ(store->Oldest(kTargetB, 10).size(), 2u);

  // A hint twice the size evicts the two oldest (k1 of B, k2 of A).
  const storage::Record big = Rec(std::string(2 * 100 + 40, 'b'), 1);
  ASSERT_LE(Bytes(kTargetA, "k4", big), 2 * each);
  ASSERT_TRUE(store->Add(kTargetA, "k4", big).ok());
  EXPECT_EQ(store->Oldest(kTargetA, 10).size(), 1u);
  EXPECT_EQ(store->Oldest(kTargetA, 10)[0].key, "k4");
  EXPECT_EQ(store->Oldest(kTargetB, 10)[0].key, "k3");

  const HintStore::Stats stats = store->stats();
  EXPECT_EQ(stats.evicted, 3u);
  EXPECT_EQ(stats.hints, 2u);
  EXPECT_LE(stats.bytes, 3 * each + each / 2);
}

TEST(HintStoreTest, RefusesAHintLargerThanMaxBytesAndChangesNothing) {
  const storage::Record small = Rec("s", 1);
  const size_t limit = Bytes(kTargetA, "k", small) + 10;
  std::unique_ptr<HintStore> store = MustOpen({.max_bytes = limit});
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Add(kTargetA, "k", small).ok());

  absl::Status s = store->Add(kTargetB, "big", Rec(std::string(limit, 'b'), 2));
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("hint for key \"big\" is "));
  EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat(limit, "-byte limit")));
  EXPECT_THAT(Describe(store->Oldest(kTargetA, 10)), ElementsAre("k=s@1"));
  EXPECT_THAT(store->Targets(), ElementsAre(kTargetA));
  EXPECT_EQ(store->stats().evicted, 0u);
  EXPECT_EQ(store->stats().added, 1u);
}

TEST(HintStoreTest, RemoveDropsAReplayedHintButNotOneThatReplacedIt) {
  std::unique_ptr<HintStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Add(kTargetA, "k", Rec("old", 1)).ok());
  ASSERT_TRUE(store->Add(kTargetA, "j", Rec("j", 1)).ok());
  const std::vector<Hint> replaying = store->Oldest(kTargetA, 10);
  ASSERT_EQ(replaying.size(), 2u);

  // While "k" is being replayed, a newer write for it arrives.
  ASSERT_TRUE(store->Add(kTargetA, "k", Rec("new", 2)).ok());
  store->Remove(replaying[0]);  // the replaced "k": a no-op
  store->Remove(replaying[1]);  // "j": dropped
  store->Remove(replaying[1]);  // again: a no-op
  EXPECT_THAT(Describe(store->Oldest(kTargetA, 10)), ElementsAre("k=new@2"));
  EXPECT_EQ(store->stats().removed, 1u);

  // A hint with the right seq but another target is not this store's.
  Hint wrong = store->Oldest(kTargetA, 1)[0];
  wrong.target = kTargetB;
  store->Remove(wrong);
  EXPECT_EQ(store->stats().hints, 1u);

  store->Remove(store->Oldest(kTargetA, 1)[0]);
  EXPECT_THAT(store->Targets(), IsEmpty());
  EXPECT_EQ(store->stats().hints, 0u);
  EXPECT_EQ(store->stats().bytes, 0u);
}

TEST(HintStoreTest, ConcurrentAddsAndRemovesKeepTheCountsConsistent) {
  std::unique_ptr<HintStore> store = MustOpen({.max_bytes = 10'000});
  ASSERT_NE(store, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const dht::NodeId target = Id(static_cast<uint8_t>(t));
      for (int i = 0; i < 2000; ++i) {
        EXPECT_TRUE(store->Add(target, absl::StrCat("k", i % 50), Rec("v", i + 1)).ok());
        if (i % 3 == 0) {
          for (const Hint& h : store->Oldest(target, 2)) store->Remove(h);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  size_t hints = 0;
  size_t bytes = 0;
  for (const dht::NodeId& target : store->Targets()) {
    for (const Hint& h : store->Oldest(target, 1000)) {
      ++hints;
      bytes += Bytes(h.target, h.key, h.record);
    }
  }
  const HintStore::Stats stats = store->stats();
  EXPECT_EQ(stats.hints, hints);
  EXPECT_EQ(stats.bytes, bytes);
  EXPECT_LE(stats.bytes, 10'000u);
  EXPECT_EQ(stats.added, 8000u);
  EXPECT_EQ(stats.added, stats.hints + stats.replaced + stats.removed + stats.evicted);
}

// ---- Persistence ----------------------------------------------------------------

// A log in a std::map, failing writes on demand.
struct FakeLog {
  std::map<uint64_t, std::string> entries;
  bool fail_put = false;
  bool fail_erase = false;

  HintStore::Log log() {
    return HintStore::Log{
        .put =
            [this](uint64_t seq, std::string_view bytes) {
              if (fail_put) return absl::InternalError("injected: put failed");
              entries[seq] = std::string(bytes);
              return absl::OkStatus();
            },
        .erase =
            [this](uint64_t seq) {
              if (fail_erase) return absl::InternalError("injected: erase failed");
              entries.erase(seq);
              return absl::OkStatus();
            },
        .for_each =
            [this](const std::function<void(uint64_t, std::string_view)>& fn) {
              for (const auto& [seq, bytes] : entries) fn(seq, bytes);
            },
    };
  }
};

TEST(HintStorePersistenceTest, LogFollowsTheStoreAndReopenRestoresIt) {
  FakeLog fake;
  const size_t each = Bytes(kTargetA, "k1", Rec("v", 1));
  const HintStore::Options options{.max_bytes = 3 * each};
  std::vector<Hint> before;
  {
    std::unique_ptr<HintStore> store = MustOpen(options, fake.log());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Add(kTargetA, "k1", Rec("v", 1)).ok());
    ASSERT_TRUE(store->Add(kTargetB, "k2", Rec("v", 2)).ok());
    ASSERT_TRUE(store->Add(kTargetA, "k3", Rec("v", 3)).ok());
    ASSERT_TRUE(store->Add(kTargetA, "k1", Rec("w", 4)).ok());  // replaces seq 1
    ASSERT_TRUE(store->Add(kTargetB, "k5", Rec("v", 5)).ok());  // evicts seq 2
    store->Remove(store->Oldest(kTargetA, 1)[0]);               // k3, seq 3
    EXPECT_EQ(fake.entries.size(), 2u);
    EXPECT_EQ(fake.entries.at(4), EncodeHint(kTargetA, "k1", Rec("w", 4)));
    EXPECT_EQ(fake.entries.at(5), EncodeHint(kTargetB, "k5", Rec("v", 5)));
    before = store->Oldest(kTargetA, 10);
  }
  std::unique_ptr<HintStore> store = MustOpen(options, fake.log());
  ASSERT_NE(store, nullptr);
  const std::vector<Hint> after = store->Oldest(kTargetA, 10);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].seq, before[0].seq);
  EXPECT_EQ(Describe(after), Describe(before));
  EXPECT_THAT(Describe(store->Oldest(kTargetB, 10)), ElementsAre("k5=v@5"));
  EXPECT_EQ(store->stats().bytes, 2 * each);
  // New hints are numbered after the loaded ones.
  ASSERT_TRUE(store->Add(kTargetB, "k6", Rec("v", 6)).ok());
  EXPECT_EQ(store->Oldest(kTargetB, 10).back().seq, 6u);
  EXPECT_TRUE(fake.entries.contains(6));
}

TEST(HintStorePersistenceTest, FailedLogWriteFailsAddAndChangesNothing) {
  FakeLog fake;
  std::unique_ptr<HintStore> store = MustOpen({}, fake.log());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Add(kTargetA, "k", Rec("old", 1)).ok());
  fake.fail_put = true;
  absl::Status s = store->Add(kTargetA, "k", Rec("new", 2));
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), HasSubstr("injected: put failed"));
  EXPECT_THAT(Describe(store->Oldest(kTargetA, 10)), ElementsAre("k=old@1"));
  EXPECT_EQ(store->stats().added, 1u);
  EXPECT_EQ(fake.entries.size(), 1u);

  // The next Add succeeds once the log does.
  fake.fail_put = false;
  ASSERT_TRUE(store->Add(kTargetA, "k", Rec("new", 2)).ok());
  EXPECT_THAT(Describe(store->Oldest(kTargetA, 10)), ElementsAre("k=new@2"));
  EXPECT_EQ(fake.entries.size(), 1u);
}

TEST(HintStorePersistenceTest, StaleEntriesLeftInTheLogAreDroppedOnOpen) {
  FakeLog fake;
  {
    std::unique_ptr<HintStore> store = MustOpen({}, fake.log());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Add(kTargetA, "k", Rec("old", 1)).ok());
    fake.fail_erase = true;
    ASSERT_TRUE(store->Add(kTargetA, "k", Rec("new", 2)).ok());  // erase of seq 1 fails
    store->Remove(store->Oldest(kTargetA, 1)[0]);                // and of seq 2
    EXPECT_EQ(fake.entries.size(), 2u);
    fake.fail_erase = false;
  }
  // Seq 2 (removed) comes back, which a replay makes harmless; seq 1 is
  // replaced by it again and erased.
  std::unique_ptr<HintStore> store = MustOpen({}, fake.log());
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(Describe(store->Oldest(kTargetA, 10)), ElementsAre("k=new@2"));
  EXPECT_EQ(fake.entries.size(), 1u);
  EXPECT_TRUE(fake.entries.contains(2));
}

TEST(HintStorePersistenceTest, UndecodableStoredHintsAreSkippedAndErased) {
  FakeLog fake;
  fake.entries[3] = EncodeHint(kTargetA, "good", Rec("v", 1));
  fake.entries[5] = "garbage";
  std::string bad_record = EncodeHint(kTargetB, "bad", Rec("v", 1));
  bad_record[dht::kIdBytes + 4] = '\x07';  // unknown record format version
  fake.entries[9] = bad_record;
  std::unique_ptr<HintStore> store = MustOpen({}, fake.log());
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(Describe(store->Oldest(kTargetA, 10)), ElementsAre("good=v@1"));
  EXPECT_THAT(store->Targets(), ElementsAre(kTargetA));
  EXPECT_EQ(fake.entries.size(), 1u);
  // Numbering continues after the highest seq seen, undecodable ones included.
  ASSERT_TRUE(store->Add(kTargetB, "k", Rec("v", 1)).ok());
  EXPECT_EQ(store->Oldest(kTargetB, 1)[0].seq, 10u);
}

TEST(HintStorePersistenceTest, OpenWithASmallerBudgetEvictsTheOldestLoadedHints) {
  FakeLog fake;
  const size_t each = Bytes(kTargetA, "k1", Rec("v", 1));
  {
    std::unique_ptr<HintStore> store = MustOpen({}, fake.log());
    ASSERT_NE(store, nullptr);
    for (int i = 1; i <= 4; ++i) {
      ASSERT_TRUE(store->Add(kTargetA, absl::StrCat("k", i), Rec("v", i)).ok());
    }
  }
  std::unique_ptr<HintStore> store = MustOpen({.max_bytes = 2 * each}, fake.log());
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(Describe(store->Oldest(kTargetA, 10)), ElementsAre("k3=v@3", "k4=v@4"));
  EXPECT_EQ(store->stats().evicted, 2u);
  EXPECT_EQ(fake.entries.size(), 2u);
}

TEST(HintStorePersistenceTest, OpenRejectsAPartlySetLog) {
  FakeLog fake;
  HintStore::Log log = fake.log();
  log.erase = nullptr;
  absl::StatusOr<std::unique_ptr<HintStore>> store = HintStore::Open({}, log);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("2 of its 3 functions"));
}

// ---- Through RocksDbEngine's hints column family -----------------------------------

HintStore::Log LogOn(storage::RocksDbEngine* engine) {
  return HintStore::Log{
      .put = [engine](uint64_t seq, std::string_view bytes) { return engine->PutHint(seq, bytes); },
      .erase = [engine](uint64_t seq) { return engine->DeleteHint(seq); },
      .for_each =
          [engine](const std::function<void(uint64_t, std::string_view)>& fn) {
            engine->ForEachHint(fn);
          },
  };
}

TEST(HintStorePersistenceTest, SurvivesReopeningARocksDbEngine) {
  std::string dir = testing::TempDir() + "kv_hint_store_test_XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const storage::Record tombstone{.version = {300, kNode}, .tombstone = true};
  {
    absl::StatusOr<std::unique_ptr<storage::RocksDbEngine>> engine =
        storage::RocksDbEngine::Open(dir + "/db", {.sync = storage::SyncPolicy::kNone});
    ASSERT_TRUE(engine.ok()) << engine.status();
    std::unique_ptr<HintStore> store = MustOpen({}, LogOn(engine->get()));
    ASSERT_NE(store, nullptr);
    // Enough hints that seqs pass 255, where a little-endian key would sort wrong.
    for (int i = 1; i <= 300; ++i) {
      ASSERT_TRUE(store->Add(i % 2 ? kTargetA : kTargetB, absl::StrCat("k", i), Rec("v", i)).ok());
    }
    ASSERT_TRUE(store->Add(kTargetA, "k1", tombstone).ok());  // replaces seq 1
    for (const Hint& h : store->Oldest(kTargetB, 100)) store->Remove(h);
  }
  absl::StatusOr<std::unique_ptr<storage::RocksDbEngine>> engine =
      storage::RocksDbEngine::Open(dir + "/db", {.sync = storage::SyncPolicy::kNone});
  ASSERT_TRUE(engine.ok()) << engine.status();
  std::unique_ptr<HintStore> store = MustOpen({}, LogOn(engine->get()));
  ASSERT_NE(store, nullptr);
  const std::vector<Hint> a = store->Oldest(kTargetA, 1000);
  ASSERT_EQ(a.size(), 150u);
  EXPECT_EQ(a.front().key, "k3");
  EXPECT_EQ(a.back().key, "k1");
  EXPECT_TRUE(a.back().record.tombstone);
  EXPECT_EQ(a.back().record.version, tombstone.version);
  const std::vector<Hint> b = store->Oldest(kTargetB, 1000);
  ASSERT_EQ(b.size(), 50u);
  EXPECT_EQ(b.front().key, "k202");
  EXPECT_EQ(b.back().key, "k300");
  EXPECT_EQ(store->stats().hints, 200u);
  engine->reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace kv::replication
