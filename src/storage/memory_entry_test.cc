#include "src/storage/memory_entry.h"

#include <string>

#include "gtest/gtest.h"

namespace kv::storage {
namespace {

TEST(MemoryEntryTest, HoldsKeyValueAndMetaInOneBlock) {
  const MemoryEntryMeta meta{
      .timestamp = 0xfedcba9876543210, .expires_at_ms = -5, .writer = 16383, .tombstone = true};
  MemoryEntryPtr e = MemoryEntry::Make("key", "value", meta);
  EXPECT_EQ(e->key(), "key");
  EXPECT_EQ(e->value(), "value");
  EXPECT_EQ(e->meta().timestamp, meta.timestamp);
  EXPECT_EQ(e->meta().expires_at_ms, -5);
  EXPECT_EQ(e->meta().writer, 16383);
  EXPECT_TRUE(e->meta().tombstone);
  EXPECT_EQ(e->block_bytes(), 16 + 8 + 3 + 5);
}

TEST(MemoryEntryTest, StoresNoExpiryBytesForARecordWithoutOne) {
  MemoryEntryPtr e = MemoryEntry::Make("k", "v", {.timestamp = 1});
  EXPECT_EQ(e->block_bytes(), 16 + 1 + 1);
  EXPECT_EQ(e->meta().expires_at_ms, 0);
  EXPECT_FALSE(e->meta().tombstone);
  EXPECT_EQ(e->key(), "k");
  EXPECT_EQ(e->value(), "v");
}

TEST(MemoryEntryTest, HoldsEmptyAndBinaryKeysAndValues) {
  MemoryEntryPtr empty = MemoryEntry::Make("", "", {});
  EXPECT_EQ(empty->key(), "");
  EXPECT_EQ(empty->value(), "");
  const std::string key("a\0b", 3), value(1000, '\0');
  MemoryEntryPtr binary = MemoryEntry::Make(key, value, {.expires_at_ms = 1});
  EXPECT_EQ(binary->key(), key);
  EXPECT_EQ(binary->value(), value);
}

TEST(MemoryEntryTest, OverwritesInPlaceOnlyWithTheSameValueSizeAndExpiryPresence) {
  MemoryEntryPtr e = MemoryEntry::Make("key", "old", {.timestamp = 1, .expires_at_ms = 10});
  EXPECT_FALSE(e->CanOverwrite("longer", {.expires_at_ms = 10}));
  EXPECT_FALSE(e->CanOverwrite("new", {.expires_at_ms = 0}));
  ASSERT_TRUE(e->CanOverwrite("new", {.expires_at_ms = 20}));
  e->Overwrite("new", {.timestamp = 2, .expires_at_ms = 20, .writer = 3});
  EXPECT_EQ(e->key(), "key");
  EXPECT_EQ(e->value(), "new");
  EXPECT_EQ(e->meta().timestamp, 2u);
  EXPECT_EQ(e->meta().expires_at_ms, 20);
  EXPECT_EQ(e->meta().writer, 3);
}

TEST(MemoryEntryTest, FindsEntriesInASetByKeyAlone) {
  MemoryEntryKeyHash hash;
  MemoryEntryKeyEq eq;
  MemoryEntryPtr e = MemoryEntry::Make("key", "v", {});
  EXPECT_EQ(hash(e), hash(absl::string_view("key")));
  EXPECT_TRUE(eq(e, absl::string_view("key")));
  EXPECT_FALSE(eq(absl::string_view("kex"), e));
}

}  // namespace
}  // namespace kv::storage
