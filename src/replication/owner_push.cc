#include "src/replication/owner_push.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "src/replication/hinted_handoff.h"

namespace kv::replication {

namespace {

// One StoreMany call, shared with the transport's callbacks.
struct StoreManyState {
  PeerTransport* transport;
  util::Executor* executor;
  size_t window;
  std::vector<StoreJob> jobs;
  std::function<void(std::vector<absl::Status>)> done;

  absl::Mutex mu;
  std::vector<absl::Status> results ABSL_GUARDED_BY(mu);
  size_t next ABSL_GUARDED_BY(mu) = 0;
  size_t in_flight ABSL_GUARDED_BY(mu) = 0;
  // Pump is running somewhere: a callback that completes inside it asks it
  // to look again instead of recursing.
  bool pumping ABSL_GUARDED_BY(mu) = false;
  bool again ABSL_GUARDED_BY(mu) = false;
  bool finished ABSL_GUARDED_BY(mu) = false;
};

// Starts jobs while there is room in the window; calls `done` once all
// ended. Runs on whichever thread called it: the first caller, or a Store
// callback. One caller pumps at a time; a callback that arrives meanwhile
// (possibly inside Store itself) asks it to look again.
void Pump(const std::shared_ptr<StoreManyState>& st) {
  {
    absl::MutexLock l(&st->mu);
    if (st->pumping) {
      st->again = true;
      return;
    }
    st->pumping = true;
  }
  while (true) {
    std::vector<size_t> launch;
    {
      absl::MutexLock l(&st->mu);
      while (st->in_flight < st->window && st->next < st->jobs.size()) {
        launch.push_back(st->next++);
        ++st->in_flight;
      }
      if (launch.empty() && !st->again) {
        st->pumping = false;
        const bool all_ended = st->in_flight == 0 && st->next == st->jobs.size();
        if (st->finished || !all_ended) return;
        st->finished = true;
        break;
      }
      st->again = false;
    }
    for (size_t i : launch) {
      const StoreJob& job = st->jobs[i];
      st->transport->Store(job.to, job.key, job.record, [st, i](absl::Status s) {
        {
          absl::MutexLock l(&st->mu);
          st->results[i] = std::move(s);
          --st->in_flight;
        }
        Pump(st);
      });
    }
  }
  std::vector<absl::Status> results;
  {
    absl::MutexLock l(&st->mu);
    results = std::move(st->results);
  }
  st->executor->Schedule(
      [st, results = std::move(results)]() mutable { st->done(std::move(results)); });
}

}  // namespace

void StoreMany(PeerTransport* transport, util::Executor* executor, std::vector<StoreJob> jobs,
               size_t window, std::function<void(std::vector<absl::Status>)> done) {
  auto st = std::make_shared<StoreManyState>();
  st->transport = transport;
  st->executor = executor;
  st->window = std::max<size_t>(window, 1);
  st->jobs = std::move(jobs);
  st->done = std::move(done);
  {
    absl::MutexLock l(&st->mu);
    st->results.resize(st->jobs.size());
  }
  Pump(st);
}

void OwnerPush::Push(const std::vector<std::string>& keys,
                     const std::vector<dht::Contact>& candidates, const SkipFn& skip,
                     std::function<void(std::vector<Pushed>)> done) const {
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
  StoreMany(transport_, executor_, std::move(jobs), kWindow,
            [ranges = std::move(ranges), pushed = std::move(pushed),
             done = std::move(done)](std::vector<absl::Status> results) mutable {
              for (size_t j = 0; j < pushed.size(); ++j) {
                const auto [first, end] = ranges[j];
                pushed[j].acked =
                    end > first && std::all_of(results.begin() + first, results.begin() + end,
                                               [](const absl::Status& s) { return s.ok(); });
              }
              done(std::move(pushed));
            });
}

}  // namespace kv::replication
