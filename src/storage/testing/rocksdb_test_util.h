// Helpers shared by the RocksDB engine's test files.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/storage/record.h"
#include "src/storage/rocksdb_engine.h"

namespace kv::storage {

// Names the policy in test output (found by argument-dependent lookup, so it
// must live in SyncPolicy's namespace).
inline void PrintTo(SyncPolicy policy, std::ostream* os) {
  *os << (policy == SyncPolicy::kAlways ? "SyncAlways" : "SyncNone");
}

namespace rocksdb_test {

using ::testing::HasSubstr;

inline const std::string kNode(40, 'a');

// A fresh directory under the test temp dir, removed with everything in it
// when destroyed.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    std::string pattern = testing::TempDir() + "kv_rocksdb_test_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp(" << pattern << ") failed";
    }
    path_ = pattern;
  }
  ~ScopedTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return absl::StrCat(path_, "/", name); }

 private:
  std::string path_;
};

// An HLC timestamp ((physical ms << 16) | logical) at `physical_ms`.
inline uint64_t HlcAt(int64_t physical_ms) { return static_cast<uint64_t>(physical_ms) << 16; }

inline Record Rec(std::string value, uint64_t ts) {
  return Record{.value = std::move(value), .version = {ts, kNode}};
}

inline std::unique_ptr<RocksDbEngine> MustOpen(const std::string& dir,
                                               RocksDbEngine::Options options = {}) {
  absl::StatusOr<std::unique_ptr<RocksDbEngine>> engine = RocksDbEngine::Open(dir, options);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *std::move(engine) : nullptr;
}

inline std::optional<Record> MustRead(const Engine& engine, std::string_view key) {
  absl::StatusOr<std::optional<Record>> got = engine.Read(key);
  EXPECT_TRUE(got.ok()) << got.status();
  return got.ok() ? *got : std::nullopt;
}

inline void ExpectSame(const std::optional<Record>& got, const Record& want) {
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->value, want.value);
  EXPECT_EQ(got->version, want.version);
  EXPECT_EQ(got->tombstone, want.tombstone);
  EXPECT_EQ(got->expires_at_ms, want.expires_at_ms);
}

// Every hint ForEachHint visits, in visiting order.
inline std::vector<std::pair<uint64_t, std::string>> AllHints(const RocksDbEngine& engine) {
  std::vector<std::pair<uint64_t, std::string>> hints;
  engine.ForEachHint(
      [&](uint64_t seq, std::string_view bytes) { hints.emplace_back(seq, std::string(bytes)); });
  return hints;
}

// Every column family the engine creates, with default options, for opening
// its directory with plain RocksDB (which must name them all).
inline std::vector<rocksdb::ColumnFamilyDescriptor> AllFamilies() {
  return {{RocksDbEngine::kDataColumnFamily, rocksdb::ColumnFamilyOptions()},
          {RocksDbEngine::kMetaColumnFamily, rocksdb::ColumnFamilyOptions()},
          {RocksDbEngine::kHintsColumnFamily, rocksdb::ColumnFamilyOptions()}};
}

// Runs a test once per sync policy.
class RocksDbEngineReopenTest : public ::testing::TestWithParam<SyncPolicy> {};

}  // namespace rocksdb_test
}  // namespace kv::storage
