#include "src/membership/failure_detector.h"

#include <random>

#include "gtest/gtest.h"

namespace kv::membership {
namespace {

class FailureDetectorTest : public ::testing::Test {
 protected:
  std::mt19937_64 rng_{7};
  dht::NodeId a_ = dht::NodeId::Random(rng_);
  absl::Time t0_ = absl::FromUnixSeconds(1'700'000'000);
  FailureDetector fd_{absl::Seconds(3)};
};

TEST_F(FailureDetectorTest, UnknownPeerIsAlive) {
  EXPECT_EQ(fd_.State(a_, t0_), PeerState::kAlive);
}

TEST_F(FailureDetectorTest, TrackedPeerThatNeverBeatsGoesDownAfterTimeout) {
  fd_.Track(a_, t0_);
  EXPECT_EQ(fd_.State(a_, t0_ + absl::Seconds(3)), PeerState::kAlive);
  EXPECT_EQ(fd_.State(a_, t0_ + absl::Seconds(4)), PeerState::kDown);
}

TEST_F(FailureDetectorTest, BeatsFromUntrackedPeersAreIgnored) {
  fd_.Heard(a_, t0_);
  EXPECT_EQ(fd_.LastHeard(a_), absl::InfinitePast());
  EXPECT_EQ(fd_.State(a_, t0_ + absl::Hours(1)), PeerState::kAlive);
}

TEST_F(FailureDetectorTest, BeatsKeepPeerAliveAndRevive) {
  fd_.Track(a_, t0_);
  for (int i = 1; i <= 10; ++i) fd_.Heard(a_, t0_ + absl::Seconds(i));
  EXPECT_EQ(fd_.State(a_, t0_ + absl::Seconds(12)), PeerState::kAlive);
  EXPECT_EQ(fd_.State(a_, t0_ + absl::Seconds(14)), PeerState::kDown);
  fd_.Heard(a_, t0_ + absl::Seconds(20));
  EXPECT_EQ(fd_.State(a_, t0_ + absl::Seconds(20)), PeerState::kAlive);
  EXPECT_EQ(fd_.LastHeard(a_), t0_ + absl::Seconds(20));
}

TEST_F(FailureDetectorTest, SweepReportsEachTransitionOnce) {
  fd_.Track(a_, t0_);
  EXPECT_TRUE(fd_.Sweep(t0_ + absl::Seconds(1)).empty());
  auto down = fd_.Sweep(t0_ + absl::Seconds(5));
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0].state, PeerState::kDown);
  EXPECT_TRUE(fd_.Sweep(t0_ + absl::Seconds(6)).empty());
  fd_.Heard(a_, t0_ + absl::Seconds(7));
  auto up = fd_.Sweep(t0_ + absl::Seconds(7));
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0].state, PeerState::kAlive);
}

}  // namespace
}  // namespace kv::membership
