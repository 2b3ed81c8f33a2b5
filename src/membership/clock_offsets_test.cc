#include "src/membership/clock_offsets.h"

#include <string>

#include "gtest/gtest.h"

namespace kv::membership {
namespace {

constexpr absl::Duration kMax = absl::Milliseconds(500);
const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

dht::NodeId Peer(int i) { return dht::NodeId::FromKey("peer-" + std::to_string(i)); }

// A sample from a peer whose clock is `ahead` of ours, over a link with a
// one-way delay of `delay` and a peer that held our beat for `held`.
ClockSample Exchange(absl::Duration ahead, absl::Duration delay, absl::Duration held) {
  const absl::Time t1 = kNow;
  const absl::Time t2 = t1 + delay + ahead;  // peer's clock
  const absl::Time t3 = t2 + held;
  const absl::Time t4 = t3 - ahead + delay;  // our clock
  return ClockSample::FromExchange(t1, t2, t3, t4);
}

TEST(ClockSampleTest, RecoversTheOffsetAndTheRoundTripOfASymmetricExchange) {
  const ClockSample s = Exchange(absl::Seconds(2), absl::Milliseconds(3), absl::Milliseconds(400));
  EXPECT_EQ(s.offset, absl::Seconds(2));
  EXPECT_EQ(s.round_trip, absl::Milliseconds(6));  // the peer's hold time is not counted
  EXPECT_EQ(Exchange(-absl::Seconds(7), absl::Milliseconds(1), absl::ZeroDuration()).offset,
            -absl::Seconds(7));
}

TEST(ClockOffsetsTest, TheEstimateIsTheRecentSampleWithTheShortestRoundTrip) {
  ClockOffsets offsets;
  offsets.Record(Peer(1), {absl::Milliseconds(90), absl::Milliseconds(40)}, kNow);
  offsets.Record(Peer(1), {absl::Milliseconds(10), absl::Milliseconds(2)}, kNow);
  offsets.Record(Peer(1), {absl::Milliseconds(50), absl::Milliseconds(20)}, kNow);
  EXPECT_EQ(offsets.Estimate(Peer(1), kNow)->offset, absl::Milliseconds(10));
  EXPECT_FALSE(offsets.Estimate(Peer(2), kNow).has_value());
  // Samples age out.
  EXPECT_FALSE(offsets.Estimate(Peer(1), kNow + absl::Minutes(1)).has_value());
}

TEST(ClockOffsetsTest, KeepsABoundedNumberOfSamplesPerPeer) {
  ClockOffsets offsets(ClockOffsets::Options{.samples_per_peer = 2});
  offsets.Record(Peer(1), {absl::Milliseconds(1), absl::Milliseconds(1)}, kNow);  // best, dropped
  offsets.Record(Peer(1), {absl::Milliseconds(2), absl::Milliseconds(5)}, kNow);
  offsets.Record(Peer(1), {absl::Milliseconds(3), absl::Milliseconds(6)}, kNow);
  EXPECT_EQ(offsets.Estimate(Peer(1), kNow)->offset, absl::Milliseconds(2));
}

TEST(ClockOffsetsTest, ANodeAheadOfMostPeersIsFenced) {
  ClockOffsets offsets;
  // This node is 2 s ahead: both peers read as 2 s behind it.
  offsets.Record(Peer(1), {-absl::Seconds(2), absl::Milliseconds(2)}, kNow);
  offsets.Record(Peer(2), {-absl::Seconds(2), absl::Milliseconds(4)}, kNow);
  const ClockOffsets::Verdict v = offsets.Judge(kNow, kMax);
  EXPECT_TRUE(v.fenced());
  EXPECT_EQ(v.off, 2u);
  EXPECT_EQ(v.Describe(kMax),
            "clock is 2000 ms ahead of 2 of 2 peers measured (max offset 500 ms)");
}

TEST(ClockOffsetsTest, OnePeerOffOfThreeDoesNotFence) {
  ClockOffsets offsets;
  offsets.Record(Peer(1), {absl::Seconds(2), absl::Milliseconds(2)}, kNow);  // that peer is off
  offsets.Record(Peer(2), {absl::Milliseconds(3), absl::Milliseconds(2)}, kNow);
  offsets.Record(Peer(3), {-absl::Milliseconds(3), absl::Milliseconds(2)}, kNow);
  const ClockOffsets::Verdict v = offsets.Judge(kNow, kMax);
  EXPECT_FALSE(v.fenced());
  EXPECT_EQ(v.off, 1u);
  EXPECT_EQ(v.peers, 3u);
}

TEST(ClockOffsetsTest, AnUncertainMeasurementGivesTheBenefitOfTheDoubt) {
  ClockOffsets offsets;
  // 700 ms, but with a 1 s round trip it may be as little as 200 ms.
  offsets.Record(Peer(1), {absl::Milliseconds(700), absl::Seconds(1)}, kNow);
  EXPECT_FALSE(offsets.Judge(kNow, kMax).fenced());
  EXPECT_EQ(offsets.Judge(kNow, kMax).Describe(kMax), "clock ok (1 peers measured)");
}

TEST(ClockOffsetsTest, NoMeasurementNoFenceAndStaleOnesDoNotCount) {
  ClockOffsets offsets;
  EXPECT_FALSE(offsets.Judge(kNow, kMax).fenced());
  offsets.Record(Peer(1), {absl::Seconds(5), absl::Milliseconds(1)}, kNow);
  EXPECT_TRUE(offsets.Judge(kNow, kMax).fenced());
  EXPECT_FALSE(offsets.Judge(kNow + absl::Minutes(5), kMax).fenced());
  offsets.Forget(Peer(1));
  EXPECT_FALSE(offsets.Estimate(Peer(1), kNow).has_value());
}

TEST(ClockOffsetsTest, ASampleWithANegativeRoundTripIsIgnored) {
  ClockOffsets offsets;
  offsets.Record(Peer(1), {absl::Seconds(5), -absl::Milliseconds(1)}, kNow);
  EXPECT_FALSE(offsets.Estimate(Peer(1), kNow).has_value());
}

}  // namespace
}  // namespace kv::membership
