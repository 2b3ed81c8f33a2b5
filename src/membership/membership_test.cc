#include "src/membership/membership.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <memory>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace kv::membership {
namespace {

using absl::Milliseconds;

std::vector<dht::NodeId> Ids(const std::vector<dht::Contact>& contacts) {
  std::vector<dht::NodeId> ids;
  for (const dht::Contact& c : contacts) ids.push_back(c.id);
  return ids;
}

// The reference answer: sort every candidate by the XOR distance computed
// byte by byte here, and keep the first n.
std::vector<dht::NodeId> BruteForceClosest(std::vector<dht::NodeId> ids, const dht::NodeId& target,
                                           size_t n) {
  auto distance = [&](const dht::NodeId& id) {
    std::array<uint8_t, dht::kIdBytes> d;
    for (size_t i = 0; i < dht::kIdBytes; ++i) d[i] = id.bytes()[i] ^ target.bytes()[i];
    return d;
  };
  std::sort(ids.begin(), ids.end(),
            [&](const dht::NodeId& a, const dht::NodeId& b) { return distance(a) < distance(b); });
  ids.resize(std::min(n, ids.size()));
  return ids;
}

class MembershipTest : public ::testing::Test {
 protected:
  MembershipTest() {
    // More contacts than fit: the table keeps what its buckets allow.
    for (int i = 0; i < 40; ++i) {
      m_.Observe({dht::NodeId::Random(rng_), "10.0.0." + std::to_string(i) + ":7000"});
    }
    for (const dht::Contact& c : m_.Closest(self_.id, 1000)) peers_.push_back(c.id);
  }

  // Advances the clock by `d` in 500 ms steps; each step every peer in
  // `beating` is heard.
  void Run(absl::Duration d, const std::vector<dht::NodeId>& beating) {
    for (absl::Duration t; t < d; t += Milliseconds(500)) {
      clock_.Advance(Milliseconds(500));
      for (const dht::NodeId& id : beating) m_.Heard(id);
    }
  }

  std::mt19937_64 rng_{42};
  util::ManualClock clock_;
  dht::Contact self_{dht::NodeId::Random(rng_), "10.0.0.254:7000"};
  Membership m_{{.self = self_, .k = 8}, &clock_};
  std::vector<dht::NodeId> peers_;  // every routing-table contact
};

TEST_F(MembershipTest, SelfIsAlwaysAliveAndNeverDead) {
  m_.MarkLeft(self_.id);
  EXPECT_TRUE(m_.IsAlive(self_.id));
  EXPECT_EQ(m_.State(self_.id), PeerState::kAlive);
  EXPECT_FALSE(m_.IsDead(self_.id));
}

TEST_F(MembershipTest, UntrackedPeersCountAlive) {
  ASSERT_GE(peers_.size(), 10u);
  clock_.Advance(absl::Hours(1));
  for (const dht::NodeId& id : peers_) {
    EXPECT_TRUE(m_.IsAlive(id));
    EXPECT_EQ(m_.State(id), PeerState::kAlive);
    EXPECT_FALSE(m_.IsDead(id));
  }
  EXPECT_EQ(m_.Owners(self_.id, 1000).size(), peers_.size() + 1);
  EXPECT_EQ(m_.ClosestLive(self_.id, 1000).size(), peers_.size() + 1);
}

TEST_F(MembershipTest, OwnersKeepDownNodesUntilDeadAndMatchBruteForce) {
  ASSERT_GE(peers_.size(), 10u);
  m_.HeartbeatTargets(1000);  // track everyone
  // Most peers dead (so the search must scan past them), a few down, a few alive.
  std::vector<dht::NodeId> alive(peers_.begin(), peers_.begin() + 3);
  std::vector<dht::NodeId> down(peers_.begin() + 3, peers_.begin() + 6);
  std::vector<dht::NodeId> dead(peers_.begin() + 6, peers_.end());
  std::vector<dht::NodeId> beating = alive;
  beating.insert(beating.end(), down.begin(), down.end());
  Run(absl::Minutes(5) + absl::Seconds(10), beating);
  Run(absl::Seconds(10), alive);

  for (const dht::NodeId& id : alive) EXPECT_EQ(m_.State(id), PeerState::kAlive);
  for (const dht::NodeId& id : down) {
    EXPECT_EQ(m_.State(id), PeerState::kDown);
    EXPECT_FALSE(m_.IsDead(id));
    EXPECT_FALSE(m_.IsAlive(id));
  }
  for (const dht::NodeId& id : dead) EXPECT_TRUE(m_.IsDead(id));

  std::vector<dht::NodeId> owners{self_.id}, live{self_.id};
  owners.insert(owners.end(), alive.begin(), alive.end());
  owners.insert(owners.end(), down.begin(), down.end());
  live.insert(live.end(), alive.begin(), alive.end());
  std::vector<dht::NodeId> candidates = Ids(m_.OwnerCandidates());
  EXPECT_EQ(absl::flat_hash_set<dht::NodeId>(candidates.begin(), candidates.end()),
            absl::flat_hash_set<dht::NodeId>(owners.begin(), owners.end()));
  EXPECT_EQ(candidates.front(), self_.id);

  std::vector<dht::NodeId> targets = peers_;  // dead peers' own IDs are the hard case
  for (int i = 0; i < 50; ++i) targets.push_back(dht::NodeId::Random(rng_));
  for (const dht::NodeId& target : targets) {
    for (size_t n : {0, 1, 3, 5, 100}) {
      const std::vector<dht::NodeId> want = BruteForceClosest(owners, target, n);
      EXPECT_EQ(Ids(m_.Owners(target, n)), want) << target << " n=" << n;
      EXPECT_EQ(Ids(dht::ClosestAmong(m_.OwnerCandidates(), target, n)), want);
      EXPECT_EQ(Ids(m_.ClosestLive(target, n)), BruteForceClosest(live, target, n));
    }
  }
}

// A world of 300 nodes where each has heard of every other (its buckets keep
// what fits). Whenever a node is certain of a key's owners it names the
// true three closest, and the nodes nearest the key are certain.
TEST(MembershipCertainOwnersTest, CertainAnswersAreTheTrueOwners) {
  std::mt19937_64 rng(7);
  util::ManualClock clock;
  std::vector<dht::NodeId> world;
  for (int i = 0; i < 300; ++i) world.push_back(dht::NodeId::Random(rng));
  std::vector<std::unique_ptr<Membership>> nodes;
  for (size_t i = 0; i < world.size(); ++i) {
    auto m = std::make_unique<Membership>(Membership::Options{.self = {world[i], "self:1"}, .k = 8},
                                          &clock);
    for (size_t j = 0; j < world.size(); ++j) {
      if (j != i) m->Observe({world[j], "peer:1"});
    }
    nodes.push_back(std::move(m));
  }
  int certain = 0;
  int nearest_certain = 0;
  const int keys = 200;
  for (int q = 0; q < keys; ++q) {
    const dht::NodeId key = dht::NodeId::Random(rng);
    const std::vector<dht::NodeId> want = BruteForceClosest(world, key, 3);
    for (const auto& m : nodes) {
      std::optional<std::vector<dht::Contact>> owners = m->CertainOwners(key, 3, true);
      if (!owners) continue;
      ++certain;
      ASSERT_EQ(Ids(*owners), want) << "node " << m->self().id << " key " << key;
    }
    const auto& nearest = *std::find_if(nodes.begin(), nodes.end(),
                                        [&](const auto& m) { return m->self().id == want[0]; });
    nearest_certain += nearest->CertainOwners(key, 3, true).has_value();
    // Without itself a node still answers truly: the next three.
    if (std::optional<std::vector<dht::Contact>> others = nearest->CertainOwners(key, 3, false)) {
      std::vector<dht::NodeId> rest(world);
      std::erase(rest, want[0]);
      ASSERT_EQ(Ids(*others), BruteForceClosest(rest, key, 3));
    }
  }
  // Far nodes defer (a full bucket covers the key), near ones answer.
  EXPECT_LT(certain, keys * 300 / 4);
  EXPECT_GE(nearest_certain, keys * 9 / 10);
}

TEST_F(MembershipTest, ReportsOfDownCountForUnwatchedPeersOnlyAndExpire) {
  ASSERT_GE(peers_.size(), 4u);
  const dht::NodeId watched = m_.HeartbeatTargets(1).front().id;
  dht::NodeId unwatched = peers_[0] == watched ? peers_[1] : peers_[0];
  const dht::NodeId stranger = dht::NodeId::Random(rng_);  // not even in the table

  // Hearsay moves peers this node does not watch, not the ones it does.
  m_.Heard(watched);
  for (const dht::NodeId& id : {watched, unwatched, stranger}) m_.Reported(id, true);
  EXPECT_TRUE(m_.IsAlive(watched));
  EXPECT_FALSE(m_.IsAlive(unwatched));
  EXPECT_FALSE(m_.IsAlive(stranger));
  EXPECT_FALSE(m_.IsDead(unwatched)) << "reported down still owns its keys";
  EXPECT_FALSE(m_.SeesDown(unwatched)) << "hearsay is not passed on";
  const auto live = Ids(m_.ClosestLive(unwatched, 1000));
  EXPECT_EQ(std::count(live.begin(), live.end(), unwatched), 0);
  const auto owners = Ids(m_.Owners(unwatched, 1000));
  EXPECT_EQ(std::count(owners.begin(), owners.end(), unwatched), 1);

  // A report of not down clears it; an unrenewed one expires.
  m_.Reported(stranger, false);
  EXPECT_TRUE(m_.IsAlive(stranger));
  clock_.Advance(Membership::kReportTtl);
  EXPECT_TRUE(m_.IsAlive(unwatched));

  // What this node sees down itself, it reports.
  Run(absl::Seconds(10), {});
  EXPECT_TRUE(m_.SeesDown(watched));
  EXPECT_FALSE(m_.SeesDown(unwatched));
}

TEST_F(MembershipTest, LeftPeerIsExcludedEvenWhileHeardUntilRejoined) {
  m_.HeartbeatTargets(1000);
  const dht::NodeId leaver = peers_[0];
  Run(absl::Seconds(5), peers_);
  m_.MarkLeft(leaver);
  Run(absl::Seconds(5), peers_);  // it keeps beating while it drains

  EXPECT_FALSE(m_.IsAlive(leaver));
  EXPECT_TRUE(m_.IsDead(leaver));
  EXPECT_EQ(m_.State(leaver), PeerState::kDown);
  const std::vector<dht::NodeId> owners = Ids(m_.Owners(leaver, 1000));
  const std::vector<dht::NodeId> live = Ids(m_.ClosestLive(leaver, 1000));
  const std::vector<dht::NodeId> candidates = Ids(m_.OwnerCandidates());
  EXPECT_EQ(std::count(owners.begin(), owners.end(), leaver), 0);
  EXPECT_EQ(std::count(live.begin(), live.end(), leaver), 0);
  EXPECT_EQ(std::count(candidates.begin(), candidates.end(), leaver), 0);
  EXPECT_EQ(owners.size(), peers_.size());  // everyone else, plus self
  // Nor is it passed on to others (FIND_NODE, Join answers).
  const std::vector<dht::NodeId> answered = Ids(m_.Closest(leaver, 1000));
  EXPECT_EQ(std::count(answered.begin(), answered.end(), leaver), 0);
  EXPECT_EQ(answered.size(), peers_.size() - 1);
  EXPECT_EQ(Ids(m_.Closest(leaver, 3)).size(), 3u);
  for (const auto& p : m_.Peers()) {
    EXPECT_EQ(p.left, p.contact.id == leaver);
    EXPECT_EQ(p.dead, p.contact.id == leaver);
  }

  m_.Rejoined(leaver);
  EXPECT_TRUE(m_.IsAlive(leaver));
  EXPECT_FALSE(m_.IsDead(leaver));
  EXPECT_EQ(m_.Owners(leaver, 1).front().id, leaver);
  EXPECT_EQ(m_.ClosestLive(leaver, 1).front().id, leaver);
  EXPECT_EQ(m_.Closest(leaver, 1).front().id, leaver);
}

TEST_F(MembershipTest, PeerViewShowsPhiGrowingWithSilence) {
  m_.HeartbeatTargets(1000);
  Run(absl::Seconds(30), peers_);
  const double before = m_.Peers().front().phi;
  clock_.Advance(Milliseconds(1000));
  const Membership::PeerView after = m_.Peers().front();
  EXPECT_LT(before, 1);
  EXPECT_GE(after.phi, 5);
  EXPECT_EQ(after.state, PeerState::kSuspect);
  EXPECT_TRUE(m_.IsAlive(after.contact.id));  // suspect still counts as alive
  EXPECT_FALSE(after.dead);
  EXPECT_FALSE(after.left);
}

}  // namespace
}  // namespace kv::membership

namespace kv::membership {
namespace {

// Dissemination (rumours.h): the verdicts a node passes on and what it
// believes of the nodes it does not watch.
using dht::Contact;
using dht::NodeId;

class MembershipRumourTest : public MembershipTest {
 protected:
  // Drains the rumours queued to pass on.
  std::vector<Rumour> Sent() {
    std::vector<Rumour> all;
    for (std::vector<Rumour> r; !(r = m_.RumoursToSend(100)).empty();) {
      all.insert(all.end(), r.begin(), r.end());
    }
    return all;
  }
};

TEST_F(MembershipRumourTest, OwnVerdictsArePassedOnAtThePeersEpoch) {
  const std::vector<Contact> watched = m_.HeartbeatTargets(3);
  ASSERT_EQ(watched.size(), 3u);
  const NodeId quiet = watched[0].id;
  EXPECT_FALSE(m_.HeardEpoch(quiet, 77).has_value());
  Run(absl::Seconds(10), {watched[1].id, watched[2].id});
  m_.Sweep();
  const std::vector<Rumour> sent = Sent();
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.front(), (Rumour{quiet, /*down=*/true, 77}));
  // Passed on a bounded number of times: 3 * log2(known nodes) in all.
  EXPECT_EQ(std::count(sent.begin(), sent.end(), sent.front()),
            Membership::kSendsPerLogN * std::bit_width(m_.KnownNodes()));
  EXPECT_EQ(m_.PendingRumours(), 0u);
}

TEST_F(MembershipRumourTest, OlderWordIsAnsweredWithWhatThisNodeKnows) {
  m_.HeartbeatTargets(1);
  const NodeId far = peers_.back();
  m_.Hear({{far, true, 10}});
  m_.Hear({{far, false, 11}});  // restarted: alive at a later epoch
  std::vector<Rumour> newer;
  EXPECT_EQ(m_.Hear({{far, true, 10}}, &newer), 0u);
  EXPECT_EQ(newer, (std::vector<Rumour>{{far, false, 11}}));
  newer.clear();
  m_.Hear({{far, false, 11}}, &newer);
  EXPECT_TRUE(newer.empty()) << "the same word needs no answer";
}

TEST_F(MembershipRumourTest, UnwatchedPeersAreDownByRumourUntilALaterEpoch) {
  m_.HeartbeatTargets(1);
  const NodeId far = peers_.back();
  ASSERT_EQ(m_.State(far), PeerState::kAlive);
  EXPECT_EQ(m_.Hear({{far, true, 10}}), 1u);
  EXPECT_EQ(m_.State(far), PeerState::kDown);
  EXPECT_FALSE(m_.IsAlive(far));
  EXPECT_FALSE(m_.IsDead(far)) << "a rumour does not take a node's keys away";
  for (const Membership::PeerView& p : m_.Peers()) {
    if (p.contact.id == far) {
      EXPECT_EQ(p.state, PeerState::kDown) << "kvctl peers shows it";
    }
  }
  EXPECT_EQ(m_.Hear({{far, true, 10}, {far, false, 10}, {far, true, 9}}), 0u)
      << "old news, and word of life at the same epoch, change nothing";
  EXPECT_EQ(m_.State(far), PeerState::kDown);
  Sent();
  // It talks to this node at the epoch it was found dead: it does not know.
  // It is told once per interval.
  EXPECT_EQ(m_.HeardEpoch(far, 10), (Rumour{far, true, 10}));
  EXPECT_FALSE(m_.HeardEpoch(far, 10).has_value());
  clock_.Advance(Membership::kTellInterval);
  EXPECT_TRUE(m_.HeardEpoch(far, 10).has_value());
  // A message at a later epoch (a restart, or its refutation) is proof of
  // life, passed on.
  EXPECT_FALSE(m_.HeardEpoch(far, 11).has_value());
  EXPECT_EQ(m_.State(far), PeerState::kAlive);
  EXPECT_EQ(Sent().front(), (Rumour{far, false, 11}));
}

TEST_F(MembershipRumourTest, AWatchedPeerIsJudgedByThisNodesDetectorAlone) {
  const std::vector<Contact> watched = m_.HeartbeatTargets(1);
  ASSERT_EQ(watched.size(), 1u);
  m_.Hear({{watched[0].id, true, 5}});
  EXPECT_EQ(m_.State(watched[0].id), PeerState::kAlive);
}

TEST_F(MembershipRumourTest, WordOfItsOwnDeathIsRefutedAtAHigherEpoch) {
  const uint64_t mine = m_.epoch();
  EXPECT_GT(mine, 0u);
  EXPECT_EQ(m_.Hear({{self_.id, true, mine}}), 1u);
  EXPECT_EQ(m_.epoch(), mine + 1);
  EXPECT_EQ(m_.State(self_.id), PeerState::kAlive);
  EXPECT_EQ(Sent().front(), (Rumour{self_.id, false, mine + 1}));
  // Stale word of its death is refuted again, without a new epoch: some
  // node still passes it on.
  EXPECT_EQ(m_.Hear({{self_.id, true, mine - 5}}), 1u);
  EXPECT_EQ(m_.epoch(), mine + 1);
  EXPECT_EQ(Sent().front(), (Rumour{self_.id, false, mine + 1}));
  // Word of it alive at a later epoch than its own (its clock went back
  // across a restart) moves its epoch up to it.
  m_.Hear({{self_.id, false, mine + 100}});
  EXPECT_EQ(m_.epoch(), mine + 100);
}

TEST_F(MembershipRumourTest, RandomLiveSkipsNodesKnownDown) {
  m_.HeartbeatTargets(0);
  for (size_t i = 0; i + 1 < peers_.size(); ++i) m_.Hear({{peers_[i], true, 1}});
  std::mt19937_64 rng(1);
  for (int i = 0; i < 20; ++i) {
    const std::vector<Contact> picked = m_.RandomLive(3, rng);
    ASSERT_EQ(picked.size(), 1u);
    EXPECT_EQ(picked[0].id, peers_.back());
  }
}

}  // namespace
}  // namespace kv::membership

namespace kv::membership {
namespace {

TEST_F(MembershipRumourTest, EpochsFarAheadOfTheClockAreIgnored) {
  const NodeId far = peers_.back();
  // At the largest epoch its subject could never refute it.
  EXPECT_EQ(m_.Hear({{far, true, std::numeric_limits<uint64_t>::max()}}), 0u);
  EXPECT_EQ(m_.Hear({{self_.id, true, std::numeric_limits<uint64_t>::max()}}), 0u);
  EXPECT_EQ(m_.State(far), PeerState::kAlive);
  const uint64_t tomorrow = absl::ToUnixMicros(clock_.Now() + absl::Hours(25));
  EXPECT_EQ(m_.Hear({{far, true, tomorrow}}), 0u);
  EXPECT_EQ(m_.Hear({{far, true, m_.epoch()}}), 1u);
}

}  // namespace
}  // namespace kv::membership
