// The node collector over a fake AdminApi: counters and levels from Stats(),
// membership gauges from Peers().
#include "cmd/kvstore/node_collector.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "src/metrics/registry.h"

namespace kv::cmd {
namespace {

using membership::Membership;
using membership::PeerState;

class FakeAdmin final : public node::AdminApi {
 public:
  const dht::Contact& self() const override { return self_; }
  node::ClockStatus clock_status() const override { return {}; }
  std::vector<Membership::PeerView> Peers() const override { return peers; }
  void Locate(std::string, LocateCallback done) override { done(absl::UnimplementedError("fake")); }
  void Snapshot(std::string, std::function<void(absl::StatusOr<std::string>)> done) override {
    done(absl::UnimplementedError("fake"));
  }
  std::vector<std::pair<std::string, uint64_t>> Stats() const override { return stats; }
  std::vector<replication::Coordinator::OutcomeCount> CoordinatorOutcomes() const override {
    return outcomes;
  }
  Facts facts() const override { return {}; }
  absl::Status Leave(bool, std::function<void(const node::LeaveProgress&)>) override {
    return absl::UnimplementedError("fake");
  }

  std::vector<std::pair<std::string, uint64_t>> stats;
  std::vector<replication::Coordinator::OutcomeCount> outcomes;
  std::vector<Membership::PeerView> peers;

 private:
  dht::Contact self_{dht::NodeId::FromKey("self"), "127.0.0.1:1"};
};

Membership::PeerView Peer(const std::string& name, PeerState state, double phi = 0) {
  Membership::PeerView p{};
  p.contact = {dht::NodeId::FromKey(name), name + ":1"};
  p.state = state;
  p.last_heard = absl::InfinitePast();
  p.phi = phi;
  return p;
}

std::string Scrape(const FakeAdmin& admin, std::function<uint64_t()> streams = nullptr) {
  return metrics::RenderText({std::make_shared<NodeCollector>(
      NodeCollectorOptions{.admin = &admin, .heartbeat_streams_in = std::move(streams)})});
}

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(NodeCollectorTest, ExportsMonotonicStatsAsCountersAndLevelsAsGauges) {
  FakeAdmin admin;
  admin.stats = {{"hints_kept", 7}, {"keys", 42}, {"hints_pending", 3}, {"new_counter", 1}};
  const std::string text = Scrape(admin);
  EXPECT_TRUE(Has(text, "# TYPE kvstore_hints_kept_total counter")) << text;
  EXPECT_TRUE(Has(text, "kvstore_hints_kept_total 7")) << text;
  EXPECT_TRUE(Has(text, "# TYPE kvstore_keys gauge")) << text;
  EXPECT_TRUE(Has(text, "kvstore_keys 42")) << text;
  EXPECT_TRUE(Has(text, "kvstore_hints_pending 3")) << text;
  // A stat added later is a counter with a generic help text.
  EXPECT_TRUE(Has(text, "kvstore_new_counter_total 1")) << text;
  EXPECT_EQ(text.find("kvstore_keys_total"), std::string::npos) << text;
}

TEST(NodeCollectorTest, CoordinatorOutcomesAreOneCounterWithOpConsistencyAndOutcomeLabels) {
  using Coordinator = replication::Coordinator;
  FakeAdmin admin;
  admin.outcomes = {
      {Coordinator::Op::kWrite, replication::Consistency::kQuorum, Coordinator::Outcome::kOk, 9},
      {Coordinator::Op::kRead, replication::Consistency::kAll, Coordinator::Outcome::kUnavailable,
       2},
      {Coordinator::Op::kWrite, replication::Consistency::kOne, Coordinator::Outcome::kRefused, 1}};
  const std::string text = Scrape(admin);
  EXPECT_TRUE(Has(text, "# TYPE kvstore_coordinator_operations_total counter")) << text;
  EXPECT_TRUE(Has(text,
                  "kvstore_coordinator_operations_total{op=\"write\",consistency=\"quorum\","
                  "outcome=\"ok\"} 9"))
      << text;
  EXPECT_TRUE(Has(text,
                  "kvstore_coordinator_operations_total{op=\"read\",consistency=\"all\","
                  "outcome=\"unavailable\"} 2"))
      << text;
  EXPECT_TRUE(Has(text,
                  "kvstore_coordinator_operations_total{op=\"write\",consistency=\"one\","
                  "outcome=\"refused\"} 1"))
      << text;
}

TEST(NodeCollectorTest, CountsEachPeerUnderExactlyOneState) {
  FakeAdmin admin;
  Membership::PeerView dead = Peer("d", PeerState::kDown);
  dead.dead = true;
  Membership::PeerView left = Peer("l", PeerState::kDown);
  left.dead = true;
  left.left = true;
  admin.peers = {Peer("a", PeerState::kAlive),
                 Peer("b", PeerState::kAlive),
                 Peer("s", PeerState::kSuspect),
                 Peer("x", PeerState::kDown),
                 dead,
                 left};
  const std::string text = Scrape(admin);
  EXPECT_TRUE(Has(text, R"(kvstore_peers{state="alive"} 2)")) << text;
  EXPECT_TRUE(Has(text, R"(kvstore_peers{state="suspect"} 1)")) << text;
  EXPECT_TRUE(Has(text, R"(kvstore_peers{state="down"} 1)")) << text;
  EXPECT_TRUE(Has(text, R"(kvstore_peers{state="dead"} 1)")) << text;
  EXPECT_TRUE(Has(text, R"(kvstore_peers{state="left"} 1)")) << text;
}

TEST(NodeCollectorTest, ReportsPhiOfWatchedPeersAndClockOffsets) {
  FakeAdmin admin;
  Membership::PeerView watched = Peer("w", PeerState::kSuspect, 5.5);
  watched.last_heard = absl::Now();
  watched.clock = membership::ClockSample{.offset = absl::Milliseconds(-250),
                                          .round_trip = absl::Milliseconds(1)};
  admin.peers = {watched, Peer("unwatched", PeerState::kAlive)};
  const std::string text = Scrape(admin, [] { return uint64_t{2}; });
  const std::string labels =
      "{peer_address=\"w:1\",peer_id=\"" + dht::NodeId::FromKey("w").ToHex() + "\"}";
  EXPECT_TRUE(Has(text, "kvstore_peer_phi" + labels + " 5.5")) << text;
  EXPECT_TRUE(Has(text, "kvstore_peer_clock_offset_seconds" + labels + " -0.25")) << text;
  EXPECT_EQ(text.find("unwatched"), std::string::npos) << "not watched: no phi\n" << text;
  EXPECT_TRUE(Has(text, "kvstore_heartbeat_streams_in 2")) << text;
}

TEST(NodeCollectorTest, LeavesOutPerPeerFamiliesWithoutSeries) {
  FakeAdmin admin;
  const std::string text = Scrape(admin);
  EXPECT_TRUE(Has(text, R"(kvstore_peers{state="alive"} 0)")) << text;
  EXPECT_EQ(text.find("kvstore_peer_phi"), std::string::npos) << text;
  EXPECT_EQ(text.find("kvstore_heartbeat_streams_in"), std::string::npos) << text;
}

}  // namespace
}  // namespace kv::cmd
