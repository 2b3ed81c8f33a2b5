#include "src/client/owner_router.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace kv::client {

absl::StatusOr<std::vector<dht::Contact>> LiveMembers(const kvstore::v1::PeersResponse& peers) {
  std::vector<dht::Contact> out;
  auto add = [&out](const kvstore::v1::NodeInfo& node, const char* what) -> absl::Status {
    absl::StatusOr<dht::NodeId> id = dht::NodeId::FromHex(node.id());
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " has a bad id: ", id.status().message()));
    }
    if (node.address().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(what, " ", node.id(), " has no address"));
    }
    out.push_back(dht::Contact{*id, node.address()});
    return absl::OkStatus();
  };
  if (absl::Status s = add(peers.self(), "the answering node"); !s.ok()) return s;
  for (const kvstore::v1::PeerEntry& p : peers.peers()) {
    const bool up = p.state() == kvstore::v1::ALIVE || p.state() == kvstore::v1::SUSPECT;
    if (!up || p.left()) continue;
    if (absl::Status s = add(p.node(), "peer"); !s.ok()) return s;
  }
  return out;
}

OwnerRouter::OwnerRouter(std::vector<dht::NodeId> members) : members_(std::move(members)) {}

size_t OwnerRouter::Pick(std::string_view key) const {
  const dht::NodeId target = dht::NodeId::FromKey(key);
  size_t best = 0;
  dht::NodeId best_distance = members_[0] ^ target;
  for (size_t i = 1; i < members_.size(); ++i) {
    const dht::NodeId d = members_[i] ^ target;
    if (d < best_distance) {
      best = i;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace kv::client
