#include "cmd/kvsim/workload.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace kv::sim {

Workload::Workload(WorkloadOptions options, Cluster* cluster)
    : options_(options), cluster_(cluster), rng_(options.seed) {}

int Workload::LiveNode() {
  std::vector<int> up;
  for (int i = 0; i < cluster_->size(); ++i) {
    if (cluster_->up(i)) up.push_back(i);
  }
  return up[std::uniform_int_distribution<size_t>(0, up.size() - 1)(rng_)];
}

void Workload::Start() {
  running_ = true;
  for (int c = 0; c < options_.clients; ++c) {
    cluster_->executor().After(absl::Milliseconds(c), [this, c] { ClientOp(c); });
  }
  if (options_.nemesis != Nemesis::kNone) {
    cluster_->executor().After(options_.fault_every, [this] { Fault(); });
  }
}

void Workload::Stop() {
  running_ = false;
  cluster_->net().HealAll();
  for (int i = 0; i < cluster_->size(); ++i) {
    cluster_->net().Isolate(cluster_->contact(i).address, false);
    cluster_->Restart(i);
  }
}

void Workload::ClientOp(int client) {
  if (!running_) return;
  const int via = LiveNode();
  const std::string key =
      absl::StrCat("key", std::uniform_int_distribution<int>(0, options_.keys - 1)(rng_));
  auto next = [this, client] {
    cluster_->executor().After(options_.think, [this, client] { ClientOp(client); });
  };
  if (std::bernoulli_distribution(0.5)(rng_)) {
    ++stats_.puts;
    const std::string value = absl::StrCat("c", client, "-", stats_.puts);
    cluster_->node(via).Put({.key = key, .value = value},
                            [this, key, next](absl::StatusOr<replication::WriteResult> r) {
                              if (r.ok()) {
                                ++stats_.acknowledged;
                                storage::Version& v = acked_[key];
                                if (v < r->version) v = r->version;
                              } else {
                                ++stats_.failed;
                              }
                              next();
                            });
  } else {
    ++stats_.gets;
    cluster_->node(via).Get(key, std::nullopt, [this, next](absl::StatusOr<node::GetReply> r) {
      if (!r.ok()) ++stats_.failed;
      next();
    });
  }
}

void Workload::Fault() {
  if (!running_) return;
  const int victim = LiveNode();
  ++stats_.faults;
  if (options_.nemesis == Nemesis::kKill) {
    cluster_->Crash(victim);
    cluster_->executor().After(options_.fault_for, [this, victim] { cluster_->Restart(victim); });
  } else {
    const std::string address = cluster_->contact(victim).address;
    cluster_->net().Isolate(address, true);
    cluster_->executor().After(options_.fault_for,
                               [this, address] { cluster_->net().Isolate(address, false); });
  }
  cluster_->executor().After(options_.fault_every, [this] { Fault(); });
}

void Workload::Check(std::function<void()> done) {
  auto keys = std::make_shared<std::vector<std::pair<std::string, storage::Version>>>(
      acked_.begin(), acked_.end());
  util::Sequentially(
      &cluster_->executor(), keys->size(),
      [this, keys](size_t i, std::function<void(bool)> next) {
        const auto& [key, version] = (*keys)[i];
        ++stats_.checked_keys;
        cluster_->node(LiveNode())
            .Get(key, replication::Consistency::kAll,
                 [this, version, next = std::move(next)](absl::StatusOr<node::GetReply> r) {
                   if (!r.ok()) {
                     ++stats_.unreadable;
                   } else if (!r->found || r->version < version) {
                     ++stats_.lost;
                   }
                   next(true);
                 });
      },
      std::move(done));
}

}  // namespace kv::sim
