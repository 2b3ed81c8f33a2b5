#include "src/dht/lookup.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kv::dht {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// With target = all zeros, contact N(d) is at XOR distance d: smaller d is closer.
Contact N(uint8_t d) {
  std::array<uint8_t, kIdBytes> b{};
  b[kIdBytes - 1] = d;
  return Contact{NodeId(b), absl::StrCat("n", d, ":1")};
}

const NodeId kTarget;            // all zeros
const NodeId kSelf = N(200).id;  // never asked or returned

TEST(LookupTest, EmptySeedsIsDoneImmediately) {
  Lookup l(kSelf, kTarget, 3, 2, {});
  EXPECT_TRUE(l.Done());
  EXPECT_THAT(l.NextRequests(), IsEmpty());
  EXPECT_THAT(l.Result(), IsEmpty());
  EXPECT_EQ(l.Hops(), 0);
}

TEST(LookupTest, AsksClosestSeedsFirstWithAtMostAlphaInFlight) {
  Lookup l(kSelf, kTarget, 3, 2, {N(9), N(5), N(7), N(1)});
  EXPECT_THAT(l.NextRequests(), ElementsAre(N(1), N(5)));
  EXPECT_THAT(l.NextRequests(), IsEmpty()) << "alpha requests already in flight";
  EXPECT_EQ(l.InFlight(), 2u);
  l.OnResponse(N(1).id, {});
  EXPECT_THAT(l.NextRequests(), ElementsAre(N(7)));
  EXPECT_EQ(l.RequestsSent(), 3);
  EXPECT_FALSE(l.Done());
}

TEST(LookupTest, NeverAsksOrReturnsSelf) {
  Lookup l(kSelf, kTarget, 3, 3, {N(200), N(4)});
  EXPECT_THAT(l.NextRequests(), ElementsAre(N(4)));
  l.OnResponse(N(4).id, {N(200), N(3)});
  EXPECT_THAT(l.NextRequests(), ElementsAre(N(3)));
  l.OnResponse(N(3).id, {N(200)});
  EXPECT_TRUE(l.Done());
  EXPECT_THAT(l.Result(), ElementsAre(N(3), N(4)));
}

TEST(LookupTest, DoneOnlyWhenKClosestHaveAnswered) {
  Lookup l(kSelf, kTarget, 2, 3, {N(10), N(20), N(30)});
  EXPECT_THAT(l.NextRequests(), ElementsAre(N(10), N(20)));  // only the k closest
  l.OnResponse(N(10).id, {N(2)});
  EXPECT_FALSE(l.Done());
  EXPECT_THAT(l.NextRequests(), ElementsAre(N(2)));
  l.OnResponse(N(2).id, {});
  // N(2) and N(10) are the two closest and both answered; N(20) no longer matters.
  EXPECT_TRUE(l.Done());
  EXPECT_THAT(l.NextRequests(), IsEmpty());
  EXPECT_THAT(l.Result(), ElementsAre(N(2), N(10)));
  EXPECT_EQ(l.Hops(), 2);
  EXPECT_EQ(l.RequestsSent(), 3);
}

TEST(LookupTest, FailedContactsAreExcludedAndReplacedByTheNextClosest) {
  Lookup l(kSelf, kTarget, 2, 1, {N(1), N(2), N(3)});
  EXPECT_THAT(l.NextRequests(), ElementsAre(N(1)));
  l.OnFailure(N(1).id);
  EXPECT_THAT(l.NextRequests(), ElementsAre(N(2)));
  l.OnResponse(N(2).id, {N(1)});  // a failed contact stays failed when heard of again
  EXPECT_THAT(l.NextRequests(), ElementsAre(N(3)));
  l.OnResponse(N(3).id, {});
  EXPECT_TRUE(l.Done());
  EXPECT_THAT(l.Result(), ElementsAre(N(2), N(3)));
}

TEST(LookupTest, DoneWhenEveryoneFailed) {
  Lookup l(kSelf, kTarget, 3, 3, {N(1), N(2)});
  EXPECT_THAT(l.NextRequests(), UnorderedElementsAre(N(1), N(2)));
  l.OnFailure(N(1).id);
  EXPECT_FALSE(l.Done());
  l.OnFailure(N(2).id);
  EXPECT_TRUE(l.Done());
  EXPECT_THAT(l.Result(), IsEmpty());
}

TEST(LookupTest, IgnoresAnswersFromContactsNotInFlight) {
  Lookup l(kSelf, kTarget, 3, 1, {N(5), N(6)});
  EXPECT_THAT(l.NextRequests(), ElementsAre(N(5)));
  l.OnResponse(N(6).id, {N(1)});   // never asked
  l.OnResponse(N(99).id, {N(1)});  // unknown
  l.OnFailure(N(6).id);            // never asked
  l.OnFailure(N(5).id);
  l.OnResponse(N(5).id, {N(1)});  // late answer after a timeout
  EXPECT_THAT(l.NextRequests(), ElementsAre(N(6)));
  l.OnResponse(N(6).id, {});
  EXPECT_TRUE(l.Done());
  EXPECT_THAT(l.Result(), ElementsAre(N(6)));
}

TEST(LookupTest, HopsCountsTheChainToTheClosestResult) {
  Lookup l(kSelf, kTarget, 1, 1, {N(100)});
  l.NextRequests();
  l.OnResponse(N(100).id, {N(50)});
  l.NextRequests();
  l.OnResponse(N(50).id, {N(25)});
  l.NextRequests();
  l.OnResponse(N(25).id, {N(50)});
  EXPECT_THAT(l.NextRequests(), IsEmpty());
  EXPECT_TRUE(l.Done());
  EXPECT_THAT(l.Result(), ElementsAre(N(25)));
  EXPECT_EQ(l.Hops(), 3);
}

}  // namespace
}  // namespace kv::dht
