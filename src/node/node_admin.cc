// The operator's calls: Locate, Snapshot, Stats, planned leave.
#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "src/node/node.h"

namespace kv::node {

namespace {

// Joins the per-replica probes of one Locate call.
struct LocateState {
  absl::Mutex mu;
  LocateReply reply ABSL_GUARDED_BY(mu);
  size_t pending ABSL_GUARDED_BY(mu) = 0;
  Node::LocateCallback done;

  void Answer(size_t i, absl::StatusOr<std::optional<storage::Record>> r, int64_t now_ms) {
    bool last;
    {
      absl::MutexLock l(&mu);
      ReplicaLocation& loc = reply.replicas[i];
      loc.reachable = r.ok();
      if (!r.ok()) {
        loc.error = r.status().ToString();
      } else if (*r) {
        loc.version = (*r)->version;
        loc.holds = (*r)->LiveAt(now_ms);
      }
      last = --pending == 0;
    }
    if (last) {
      LocateReply out;
      {
        absl::MutexLock l(&mu);
        out = std::move(reply);
      }
      done(std::move(out));
    }
  }
};

}  // namespace

void Node::Locate(std::string key, LocateCallback done) {
  if (absl::Status s = ValidateKey(key); !s.ok()) return done(s);
  const dht::NodeId key_id = dht::NodeId::FromKey(key);
  router_.ResolveReplicas(key_id, [this, key, key_id, done = std::move(done)](
                                      std::vector<dht::Contact> replicas) mutable {
    auto state = std::make_shared<LocateState>();
    state->done = std::move(done);
    {
      absl::MutexLock l(&state->mu);
      state->reply.key_id = key_id;
      state->reply.replication_factor = options_.replicas;
      for (const dht::Contact& c : replicas) state->reply.replicas.push_back({.node = c});
      state->pending = replicas.size();
    }
    if (replicas.empty()) {
      return state->done(LocateReply{.key_id = key_id, .replication_factor = options_.replicas});
    }
    for (size_t i = 0; i < replicas.size(); ++i) {
      if (replicas[i].id == options_.self.id) {
        state->Answer(i, engine_->Read(key), clock_->NowMillis());
      } else {
        transport_->Fetch(replicas[i], key,
                          [this, state, i](absl::StatusOr<std::optional<storage::Record>> r) {
                            state->Answer(i, std::move(r), clock_->NowMillis());
                          });
      }
    }
  });
}

namespace {

// OK when `name` is one plain path component: 1-255 of [A-Za-z0-9._-], and
// neither "." nor anything with "..".
absl::Status ValidateSnapshotName(const std::string& name) {
  const bool plain =
      !name.empty() && name.size() <= 255 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
      });
  if (plain && name != "." && name.find("..") == std::string::npos) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "snapshot name '", absl::CHexEscape(name.substr(0, 64)),
      "' must be a plain name of 1 to 255 letters, digits, '.', '_' or '-' (no '/', no '..'); "
      "the snapshot is written under the node's backup directory"));
}

}  // namespace

void Node::Snapshot(std::string name, std::function<void(absl::StatusOr<std::string>)> done) {
  if (absl::Status s = ValidateSnapshotName(name); !s.ok()) return done(s);
  if (!options_.snapshot) {
    return done(absl::FailedPreconditionError(
        "this node keeps its data in memory; snapshots need a node started with --data-dir "
        "and --backup-dir"));
  }
  auto run = [this, name = std::move(name), done = std::move(done)] {
    absl::StatusOr<std::string> path = options_.snapshot(name);
    if (path.ok()) {
      spdlog::info("wrote a snapshot to {}", *path);
    } else {
      spdlog::warn("snapshot '{}' failed (writes are not affected): {}", name,
                   path.status().ToString());
    }
    done(std::move(path));
  };
  OnStorage(std::move(run));
}

AdminApi::Facts Node::facts() const {
  uint64_t ops = 0;
  for (const replication::Coordinator::OutcomeCount& o : coordinator_.Outcomes()) ops += o.count;
  return {.version = options_.version,
          .uptime = absl::Milliseconds(clock_->NowMillis() - started_ms_),
          .coordinated_operations = ops};
}

std::vector<std::pair<std::string, uint64_t>> Node::Stats() const {
  std::vector<std::pair<std::string, uint64_t>> out = {
      {"keys", engine_->Size()},
      {"read_repairs", coordinator_.read_repairs()},
      {"speculative_reads", coordinator_.speculative_reads()},
      {"serving_reads", ServesReads().ok() ? 1u : 0u},
  };
  repairer_.AppendStats(&out);
  hints_.AppendStats(&out);
  leaver_.AppendStats(&out);
  if (options_.storage_stats) {
    for (auto& stat : options_.storage_stats()) out.push_back(std::move(stat));
  }
  if (options_.group_commit) {
    out.emplace_back("group_commits", options_.group_commit->groups());
    out.emplace_back("group_commit_writes", options_.group_commit->writes());
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status Node::Leave(bool force, std::function<void(const LeaveProgress&)> progress) {
  return leaver_.Start(force, std::move(progress));
}

}  // namespace kv::node
