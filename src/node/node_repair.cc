// Hinted handoff: hints for replicas that were down when a write happened,
// kept on the next-closest live node and replayed when the replica is back.
#include <algorithm>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "src/node/node.h"

namespace kv::node {

namespace {

// Peer calls in flight while replaying.
constexpr size_t kPushWindow = 32;
// Hints replayed per target per maintenance tick.
constexpr size_t kReplayBatch = 256;

void Bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

}  // namespace

std::vector<dht::Contact> Node::OwnerCandidates() const {
  std::vector<dht::Contact> c = membership_.OwnerCandidates();
  if (leaving_.load()) {
    std::erase_if(c, [this](const dht::Contact& x) { return x.id == options_.self.id; });
  }
  return c;
}

bool Node::PastGrace(const storage::Record& rec, int64_t now_ms) const {
  // An expired record counts as the tombstone the purge will make of it.
  return storage::PurgeActionFor(rec.tombstone || rec.ExpiredAt(now_ms), rec.version.timestamp,
                                 rec.expires_at_ms, now_ms,
                                 options_.tombstone_grace) == storage::PurgeAction::kErase;
}

// ---- Hinted handoff.

void Node::SendHint(const dht::Contact& target, const std::string& key,
                    const storage::Record& rec) {
  if (options_.max_hints_bytes == 0) return;  // hints are off: anti-entropy repairs
  const dht::NodeId key_id = dht::NodeId::FromKey(key);
  const size_t n = static_cast<size_t>(options_.replicas);
  const std::vector<dht::Contact> owners = dht::ClosestAmong(OwnerCandidates(), key_id, n);
  std::optional<dht::Contact> holder;
  for (dht::Contact& c : membership_.ClosestLive(key_id, n + 8)) {
    if (!dht::ContainsNode(owners, c.id) && c.id != target.id) {
      holder = std::move(c);
      break;
    }
  }
  if (!holder || holder->id == options_.self.id) return KeepHint(target.id, key, rec);
  Bump(counters_.hints_sent);
  transport_->StoreHint(*holder, target.id, key, rec,
                        [this, target = target.id, key, rec](absl::Status s) {
                          // The holder failed too: keep the hint here instead.
                          if (!s.ok()) KeepHint(target, key, rec);
                        });
}

void Node::KeepHint(const dht::NodeId& target, const std::string& key, const storage::Record& rec) {
  auto keep = [this, target, key, rec] {
    if (absl::Status s = hints_->Add(target, key, rec); !s.ok()) {
      spdlog::warn("could not keep a hint for {}: {}", target.ShortHex(), s.ToString());
      return;
    }
    Bump(counters_.hints_kept);
  };
  if (storage_pool_) {
    storage_pool_->Schedule(std::move(keep));
  } else {
    keep();
  }
}

void Node::HandleStoreHint(const dht::Contact& from, const dht::NodeId& target,
                           const std::string& key, storage::Record rec,
                           std::function<void(absl::Status)> done) {
  if (absl::Status s = hlc_.Admit(rec.version); !s.ok()) {
    WarnRefused(from, s);
    return done(s);
  }
  if (!membership_.Find(target)) {
    return done(absl::FailedPreconditionError(
        absl::StrCat("hint_for names node ", target.ToHex(),
                     ", which this node does not know; hints are kept only for members")));
  }
  Learn(from);
  auto keep = [this, target, key, rec = std::move(rec), done = std::move(done)] {
    absl::Status s = hints_->Add(target, key, rec);
    if (s.ok()) Bump(counters_.hints_kept);
    done(s);
  };
  if (storage_pool_) {
    storage_pool_->Schedule(std::move(keep));
  } else {
    keep();
  }
}

void Node::ReplayHints() {
  std::vector<dht::NodeId> targets = hints_->Targets();
  if (targets.empty()) return;
  absl::flat_hash_map<dht::NodeId, dht::Contact> contacts;
  for (const auto& p : membership_.Peers()) contacts[p.contact.id] = p.contact;
  for (const dht::NodeId& target : targets) {
    const bool gone = membership_.IsDead(target);
    auto it = contacts.find(target);
    if (!gone &&
        (it == contacts.end() || membership_.State(target) != membership::PeerState::kAlive)) {
      continue;  // wait until it is back
    }
    std::vector<replication::Hint> batch = hints_->Oldest(target, kReplayBatch);
    // A hint of a write older than the tombstone grace could meet a replica
    // after a newer tombstone was purged everywhere and bring the value back:
    // drop it (anti-entropy compares what is still current).
    const int64_t now_ms = clock_->NowMillis();
    const int64_t grace_ms = absl::ToInt64Milliseconds(options_.tombstone_grace);
    size_t expired = 0;
    std::erase_if(batch, [&](const replication::Hint& h) {
      const int64_t written_ms =
          replication::HybridClock::PhysicalMillis(h.record.version.timestamp);
      if (written_ms + grace_ms > now_ms) return false;
      hints_->Remove(h);
      ++expired;
      return true;
    });
    Bump(counters_.hints_dropped, expired);
    if (batch.empty()) continue;
    if (gone) {
      // Its keys now belong to other nodes, which anti-entropy fills.
      for (const replication::Hint& h : batch) hints_->Remove(h);
      Bump(counters_.hints_dropped, batch.size());
      continue;
    }
    std::vector<StoreJob> jobs;
    for (const replication::Hint& h : batch) jobs.push_back({it->second, h.key, h.record});
    std::vector<absl::Status> results = StoreMany(jobs, kPushWindow);
    size_t replayed = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!results[i].ok()) continue;
      hints_->Remove(batch[i]);
      ++replayed;
    }
    Bump(counters_.hints_replayed, replayed);
    if (replayed > 0) {
      spdlog::info("replayed {} hints to {}", replayed, target.ShortHex());
    }
  }
}

std::vector<absl::Status> Node::StoreMany(const std::vector<StoreJob>& jobs, size_t window) {
  // Shared with the callbacks, which may still be unlocking it when the
  // waiter below wakes up and returns.
  struct State {
    absl::Mutex mu;
    std::vector<absl::Status> results ABSL_GUARDED_BY(mu);
    size_t in_flight ABSL_GUARDED_BY(mu) = 0;
  };
  auto state = std::make_shared<State>();
  {
    absl::MutexLock l(&state->mu);
    state->results.resize(jobs.size());
  }
  State* st = state.get();
  auto has_room = [st, window]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return st->in_flight < window; };
  auto all_done = [st]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return st->in_flight == 0; };
  for (size_t i = 0; i < jobs.size(); ++i) {
    {
      absl::MutexLock l(&state->mu);
      state->mu.Await(absl::Condition(&has_room));
      ++state->in_flight;
    }
    transport_->Store(jobs[i].to, jobs[i].key, jobs[i].record, [state, i](absl::Status s) {
      absl::MutexLock l(&state->mu);
      state->results[i] = std::move(s);
      --state->in_flight;
    });
  }
  absl::MutexLock l(&state->mu);
  state->mu.Await(absl::Condition(&all_done));
  return std::move(state->results);
}

std::vector<Node::Pushed> Node::PushToOwners(const std::vector<std::string>& keys,
                                             const std::vector<dht::Contact>& candidates,
                                             const SkipFn& skip) {
  const size_t n = static_cast<size_t>(options_.replicas);
  std::vector<StoreJob> jobs;
  std::vector<std::pair<size_t, size_t>> ranges;  // per pushed key: [first job, end)
  std::vector<Pushed> pushed;
  for (size_t i = 0; i < keys.size(); ++i) {
    absl::StatusOr<std::optional<storage::Record>> rec = engine_->Read(keys[i]);
    if (!rec.ok() || !*rec) continue;
    const std::vector<dht::Contact> owners =
        dht::ClosestAmong(candidates, dht::NodeId::FromKey(keys[i]), n);
    if (skip && skip(i, **rec, owners)) continue;
    const size_t first = jobs.size();
    for (const dht::Contact& o : owners) {
      if (membership_.IsAlive(o.id)) {
        jobs.push_back({o, keys[i], **rec});
      } else {
        SendHint(o, keys[i], **rec);
      }
    }
    ranges.push_back({first, jobs.size()});
    pushed.push_back({.index = i, .record = **std::move(rec), .acked = false});
  }
  const std::vector<absl::Status> results = StoreMany(jobs, kPushWindow);
  for (size_t j = 0; j < pushed.size(); ++j) {
    const auto [first, end] = ranges[j];
    pushed[j].acked = end > first && std::all_of(results.begin() + first, results.begin() + end,
                                                 [](const absl::Status& s) { return s.ok(); });
  }
  return pushed;
}

}  // namespace kv::node
