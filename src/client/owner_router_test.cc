#include "src/client/owner_router.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace kv::client {
namespace {

kvstore::v1::PeerEntry Peer(const dht::NodeId& id, std::string address,
                            kvstore::v1::PeerState state, bool left = false) {
  kvstore::v1::PeerEntry p;
  p.mutable_node()->set_id(id.ToHex());
  p.mutable_node()->set_address(std::move(address));
  p.set_state(state);
  p.set_left(left);
  return p;
}

TEST(LiveMembersTest, KeepsSelfAndPeersThatAnswerDropsDownDeadAndLeft) {
  std::mt19937_64 rng(7);
  std::vector<dht::NodeId> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(dht::NodeId::Random(rng));
  kvstore::v1::PeersResponse resp;
  resp.mutable_self()->set_id(ids[0].ToHex());
  resp.mutable_self()->set_address("127.0.0.1:1");
  *resp.add_peers() = Peer(ids[1], "127.0.0.1:2", kvstore::v1::ALIVE);
  *resp.add_peers() = Peer(ids[2], "127.0.0.1:3", kvstore::v1::SUSPECT);
  *resp.add_peers() = Peer(ids[3], "127.0.0.1:4", kvstore::v1::DOWN);
  *resp.add_peers() = Peer(ids[4], "127.0.0.1:5", kvstore::v1::DEAD);
  *resp.add_peers() = Peer(ids[5], "127.0.0.1:6", kvstore::v1::ALIVE, /*left=*/true);

  absl::StatusOr<std::vector<dht::Contact>> members = LiveMembers(resp);
  ASSERT_TRUE(members.ok()) << members.status();
  EXPECT_EQ(*members,
            (std::vector<dht::Contact>{
                {ids[0], "127.0.0.1:1"}, {ids[1], "127.0.0.1:2"}, {ids[2], "127.0.0.1:3"}}));
}

TEST(LiveMembersTest, RejectsABadIdOrAMissingAddress) {
  kvstore::v1::PeersResponse resp;
  resp.mutable_self()->set_id("not-hex");
  resp.mutable_self()->set_address("127.0.0.1:1");
  absl::StatusOr<std::vector<dht::Contact>> bad_id = LiveMembers(resp);
  EXPECT_EQ(bad_id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_id.status().message().find("bad id"), std::string::npos);

  std::mt19937_64 rng(1);
  resp.mutable_self()->set_id(dht::NodeId::Random(rng).ToHex());
  *resp.add_peers() = Peer(dht::NodeId::Random(rng), "", kvstore::v1::ALIVE);
  absl::StatusOr<std::vector<dht::Contact>> no_address = LiveMembers(resp);
  EXPECT_EQ(no_address.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(no_address.status().message().find("no address"), std::string::npos);
}

// The router's choice is the first of the replicas the nodes compute for the
// same key (dht::ClosestAmong, which Membership::Owners ends in).
TEST(OwnerRouterTest, PicksTheKeysFirstReplica) {
  std::mt19937_64 rng(42);
  std::vector<dht::Contact> contacts;
  std::vector<dht::NodeId> ids;
  for (int i = 0; i < 16; ++i) {
    contacts.push_back({dht::NodeId::Random(rng), absl::StrCat("127.0.0.1:", 5000 + i)});
    ids.push_back(contacts.back().id);
  }
  const OwnerRouter router(ids);
  std::vector<int> picked(ids.size(), 0);
  for (int k = 0; k < 2000; ++k) {
    const std::string key = absl::StrCat("k", k);
    const size_t i = router.Pick(key);
    ASSERT_LT(i, ids.size());
    EXPECT_EQ(contacts[i], dht::ClosestAmong(contacts, dht::NodeId::FromKey(key), 1).at(0)) << key;
    ++picked[i];
  }
  // Keys spread over the members rather than landing on one.
  int used = 0;
  for (int n : picked) used += n > 0;
  EXPECT_GT(used, 8);
}

TEST(OwnerRouterTest, OneMemberTakesEveryKey) {
  std::mt19937_64 rng(3);
  const OwnerRouter router({dht::NodeId::Random(rng)});
  EXPECT_EQ(router.Pick("a"), 0u);
  EXPECT_EQ(router.Pick(""), 0u);
}

}  // namespace
}  // namespace kv::client
