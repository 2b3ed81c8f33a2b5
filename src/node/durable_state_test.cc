#include "src/node/durable_state.h"

#include <filesystem>
#include <random>

#include "gtest/gtest.h"

namespace kv::node {
namespace {

class DurableStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("durable_state_test." + std::to_string(::getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<storage::RocksDbEngine> Open() {
    auto e = storage::RocksDbEngine::Open(dir_.string(), {});
    EXPECT_TRUE(e.ok()) << e.status();
    return std::move(e).value();
  }

  std::filesystem::path dir_;
  std::mt19937_64 rng_{3};
};

TEST_F(DurableStateTest, NodeIdIsCreatedOnceAndKeptAcrossRestarts) {
  const dht::NodeId first = dht::NodeId::Random(rng_);
  {
    auto engine = Open();
    auto id = LoadOrCreateNodeId(*engine, std::nullopt, first);
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(*id, first);
  }
  auto engine = Open();
  auto id = LoadOrCreateNodeId(*engine, std::nullopt, dht::NodeId::Random(rng_));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, first) << "a restarted node must keep its id";
}

TEST_F(DurableStateTest, RequestedIdMustMatchTheStoredOne) {
  auto engine = Open();
  const dht::NodeId stored = dht::NodeId::Random(rng_);
  ASSERT_TRUE(LoadOrCreateNodeId(*engine, stored, dht::NodeId::Random(rng_)).ok());
  EXPECT_TRUE(LoadOrCreateNodeId(*engine, stored, dht::NodeId::Random(rng_)).ok());
  auto other = LoadOrCreateNodeId(*engine, dht::NodeId::Random(rng_), stored);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(other.status().message().find("--node-id"), std::string::npos);
}

TEST_F(DurableStateTest, ContactsRoundTrip) {
  std::vector<dht::Contact> contacts = {{dht::NodeId::Random(rng_), "127.0.0.1:1"},
                                        {dht::NodeId::Random(rng_), "db-2.example:50051"}};
  {
    auto engine = Open();
    auto none = LoadContacts(*engine);
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty());
    ASSERT_TRUE(SaveContacts(*engine, contacts).ok());
  }
  auto engine = Open();
  auto loaded = LoadContacts(*engine);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*loaded, contacts);
}

}  // namespace
}  // namespace kv::node
