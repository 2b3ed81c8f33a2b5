#include "src/storage/writer_table.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace kv::storage {
namespace {

TEST(WriterTableTest, NamesEachNodeIdOnce) {
  WriterTable table;
  const std::optional<WriterIndex> a = table.Acquire(std::string(40, 'a'));
  const std::optional<WriterIndex> b = table.Acquire(std::string(40, 'b'));
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_NE(*a, *b);
  EXPECT_EQ(table.Acquire(std::string(40, 'a')), a);
  EXPECT_EQ(table.NodeId(*a), std::string(40, 'a'));
  EXPECT_EQ(table.NodeId(*b), std::string(40, 'b'));
  EXPECT_EQ(table.size(), 2u);
}

TEST(WriterTableTest, ForgetsAnIdWhenItsLastReferenceIsReleasedAndReusesItsIndex) {
  WriterTable table;
  const WriterIndex a = *table.Acquire("a");
  ASSERT_EQ(table.Acquire("a"), a);
  table.Release(a);
  EXPECT_EQ(table.size(), 1u);  // one reference left
  EXPECT_EQ(table.NodeId(a), "a");
  table.Release(a);
  EXPECT_EQ(table.size(), 0u);
  const WriterIndex c = *table.Acquire("c");
  EXPECT_EQ(c, a);
  EXPECT_EQ(table.NodeId(c), "c");
}

TEST(WriterTableTest, RefusesMoreIdsThanAnEntryCanName) {
  WriterTable table;
  for (size_t i = 0; i < MemoryEntry::kMaxWriters; ++i) {
    ASSERT_TRUE(table.Acquire(absl::StrCat(i)).has_value()) << i;
  }
  EXPECT_EQ(table.Acquire("one more"), std::nullopt);
  EXPECT_TRUE(table.Acquire("0").has_value());  // an ID it holds is fine
  table.Release(5);                             // "5", acquired once: forgotten
  EXPECT_EQ(table.Acquire("one more"), 5);
}

}  // namespace
}  // namespace kv::storage
