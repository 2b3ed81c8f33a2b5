#include "src/membership/failure_detector.h"

#include <random>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace kv::membership {
namespace {

using absl::Milliseconds;
using absl::Seconds;

FailureDetector::Options WithTimeout(absl::Duration failure_timeout) {
  return {.failure_timeout = failure_timeout};
}

class FailureDetectorTest : public ::testing::Test {
 protected:
  // Tracks `id` at `start` and feeds it `count` beats, the i-th after
  // intervals[i % size]. Returns the time of the last beat.
  absl::Time Beat(FailureDetector& fd, const dht::NodeId& id, absl::Time start,
                  const std::vector<absl::Duration>& intervals, int count = 200) {
    fd.Track(id, start);
    absl::Time t = start;
    for (int i = 0; i < count; ++i) {
      t += intervals[i % intervals.size()];
      fd.Heard(id, t);
    }
    return t;
  }
  absl::Time Regular(FailureDetector& fd, const dht::NodeId& id) {
    return Beat(fd, id, t0_, {Milliseconds(500)});
  }

  std::mt19937_64 rng_{7};
  dht::NodeId a_ = dht::NodeId::Random(rng_);
  dht::NodeId b_ = dht::NodeId::Random(rng_);
  absl::Time t0_ = absl::FromUnixSeconds(1'700'000'000);
  FailureDetector fd_{WithTimeout(Seconds(3))};
};

TEST_F(FailureDetectorTest, UnknownPeerIsAlive) {
  EXPECT_EQ(fd_.State(a_, t0_ + absl::Hours(1)), PeerState::kAlive);
  EXPECT_FALSE(fd_.Dead(a_, t0_ + absl::Hours(1)));
  EXPECT_EQ(fd_.Phi(a_, t0_ + absl::Hours(1)), 0);
  EXPECT_EQ(fd_.DownSince(a_, t0_ + absl::Hours(1)), absl::InfiniteFuture());
}

TEST_F(FailureDetectorTest, TrackedPeerThatNeverBeatsIsAliveForOneTimeoutThenDown) {
  fd_.Track(a_, t0_);
  EXPECT_EQ(fd_.State(a_, t0_ + Milliseconds(2999)), PeerState::kAlive);
  EXPECT_EQ(fd_.State(a_, t0_ + Seconds(3)), PeerState::kDown);
  EXPECT_EQ(fd_.DownSince(a_, t0_ + Seconds(4)), t0_ + Seconds(3));
}

TEST_F(FailureDetectorTest, FewerThanTwoIntervalsUsesThePlainTimeout) {
  fd_.Track(a_, t0_);
  fd_.Heard(a_, t0_ + Milliseconds(500));
  fd_.Heard(a_, t0_ + Seconds(1));  // one interval
  const absl::Time last = t0_ + Seconds(1);
  EXPECT_EQ(fd_.Phi(a_, last + Seconds(2)), 0);
  EXPECT_EQ(fd_.State(a_, last + Milliseconds(2999)), PeerState::kAlive);
  EXPECT_EQ(fd_.State(a_, last + Seconds(3)), PeerState::kDown);
}

TEST_F(FailureDetectorTest, BeatsFromUntrackedPeersAreIgnored) {
  fd_.Heard(a_, t0_);
  EXPECT_EQ(fd_.LastHeard(a_), absl::InfinitePast());
  EXPECT_EQ(fd_.State(a_, t0_ + absl::Hours(1)), PeerState::kAlive);
}

TEST_F(FailureDetectorTest, RegularBeatsWithSmallJitterStayAlive) {
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<int> jitter_ms(-30, 30);
  fd_.Track(a_, t0_);
  absl::Time t = t0_;
  for (int i = 0; i < 500; ++i) {
    t += Milliseconds(500 + jitter_ms(rng));
    // Just before each beat lands, the peer has been silent for up to 530 ms.
    ASSERT_EQ(fd_.State(a_, t), PeerState::kAlive) << "beat " << i;
    fd_.Heard(a_, t);
  }
  EXPECT_EQ(fd_.State(a_, t + Milliseconds(600)), PeerState::kAlive);
  EXPECT_LT(fd_.Phi(a_, t + Milliseconds(600)), 1);
  EXPECT_EQ(fd_.LastHeard(a_), t);
}

TEST_F(FailureDetectorTest, SilenceMakesPeerSuspectBeforeDown) {
  const absl::Time last = Regular(fd_, a_);
  EXPECT_EQ(fd_.State(a_, last + Milliseconds(800)), PeerState::kAlive);
  EXPECT_EQ(fd_.State(a_, last + Milliseconds(950)), PeerState::kSuspect);
  EXPECT_GE(fd_.Phi(a_, last + Milliseconds(950)), 5);
  // phi passes phi_down near 1.02 s, but the floor (3 s / 2) holds it suspect.
  EXPECT_GE(fd_.Phi(a_, last + Milliseconds(1400)), 8);
  EXPECT_EQ(fd_.State(a_, last + Milliseconds(1499)), PeerState::kSuspect);
  EXPECT_EQ(fd_.State(a_, last + Milliseconds(1500)), PeerState::kDown);
}

TEST_F(FailureDetectorTest, PhiIsFiniteAndMonotoneInSilence) {
  const absl::Time last = Regular(fd_, a_);
  double prev = -1;
  for (absl::Duration d = absl::ZeroDuration(); d < absl::Hours(48);
       d = d * 1.01 + Milliseconds(1)) {
    const double phi = fd_.Phi(a_, last + d);
    ASSERT_TRUE(std::isfinite(phi)) << d;
    ASSERT_GE(phi, prev) << d;
    prev = phi;
  }
  EXPECT_GT(prev, 1e6);
}

TEST_F(FailureDetectorTest, PhiDeclaresDownBeforeTheCeilingButNeverBeforeTheFloor) {
  // Ceiling 1.5 s, floor 0.75 s: phi 8 (near 1.02 s for 500 ms beats) decides.
  FailureDetector fd(WithTimeout(Milliseconds(1500)));
  const absl::Time last = Regular(fd, a_);
  EXPECT_EQ(fd.State(a_, last + Milliseconds(1000)), PeerState::kSuspect);
  EXPECT_LT(fd.Phi(a_, last + Milliseconds(1000)), 8);
  EXPECT_EQ(fd.State(a_, last + Milliseconds(1050)), PeerState::kDown);
  EXPECT_GE(fd.Phi(a_, last + Milliseconds(1050)), 8);

  // Ceiling 10 s: phi is far above 8 long before the 5 s floor.
  FailureDetector slow(WithTimeout(Seconds(10)));
  const absl::Time slow_last = Regular(slow, a_);
  EXPECT_GT(slow.Phi(a_, slow_last + Milliseconds(4999)), 100);
  EXPECT_EQ(slow.State(a_, slow_last + Milliseconds(4999)), PeerState::kSuspect);
  EXPECT_EQ(slow.State(a_, slow_last + Seconds(5)), PeerState::kDown);
}

TEST_F(FailureDetectorTest, NoisyBeatsDelayDetection) {
  const absl::Time regular = Regular(fd_, a_);
  // Mean 500 ms, standard deviation 300 ms: phi 5 near 1.74 s, phi 8 near 2.07 s.
  const absl::Time noisy = Beat(fd_, b_, t0_, {Milliseconds(200), Milliseconds(800)});
  EXPECT_EQ(fd_.State(a_, regular + Milliseconds(1600)), PeerState::kDown);
  EXPECT_EQ(fd_.State(b_, noisy + Milliseconds(1600)), PeerState::kAlive);
  EXPECT_EQ(fd_.State(b_, noisy + Milliseconds(2000)), PeerState::kSuspect);
  EXPECT_EQ(fd_.State(b_, noisy + Milliseconds(2200)), PeerState::kDown);
  EXPECT_LT(fd_.Phi(b_, noisy + Milliseconds(1600)), fd_.Phi(a_, regular + Milliseconds(1600)));
}

TEST_F(FailureDetectorTest, CeilingAlwaysApplies) {
  // Mean 1.5 s, standard deviation 1.4 s: phi stays below 8 for ~8.8 s.
  const absl::Time last = Beat(fd_, a_, t0_, {Milliseconds(100), Milliseconds(2900)});
  EXPECT_NE(fd_.State(a_, last + Milliseconds(2999)), PeerState::kDown);
  EXPECT_EQ(fd_.State(a_, last + Seconds(3)), PeerState::kDown);
  EXPECT_LT(fd_.Phi(a_, last + Seconds(3)), 8);
}

TEST_F(FailureDetectorTest, OutagesLongerThanTheTimeoutAreNotSamples) {
  absl::Time last = Regular(fd_, a_);
  last += absl::Minutes(1);
  fd_.Heard(a_, last);  // back after an outage
  EXPECT_EQ(fd_.State(a_, last + Milliseconds(950)), PeerState::kSuspect);
  EXPECT_EQ(fd_.State(a_, last + Milliseconds(1500)), PeerState::kDown);
}

TEST_F(FailureDetectorTest, WindowForgetsOldIntervals) {
  FailureDetector fd({.failure_timeout = Seconds(3), .window = 10});
  // Noisy history, then 10 regular beats: only the regular ones remain.
  const absl::Time noisy = Beat(fd, a_, t0_, {Milliseconds(100), Milliseconds(2900)}, 50);
  const absl::Time last = Beat(fd, a_, noisy, {Milliseconds(500)}, 10);
  EXPECT_EQ(fd.State(a_, last + Milliseconds(950)), PeerState::kSuspect);
}

TEST_F(FailureDetectorTest, DeadAfterDeadAfterOfDownAndResetWhenHeard) {
  const absl::Time last = Regular(fd_, a_);
  const absl::Time down = last + Milliseconds(1500);
  EXPECT_EQ(fd_.DownSince(a_, down - Milliseconds(1)), absl::InfiniteFuture());
  EXPECT_EQ(fd_.DownSince(a_, down), down);
  EXPECT_FALSE(fd_.Dead(a_, down + absl::Minutes(5) - Milliseconds(1)));
  EXPECT_TRUE(fd_.Dead(a_, down + absl::Minutes(5)));
  EXPECT_EQ(fd_.DownSince(a_, down + absl::Hours(1)), down);

  const absl::Time back = down + absl::Hours(1);
  fd_.Heard(a_, back);
  EXPECT_EQ(fd_.State(a_, back), PeerState::kAlive);
  EXPECT_FALSE(fd_.Dead(a_, back));
  EXPECT_EQ(fd_.DownSince(a_, back), absl::InfiniteFuture());
  // A new silence starts a new down period and a new dead_after.
  const absl::Time down2 = back + Milliseconds(1500);
  EXPECT_EQ(fd_.DownSince(a_, down2), down2);
  EXPECT_FALSE(fd_.Dead(a_, down2 + absl::Minutes(5) - Milliseconds(1)));
  EXPECT_TRUE(fd_.Dead(a_, down2 + absl::Minutes(5)));
}

TEST_F(FailureDetectorTest, SweepReportsEveryChangeAndDeadOncePerDownPeriod) {
  const absl::Time last = Regular(fd_, a_);
  EXPECT_TRUE(fd_.Sweep(last + Milliseconds(500)).empty());
  auto suspect = fd_.Sweep(last + Milliseconds(1000));
  ASSERT_EQ(suspect.size(), 1u);
  EXPECT_EQ(suspect[0].id, a_);
  EXPECT_EQ(suspect[0].state, PeerState::kSuspect);
  auto down = fd_.Sweep(last + Seconds(2));
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0].state, PeerState::kDown);
  EXPECT_FALSE(down[0].dead);
  EXPECT_TRUE(fd_.Sweep(last + Seconds(3)).empty());
  auto dead = fd_.Sweep(last + absl::Minutes(6));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].state, PeerState::kDown);
  EXPECT_TRUE(dead[0].dead);
  EXPECT_FALSE(dead[0].left);
  EXPECT_TRUE(fd_.Sweep(last + absl::Minutes(7)).empty());

  const absl::Time back = last + absl::Minutes(8);
  fd_.Heard(a_, back);
  auto up = fd_.Sweep(back);
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0].state, PeerState::kAlive);
  EXPECT_FALSE(up[0].dead);
  // Straight from alive to dead between two sweeps: one transition says both.
  auto both = fd_.Sweep(back + absl::Minutes(10));
  ASSERT_EQ(both.size(), 1u);
  EXPECT_EQ(both[0].state, PeerState::kDown);
  EXPECT_TRUE(both[0].dead);
}

TEST_F(FailureDetectorTest, LeftPeerIsDeadEvenWhileHeardUntilRejoined) {
  absl::Time t = Regular(fd_, a_);
  fd_.MarkLeft(a_, t);
  for (int i = 0; i < 10; ++i) {
    t += Milliseconds(500);
    fd_.Heard(a_, t);
    EXPECT_EQ(fd_.State(a_, t), PeerState::kDown);
    EXPECT_TRUE(fd_.Dead(a_, t));
    EXPECT_TRUE(fd_.Left(a_));
  }
  auto left = fd_.Sweep(t);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].state, PeerState::kDown);
  EXPECT_TRUE(left[0].dead);
  EXPECT_TRUE(left[0].left);
  EXPECT_TRUE(fd_.Sweep(t).empty());

  fd_.Rejoined(a_, t);
  EXPECT_FALSE(fd_.Left(a_));
  EXPECT_EQ(fd_.State(a_, t), PeerState::kAlive);
  EXPECT_FALSE(fd_.Dead(a_, t));
  auto back = fd_.Sweep(t);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].state, PeerState::kAlive);
  EXPECT_FALSE(back[0].left);
}

TEST_F(FailureDetectorTest, LeaveMarksAreBoundedAndTheOldestGoesFirst) {
  std::vector<dht::NodeId> ids;
  for (size_t i = 0; i <= FailureDetector::kMaxLeaveMarks; ++i) {
    std::string key = "left-";
    key += std::to_string(i);
    ids.push_back(dht::NodeId::FromKey(key));
    fd_.MarkLeft(ids.back(), t0_ + Seconds(static_cast<double>(i)));
  }
  EXPECT_FALSE(fd_.Left(ids.front()));  // the oldest made room
  for (size_t i = 1; i < ids.size(); ++i) ASSERT_TRUE(fd_.Left(ids[i])) << i;
  // Marking an ID again neither moves nor evicts anything.
  fd_.MarkLeft(ids[1], t0_ + absl::Hours(1));
  EXPECT_TRUE(fd_.Left(ids[1]));
  EXPECT_TRUE(fd_.Left(ids[2]));
}

TEST_F(FailureDetectorTest, LeaveMarkOutlivesTrackingAndAppliesToUntrackedPeers) {
  fd_.MarkLeft(b_, t0_);  // never tracked
  EXPECT_EQ(fd_.State(b_, t0_), PeerState::kDown);
  EXPECT_TRUE(fd_.Dead(b_, t0_));
  EXPECT_EQ(fd_.DownSince(b_, t0_ + Seconds(1)), t0_);

  fd_.Track(a_, t0_);
  fd_.MarkLeft(a_, t0_);
  fd_.RetainOnly(absl::flat_hash_set<dht::NodeId>{});
  fd_.Forget(a_);
  EXPECT_TRUE(fd_.Dead(a_, t0_));
  fd_.Rejoined(a_, t0_);
  EXPECT_EQ(fd_.State(a_, t0_ + absl::Hours(1)), PeerState::kAlive);  // untracked again
}

// A restart under the same ID (a TLS node's ID is its key's) that missed
// some peers with its Join: its beats, from a new incarnation, bring it back
// on those peers; the leaving process's own beats never do.
TEST_F(FailureDetectorTest, BeatsFromAnotherIncarnationEndALeave) {
  absl::Time t = Regular(fd_, a_);
  fd_.MarkLeft(a_, t, /*incarnation=*/7);
  t += Milliseconds(500);
  fd_.HeardIncarnation(a_, 7, t);
  fd_.Heard(a_, t);
  EXPECT_TRUE(fd_.Left(a_));
  fd_.HeardIncarnation(a_, 0, t);  // an older node that sends none
  EXPECT_TRUE(fd_.Left(a_));
  fd_.HeardIncarnation(a_, 8, t);
  EXPECT_FALSE(fd_.Left(a_));
  EXPECT_EQ(fd_.State(a_, t), PeerState::kAlive);
}

TEST_F(FailureDetectorTest, ALeaveOfUnknownIncarnationEndsOnlyWithAJoin) {
  fd_.MarkLeft(a_, t0_);  // from a node that sent no incarnation
  fd_.HeardIncarnation(a_, 8, t0_);
  EXPECT_TRUE(fd_.Left(a_));
  fd_.Rejoined(a_, t0_);
  EXPECT_FALSE(fd_.Left(a_));
}

TEST_F(FailureDetectorTest, RejoinedWithoutLeaveChangesNothing) {
  fd_.Track(a_, t0_);
  fd_.Rejoined(a_, t0_ + Seconds(2));
  EXPECT_EQ(fd_.LastHeard(a_), absl::InfinitePast());
  EXPECT_EQ(fd_.State(a_, t0_ + Seconds(3)), PeerState::kDown);
}

}  // namespace
}  // namespace kv::membership
