// Router::ResolveReplicas against a world of nodes answered by a fake
// transport: nodes of this version, which name the owners when certain,
// and older ones, which never do and leave the coordinator its lookup.
#include "src/node/router.h"

#include <algorithm>
#include <optional>
#include <random>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/util/clock.h"

namespace kv::node {
namespace {

// Every node of the world answers from a perfect view of it: FIND_NODE with
// the k closest, and (unless `old`) the owners when it is among the key's k
// closest, as a node certain of them would.
class WorldTransport final : public replication::PeerTransport {
 public:
  WorldTransport(std::vector<dht::Contact> world, size_t k, bool old)
      : world_(std::move(world)), k_(k), old_(old) {}

  void Store(const dht::Contact&, const std::string&, const storage::Record&,
             StoreCallback done) override {
    done(absl::UnimplementedError("Store"));
  }
  void Fetch(const dht::Contact&, const std::string&, FetchCallback done) override {
    done(absl::UnimplementedError("Fetch"));
  }
  void FindNode(const dht::Contact& to, const dht::NodeId& target, FindNodeCallback done) override {
    ++find_node;
    done(Closest(target, k_, to.id));
  }
  void FindOwners(const dht::Contact& to, const dht::NodeId& target, size_t owners,
                  FindOwnersCallback done) override {
    ++find_owners;
    Neighbours n{Closest(target, k_, to.id), {}};
    const std::vector<dht::Contact> near = Closest(target, k_, std::nullopt);
    const bool certain =
        std::any_of(near.begin(), near.end(), [&](const dht::Contact& c) { return c.id == to.id; });
    if (!old_ && certain) n.owners = Closest(target, owners, std::nullopt);
    for (const dht::Contact& o : n.owners) {
      if (down.contains(o.id)) n.down.push_back(o.id);
    }
    done(std::move(n));
  }
  void Ping(const std::string& address, PingCallback done) override {
    for (const dht::Contact& c : world_) {
      if (c.address == address) return done(c);
    }
    done(absl::UnavailableError(address));
  }
  void Join(const std::string&, JoinCallback done) override {
    done(absl::UnimplementedError("Join"));
  }

  // The `n` nodes of the world closest to `target`, `skip` left out.
  std::vector<dht::Contact> Closest(const dht::NodeId& target, size_t n,
                                    std::optional<dht::NodeId> skip) const {
    std::vector<dht::Contact> out;
    for (const dht::Contact& c : world_) {
      if (c.id != skip) out.push_back(c);
    }
    std::sort(out.begin(), out.end(), [&](const dht::Contact& a, const dht::Contact& b) {
      return dht::CloserTo(target, a.id, b.id);
    });
    out.resize(std::min(n, out.size()));
    return out;
  }

  int find_node = 0;
  int find_owners = 0;
  absl::flat_hash_set<dht::NodeId> down;  // what the answering nodes see down

 private:
  const std::vector<dht::Contact> world_;
  const size_t k_;
  const bool old_;
};

struct Fixture {
  explicit Fixture(bool old) {
    std::mt19937_64 rng(11);
    for (int i = 0; i < 200; ++i) {
      world.push_back(
          {dht::NodeId::Random(rng), absl::StrCat("10.0.", i / 250, ".", i % 250, ":1")});
    }
    self = world[0];
    transport.emplace(world, kK, old);
    membership.emplace(membership::Membership::Options{.self = self, .k = kK}, &clock);
    // The coordinator has heard of a random fifth of the world: its shallow
    // buckets are full, so it is certain of few keys.
    for (size_t i = 1; i < world.size(); i += 5) membership->Observe(world[i]);
    router.emplace(Router::Options{.self = self, .replicas = 3, .k = kK}, &*membership, &*transport,
                   &executor, [] { return false; });
  }

  std::vector<dht::Contact> Resolve(const dht::NodeId& key) {
    std::optional<std::vector<dht::Contact>> got;
    router->ResolveReplicas(key, [&](std::vector<dht::Contact> r) { got = std::move(r); });
    executor.RunFor(absl::Seconds(1));
    EXPECT_TRUE(got.has_value());
    return got.value_or(std::vector<dht::Contact>{});
  }

  static constexpr size_t kK = 4;
  util::ManualClock clock;
  util::ManualExecutor executor{&clock};
  std::vector<dht::Contact> world;
  dht::Contact self;
  std::optional<WorldTransport> transport;
  std::optional<membership::Membership> membership;
  std::optional<Router> router;
};

std::vector<dht::NodeId> Ids(const std::vector<dht::Contact>& v) {
  std::vector<dht::NodeId> out;
  for (const dht::Contact& c : v) out.push_back(c.id);
  return out;
}

TEST(RouterTest, NodesOfThisVersionNameTheOwnersWithoutALookup) {
  Fixture f(/*old=*/false);
  std::mt19937_64 rng(5);
  for (int q = 0; q < 50; ++q) {
    const dht::NodeId key = dht::NodeId::Random(rng);
    EXPECT_EQ(Ids(f.Resolve(key)), Ids(f.transport->Closest(key, 3, std::nullopt)));
  }
  EXPECT_EQ(f.transport->find_node, 0) << "no lookup";
  EXPECT_GT(f.transport->find_owners, 0);
  EXPECT_LE(f.transport->find_owners, 50 * 4) << "a few questions per key";
}

// An owner its neighbours see down is down for the coordinator too (it
// leaves hints instead of waiting out a timeout), until they say otherwise.
TEST(RouterTest, OwnersTheNeighboursSeeDownAreDownHere) {
  Fixture f(/*old=*/false);
  std::mt19937_64 rng(8);
  dht::NodeId key;
  std::vector<dht::Contact> owners;
  // A key whose first owner this node does not watch (nor is).
  do {
    key = dht::NodeId::Random(rng);
    owners = f.transport->Closest(key, 3, std::nullopt);
  } while (owners[0].id == f.self.id || f.membership->Find(owners[0].id));
  const dht::NodeId victim = owners[0].id;
  EXPECT_TRUE(f.membership->IsAlive(victim));
  f.transport->down.insert(victim);
  EXPECT_EQ(Ids(f.Resolve(key)), Ids(owners)) << "still an owner";
  EXPECT_FALSE(f.membership->IsAlive(victim));
  f.transport->down.clear();
  f.Resolve(key);
  EXPECT_TRUE(f.membership->IsAlive(victim));
}

TEST(RouterTest, OlderNodesNeverNameOwnersSoTheLookupRuns) {
  Fixture f(/*old=*/true);
  std::mt19937_64 rng(5);
  for (int q = 0; q < 20; ++q) {
    const dht::NodeId key = dht::NodeId::Random(rng);
    const int asked_before = f.transport->find_owners;
    const int lookups_before = f.transport->find_node;
    EXPECT_EQ(Ids(f.Resolve(key)), Ids(f.transport->Closest(key, 3, std::nullopt)));
    EXPECT_EQ(f.transport->find_owners - asked_before, Router::kMaxOwnerHops);
    EXPECT_GT(f.transport->find_node, lookups_before);
  }
}

}  // namespace
}  // namespace kv::node
