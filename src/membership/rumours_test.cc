#include "src/membership/rumours.h"

#include <random>

#include "gtest/gtest.h"

namespace kv::membership {
namespace {

class RumoursTest : public ::testing::Test {
 protected:
  std::mt19937_64 rng_{7};
  dht::NodeId a_ = dht::NodeId::Random(rng_);
  dht::NodeId b_ = dht::NodeId::Random(rng_);
  absl::Time now_ = absl::FromUnixSeconds(1000);
  Rumours r_;
};

TEST_F(RumoursTest, HigherEpochWinsAndDownWinsATie) {
  ASSERT_TRUE(r_.Offer({a_, /*down=*/false, 5}, 3, now_));
  EXPECT_FALSE(r_.Offer({a_, false, 5}, 3, now_)) << "the same rumour is not news";
  EXPECT_FALSE(r_.Offer({a_, true, 4}, 3, now_)) << "an older death is stale";
  EXPECT_TRUE(r_.Offer({a_, true, 5}, 3, now_)) << "down wins at the same epoch";
  EXPECT_FALSE(r_.Offer({a_, false, 5}, 3, now_)) << "only the node can refute, at a later epoch";
  EXPECT_TRUE(r_.Offer({a_, false, 6}, 3, now_));
  ASSERT_NE(r_.Find(a_), nullptr);
  EXPECT_EQ(*r_.Find(a_), (Rumour{a_, false, 6}));
  EXPECT_EQ(r_.Find(b_), nullptr);
}

TEST_F(RumoursTest, EachRumourIsPassedOnItsBudgetOfTimesFewestSendsFirst) {
  r_.Offer({a_, true, 1}, 2, now_);
  EXPECT_EQ(r_.pending(), 1u);
  EXPECT_EQ(r_.Take(8), (std::vector<Rumour>{{a_, true, 1}}));
  r_.Offer({b_, true, 1}, 2, now_);
  // b has been sent less often than a: it goes first when there is room for one.
  EXPECT_EQ(r_.Take(1), (std::vector<Rumour>{{b_, true, 1}}));
  EXPECT_EQ(r_.Take(8).size(), 2u);  // a's last send and b's last send
  EXPECT_EQ(r_.pending(), 0u);
  EXPECT_TRUE(r_.Take(8).empty());
  // What is known stays known after it has been passed on.
  EXPECT_FALSE(r_.Offer({a_, true, 1}, 2, now_));
  EXPECT_EQ(r_.size(), 2u);
}

TEST_F(RumoursTest, SettledDownHoldsOnlyDeathsWhoseSendsAreSpent) {
  r_.Offer({a_, /*down=*/true, 1}, 1, now_);
  r_.Offer({b_, /*down=*/false, 1}, 1, now_);
  EXPECT_TRUE(r_.SettledDown(8, rng_).empty()) << "still being passed on";
  r_.Take(8);
  EXPECT_EQ(r_.SettledDown(8, rng_), (std::vector<Rumour>{{a_, true, 1}}))
      << "word of life is not carried";
  const dht::NodeId c = dht::NodeId::Random(rng_);
  r_.Offer({c, true, 2}, 1, now_);
  r_.Take(8);
  EXPECT_EQ(r_.SettledDown(8, rng_).size(), 2u);
  EXPECT_EQ(r_.SettledDown(1, rng_).size(), 1u) << "a sample of at most max";
}

TEST_F(RumoursTest, NewsRestartsTheBudget) {
  r_.Offer({a_, true, 1}, 1, now_);
  EXPECT_EQ(r_.Take(8).size(), 1u);
  EXPECT_EQ(r_.pending(), 0u);
  r_.Offer({a_, false, 2}, 3, now_);
  EXPECT_EQ(r_.pending(), 1u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(r_.Take(8), (std::vector<Rumour>{{a_, false, 2}}));
  EXPECT_TRUE(r_.Take(8).empty());
}

TEST_F(RumoursTest, ForgetsTheLeastRecentlyUpdatedWhenFull) {
  std::vector<dht::NodeId> ids;
  for (size_t i = 0; i < Rumours::kMaxEntries; ++i) {
    ids.push_back(dht::NodeId::Random(rng_));
    r_.Offer({ids.back(), true, 1}, 1, now_ + absl::Seconds(static_cast<int64_t>(i)));
  }
  EXPECT_EQ(r_.pending(), Rumours::kMaxEntries);
  r_.Offer({a_, true, 1}, 1, now_ + absl::Hours(10));
  EXPECT_EQ(r_.size(), Rumours::kMaxEntries);
  EXPECT_EQ(r_.Find(ids.front()), nullptr);
  EXPECT_NE(r_.Find(ids.back()), nullptr);
  EXPECT_NE(r_.Find(a_), nullptr);
  EXPECT_EQ(r_.pending(), Rumours::kMaxEntries) << "the forgotten one's send is not owed";
}

}  // namespace
}  // namespace kv::membership
