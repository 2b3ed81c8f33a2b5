#include "src/storage/memory_engine.h"

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/storage/engine_contract_test.h"

namespace kv::storage {
namespace {

INSTANTIATE_TEST_SUITE_P(
    MemoryEngines, EngineContractTest,
    testing::Values(EngineFactory{"DefaultShards", [] { return std::make_unique<MemoryEngine>(); }},
                    EngineFactory{"OneShard", [] { return std::make_unique<MemoryEngine>(1); }},
                    EngineFactory{"SevenShards", [] { return std::make_unique<MemoryEngine>(7); }}),
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

}  // namespace
}  // namespace kv::storage
