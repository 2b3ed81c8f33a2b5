#include "cmd/kvsim/workload.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cmd/kvsim/client_call.h"

namespace kv::sim {

Workload::Workload(WorkloadOptions options, Cluster* cluster)
    : options_(options), cluster_(cluster), rng_(options.seed) {}

int Workload::LiveNode() {
  std::vector<int> up;
  for (int i = 0; i < cluster_->size(); ++i) {
    if (cluster_->up(i) && !cluster_->paused(i)) up.push_back(i);
  }
  return up[std::uniform_int_distribution<size_t>(0, up.size() - 1)(rng_)];
}

void Workload::Start() {
  running_ = true;
  for (int c = 0; c < options_.clients; ++c) {
    cluster_->executor().After(absl::Milliseconds(c), [this, c] { ClientOp(c); });
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
  // The request's work is tagged, so the network counts what it caused.
  const uint64_t op = ++next_op_;
  cluster_->net().BeginOp(op);
  util::ManualExecutor& ex = cluster_->executor();
  const util::ManualExecutor::Tag outer = ex.tag();
  ex.set_tag({op, 0});
  // Ends the count; an answered request's cost goes into the stats.
  auto cost = [this, op](bool ok, std::vector<uint64_t>* calls,
                         std::vector<uint64_t>* round_trips) {
    const Network::OpCost c = cluster_->net().EndOp(op);
    if (!ok) return;
    calls->push_back(c.calls);
    round_trips->push_back((c.depth + 1) / 2);
  };
  if (std::bernoulli_distribution(0.5)(rng_)) {
    ++stats_.puts;
    const std::string value = absl::StrCat("c", client, "-", stats_.puts);
    ClientCall<replication::WriteResult>(
        *cluster_, via, options_.timeout,
        [key, value](node::Node& n, node::ClientApi::WriteCallback cb) {
          n.Put({.key = key, .value = value}, std::move(cb));
        },
        [this, key, next, cost](absl::StatusOr<replication::WriteResult> r) {
          if (r.ok()) {
            ++stats_.acknowledged;
            storage::Version& v = acked_[key];
            if (v < r->version) v = r->version;
          } else {
            ++stats_.failed;
          }
          cost(r.ok(), &stats_.put_calls, &stats_.put_round_trips);
          next();
        });
  } else {
    ++stats_.gets;
    ClientCall<node::GetReply>(
        *cluster_, via, options_.timeout,
        [key](node::Node& n, node::ClientApi::GetCallback cb) {
          n.Get(key, std::nullopt, std::move(cb));
        },
        [this, next, cost](absl::StatusOr<node::GetReply> r) {
          if (!r.ok()) ++stats_.failed;
          cost(r.ok(), &stats_.get_calls, &stats_.get_round_trips);
          next();
        });
  }
  ex.set_tag(outer);
}

uint64_t Percentile(std::vector<uint64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(p / 100 * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
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
