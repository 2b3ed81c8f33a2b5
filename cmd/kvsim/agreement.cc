#include "cmd/kvsim/agreement.h"

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace kv::sim {
namespace {

struct Probe {
  Agreement result;
  uint64_t pending = 0;
  // Per key: the owner lists its coordinators named.
  std::map<std::string, std::vector<std::vector<dht::NodeId>>> named;
  std::function<void(Agreement)> done;
};

}  // namespace

void MeasureAgreement(Cluster* cluster, int keys, int per_key, int replicas, uint64_t seed,
                      std::function<void(Agreement)> done) {
  std::vector<int> up;
  std::vector<dht::Contact> members;
  for (int i = 0; i < cluster->size(); ++i) {
    if (cluster->up(i) && !cluster->paused(i)) up.push_back(i);
    if (cluster->up(i)) members.push_back(cluster->contact(i));
  }
  auto probe = std::make_shared<Probe>();
  probe->done = std::move(done);
  if (up.empty()) return probe->done(probe->result);
  std::mt19937_64 rng(seed ^ 0x5eed0a9eeull);
  const int coordinators = std::min<int>(per_key, static_cast<int>(up.size()));
  probe->pending = static_cast<uint64_t>(keys) * coordinators;
  for (int k = 0; k < keys; ++k) {
    const std::string key = absl::StrCat("agreement-", rng());
    std::vector<dht::NodeId> oracle;
    for (const dht::Contact& c : dht::ClosestAmong(members, dht::NodeId::FromKey(key), replicas)) {
      oracle.push_back(c.id);
    }
    std::vector<int> via = up;
    std::shuffle(via.begin(), via.end(), rng);
    via.resize(coordinators);
    for (int i : via) {
      ++probe->result.asked;
      cluster->node(i).Locate(key, [probe, key, oracle](absl::StatusOr<node::LocateReply> r) {
        if (r.ok()) {
          ++probe->result.answered;
          std::vector<dht::NodeId> got;
          for (const node::ReplicaLocation& l : r->replicas) got.push_back(l.node.id);
          probe->result.agreeing += got == oracle;
          probe->named[key].push_back(std::move(got));
        }
        if (--probe->pending > 0) return;
        for (auto& [unused, lists] : probe->named) {
          std::sort(lists.begin(), lists.end());
          lists.erase(std::unique(lists.begin(), lists.end()), lists.end());
          probe->result.keys_split += lists.size() > 1;
        }
        probe->done(probe->result);
      });
    }
  }
}

}  // namespace kv::sim
