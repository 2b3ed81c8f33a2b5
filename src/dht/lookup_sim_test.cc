// Iterative lookups over a simulated network of 1,000+ nodes, each with its own
// RoutingTable, built by Kademlia joins. No I/O: a "request" is a function call.

#include <algorithm>
#include <cstddef>
#include <deque>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "src/dht/lookup.h"
#include "src/dht/node_id.h"
#include "src/dht/routing_table.h"

namespace kv::dht {
namespace {

constexpr size_t kK = 20;
constexpr size_t kAlpha = 3;
constexpr size_t kNodes = 1000;
constexpr int kLookups = 500;

struct SimNode {
  Contact contact;
  RoutingTable table;
  bool alive = true;
};

class SimNetwork {
 public:
  explicit SimNetwork(uint64_t seed) : rng_(seed) {}

  // Adds a node that joins through a random existing one: insert the seed, look up
  // our own ID, then refresh every bucket farther than our closest neighbour.
  void Join() {
    const size_t me = nodes_.size();
    Contact c{NodeId::Random(rng_), absl::StrCat("10.0.", me / 256, ".", me % 256, ":7000")};
    index_[c.id] = me;
    nodes_.push_back(SimNode{c, RoutingTable(c.id, {.k = kK}, now_)});
    if (me == 0) return;
    HearFrom(me, nodes_[rng_() % me].contact);
    RunLookup(me, c.id, /*learn_all=*/true);
    RoutingTable& table = nodes_[me].table;
    std::vector<Contact> nearest = table.Closest(c.id, 1);
    if (nearest.empty()) return;
    const int closest_bucket = table.BucketIndex(nearest[0].id);
    for (int b = 0; b < closest_bucket; ++b) {
      RunLookup(me, table.RandomIdInBucket(b, rng_), /*learn_all=*/true);
      table.MarkRefreshed(b, now_);
    }
  }

  // Runs a lookup from node `querier` until Done(), answering each request from the
  // asked node's own table. Requests are answered one at a time, in the order sent,
  // NextRequests() is called after each answer, and requests still pending when the
  // lookup is done are dropped, as a real node would.
  Lookup RunLookup(size_t querier, const NodeId& target, bool learn_all) {
    now_ += absl::Seconds(1);
    Lookup lookup(nodes_[querier].contact.id, target, kK, kAlpha,
                  nodes_[querier].table.Closest(target, kK));
    std::deque<Contact> pending;
    auto send = [&] {
      for (Contact& c : lookup.NextRequests()) pending.push_back(std::move(c));
    };
    send();
    while (!pending.empty() && !lookup.Done()) {
      const Contact to = pending.front();
      pending.pop_front();
      const size_t r = index_.at(to.id);
      if (!nodes_[r].alive) {
        lookup.OnFailure(to.id);
      } else {
        HearFrom(r, nodes_[querier].contact);
        std::vector<Contact> found = nodes_[r].table.Closest(target, kK);
        HearFrom(querier, nodes_[r].contact);
        if (learn_all) {
          for (const Contact& f : found) HearFrom(querier, f);
        }
        lookup.OnResponse(to.id, found);
      }
      send();
    }
    EXPECT_TRUE(lookup.Done()) << "lookup stalled with nothing in flight";
    return lookup;
  }

  // The n nodes closest to target, excluding `exclude` and (if only_alive) dead nodes.
  std::vector<NodeId> TrueClosest(const NodeId& target, size_t exclude, size_t n,
                                  bool only_alive) const {
    std::vector<NodeId> ids;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (i == exclude || (only_alive && !nodes_[i].alive)) continue;
      ids.push_back(nodes_[i].contact.id);
    }
    n = std::min(n, ids.size());
    std::partial_sort(ids.begin(), ids.begin() + n, ids.end(),
                      [&](const NodeId& a, const NodeId& b) { return CloserTo(target, a, b); });
    ids.resize(n);
    return ids;
  }

  size_t RandomNode(bool alive) {
    while (true) {
      size_t i = rng_() % nodes_.size();
      if (!alive || nodes_[i].alive) return i;
    }
  }
  void Kill(size_t i) { nodes_[i].alive = false; }
  bool IsAlive(const NodeId& id) const { return nodes_[index_.at(id)].alive; }
  size_t size() const { return nodes_.size(); }
  const SimNode& node(size_t i) const { return nodes_[i]; }
  std::mt19937_64& rng() { return rng_; }

 private:
  // Node `at` hears from `c`: Update, and on a full bucket ping the oldest contact,
  // which answers iff it is alive in the simulation.
  void HearFrom(size_t at, const Contact& c) {
    RoutingTable::UpdateResult r = nodes_[at].table.Update(c, now_);
    if (r.outcome == RoutingTable::UpdateOutcome::kBucketFull) {
      const NodeId& oldest = r.ping_candidate->id;
      nodes_[at].table.OnPingResult(oldest, nodes_[index_.at(oldest)].alive, now_);
    }
  }

  std::mt19937_64 rng_;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  std::vector<SimNode> nodes_;
  absl::flat_hash_map<NodeId, size_t> index_;
};

// Built once per test process; tests copy it before changing it.
const SimNetwork& BuiltNetwork() {
  static const SimNetwork* const net = [] {
    auto* n = new SimNetwork(/*seed=*/20240601);
    for (size_t i = 0; i < kNodes; ++i) n->Join();
    return n;
  }();
  return *net;
}

struct Stats {
  int lookups = 0;
  int closest_found = 0;  // Result()[0] is the true closest
  int exact_k = 0;        // Result() is exactly the true k closest, in order
  int exact_half = 0;     // Result() starts with the true k/2 closest, in order
  int dead_returned = 0;  // results naming a dead node
  long total_hops = 0;
  int max_hops = 0;
  long total_requests = 0;

  void Report(const std::string& name) const {
    const double mean_hops = static_cast<double>(total_hops) / lookups;
    const double mean_requests = static_cast<double>(total_requests) / lookups;
    std::cout << absl::StrFormat(
        "[%s] %d lookups: closest found %d, exact k %d, exact k/2 %d, hops mean %.2f max %d, "
        "requests mean %.1f\n",
        name, lookups, closest_found, exact_k, exact_half, mean_hops, max_hops, mean_requests);
    ::testing::Test::RecordProperty("mean_hops", absl::StrFormat("%.2f", mean_hops));
    ::testing::Test::RecordProperty("max_hops", max_hops);
    ::testing::Test::RecordProperty("mean_requests", absl::StrFormat("%.1f", mean_requests));
  }
};

Stats RunRandomLookups(SimNetwork& net, int count) {
  Stats s;
  for (int i = 0; i < count; ++i) {
    const size_t querier = net.RandomNode(/*alive=*/true);
    const NodeId target = NodeId::Random(net.rng());
    Lookup lookup = net.RunLookup(querier, target, /*learn_all=*/false);
    std::vector<NodeId> truth = net.TrueClosest(target, querier, kK, /*only_alive=*/true);
    std::vector<NodeId> got;
    for (const Contact& c : lookup.Result()) got.push_back(c.id);
    ++s.lookups;
    if (!got.empty() && got[0] == truth[0]) ++s.closest_found;
    if (got == truth) ++s.exact_k;
    if (got.size() >= kK / 2 && std::equal(truth.begin(), truth.begin() + kK / 2, got.begin())) {
      ++s.exact_half;
    }
    for (const NodeId& id : got) {
      if (!net.IsAlive(id)) ++s.dead_returned;
    }
    s.total_hops += lookup.Hops();
    s.max_hops = std::max(s.max_hops, lookup.Hops());
    s.total_requests += lookup.RequestsSent();
  }
  return s;
}

TEST(LookupSimTest, JoinsBuildTablesThatKnowTheirNeighbours) {
  const SimNetwork& net = BuiltNetwork();
  ASSERT_EQ(net.size(), kNodes);
  // Every node's table holds its true closest neighbour (the join looked up its own ID,
  // and later joiners near it announced themselves by querying it).
  int missing = 0;
  for (size_t i = 0; i < net.size(); ++i) {
    const SimNode& n = net.node(i);
    NodeId nearest = net.TrueClosest(n.contact.id, i, 1, /*only_alive=*/false)[0];
    if (!n.table.Find(nearest).has_value()) ++missing;
  }
  EXPECT_LE(missing, static_cast<int>(kNodes / 100));
}

TEST(LookupSimTest, LookupsFindTheTrueClosestNodes) {
  SimNetwork net = BuiltNetwork();
  Stats s = RunRandomLookups(net, kLookups);
  s.Report("all alive");
  EXPECT_EQ(s.closest_found, s.lookups);
  EXPECT_GE(s.exact_k, s.lookups * 99 / 100);
  // O(log n): with 1,000 nodes and k = 20, a handful of hops at most.
  EXPECT_LE(s.max_hops, 6);
}

TEST(LookupSimTest, LookupsRouteAroundTenPercentDeadNodes) {
  SimNetwork net = BuiltNetwork();
  for (size_t killed = 0; killed < kNodes / 10;) {
    const size_t i = net.RandomNode(/*alive=*/true);
    net.Kill(i);
    ++killed;
  }
  Stats s = RunRandomLookups(net, kLookups);
  s.Report("10% dead");
  EXPECT_GE(s.closest_found, s.lookups * 99 / 100);
  // Responders' k closest include dead nodes, so the live nodes ranked near k are
  // sometimes nobody's answer; the nearer half must still be exact.
  EXPECT_GE(s.exact_half, s.lookups * 99 / 100);
  EXPECT_EQ(s.dead_returned, 0);
}

}  // namespace
}  // namespace kv::dht
