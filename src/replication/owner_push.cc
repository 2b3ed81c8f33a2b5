#include "src/replication/owner_push.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "src/replication/hinted_handoff.h"

namespace kv::replication {

std::vector<absl::Status> StoreMany(PeerTransport* transport, const std::vector<StoreJob>& jobs,
                                    size_t window) {
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
    transport->Store(jobs[i].to, jobs[i].key, jobs[i].record, [state, i](absl::Status s) {
      absl::MutexLock l(&state->mu);
      state->results[i] = std::move(s);
      --state->in_flight;
    });
  }
  absl::MutexLock l(&state->mu);
  state->mu.Await(absl::Condition(&all_done));
  return std::move(state->results);
}

std::vector<OwnerPush::Pushed> OwnerPush::Push(const std::vector<std::string>& keys,
                                               const std::vector<dht::Contact>& candidates,
                                               const SkipFn& skip) const {
  std::vector<StoreJob> jobs;
  std::vector<std::pair<size_t, size_t>> ranges;  // per pushed key: [first job, end)
  std::vector<Pushed> pushed;
  for (size_t i = 0; i < keys.size(); ++i) {
    absl::StatusOr<std::optional<storage::Record>> rec = engine_->Read(keys[i]);
    if (!rec.ok() || !*rec) continue;
    const std::vector<dht::Contact> owners =
        dht::ClosestAmong(candidates, dht::NodeId::FromKey(keys[i]), replicas_);
    if (skip && skip(i, **rec, owners)) continue;
    const size_t first = jobs.size();
    for (const dht::Contact& o : owners) {
      if (membership_->IsAlive(o.id)) {
        jobs.push_back({o, keys[i], **rec});
      } else {
        hints_->Send(o, keys[i], **rec);
      }
    }
    ranges.push_back({first, jobs.size()});
    pushed.push_back({.index = i, .record = **std::move(rec), .acked = false});
  }
  const std::vector<absl::Status> results = StoreMany(transport_, jobs, kWindow);
  for (size_t j = 0; j < pushed.size(); ++j) {
    const auto [first, end] = ranges[j];
    pushed[j].acked = end > first && std::all_of(results.begin() + first, results.begin() + end,
                                                 [](const absl::Status& s) { return s.ok(); });
  }
  return pushed;
}

}  // namespace kv::replication
