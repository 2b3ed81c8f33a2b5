#include "src/replication/hinted_handoff.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "src/replication/hlc.h"
#include "src/replication/owner_push.h"

namespace kv::replication {

namespace {

// Hints replayed per target per call of Replay.
constexpr size_t kReplayBatch = 256;

void Bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
uint64_t Load(const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); }

}  // namespace

HintedHandoff::HintedHandoff(Options options, HintStore* store, PeerTransport* transport,
                             util::Executor* executor, const membership::Membership* membership,
                             const util::Clock* clock, util::ThreadPool* storage_pool,
                             CandidatesFn owner_candidates)
    : options_(std::move(options)),
      store_(store),
      transport_(transport),
      executor_(executor),
      membership_(membership),
      clock_(clock),
      storage_pool_(storage_pool),
      owner_candidates_(std::move(owner_candidates)) {}

void HintedHandoff::Send(const dht::Contact& target, const std::string& key,
                         const storage::Record& rec) {
  if (options_.max_hints_bytes == 0) return;  // hints are off: anti-entropy repairs
  const dht::NodeId key_id = dht::NodeId::FromKey(key);
  const size_t n = options_.replicas;
  const std::vector<dht::Contact> owners = dht::ClosestAmong(owner_candidates_(), key_id, n);
  std::optional<dht::Contact> holder;
  for (dht::Contact& c : membership_->ClosestLive(key_id, n + 8)) {
    if (!dht::ContainsNode(owners, c.id) && c.id != target.id) {
      holder = std::move(c);
      break;
    }
  }
  if (!holder || holder->id == options_.self) return Keep(target.id, key, rec);
  Bump(sent_);
  transport_->StoreHint(*holder, target.id, key, rec,
                        [this, target = target.id, key, rec](absl::Status s) {
                          // The holder failed too: keep the hint here instead.
                          if (!s.ok()) Keep(target, key, rec);
                        });
}

void HintedHandoff::Keep(const dht::NodeId& target, const std::string& key,
                         const storage::Record& rec) {
  auto keep = [this, target, key, rec] {
    if (absl::Status s = store_->Add(target, key, rec); !s.ok()) {
      spdlog::warn("could not keep a hint for {}: {}", target.ShortHex(), s.ToString());
      return;
    }
    Bump(kept_);
  };
  if (storage_pool_) {
    storage_pool_->Schedule(std::move(keep));
  } else {
    keep();
  }
}

void HintedHandoff::Accept(const dht::NodeId& target, const std::string& key, storage::Record rec,
                           std::function<void(absl::Status)> done) {
  if (!membership_->Find(target)) {
    return done(absl::FailedPreconditionError(
        absl::StrCat("hint_for names node ", target.ToHex(),
                     ", which this node does not know; hints are kept only for members")));
  }
  auto keep = [this, target, key, rec = std::move(rec), done = std::move(done)] {
    absl::Status s = store_->Add(target, key, rec);
    if (s.ok()) Bump(kept_);
    done(s);
  };
  if (storage_pool_) {
    storage_pool_->Schedule(std::move(keep));
  } else {
    keep();
  }
}

void HintedHandoff::Replay(std::function<void()> done) {
  auto targets = std::make_shared<std::vector<dht::NodeId>>(store_->Targets());
  // In ID order, not the store's hash order (which varies from process to
  // process): a simulated run then replays the same way every time.
  std::sort(targets->begin(), targets->end());
  util::Sequentially(
      executor_, targets->size(),
      [this, targets](size_t i, std::function<void(bool)> next) {
        ReplayTarget((*targets)[i], [next = std::move(next)] { next(true); });
      },
      std::move(done));
}

void HintedHandoff::ReplayTarget(const dht::NodeId& target, std::function<void()> done) {
  const bool gone = membership_->IsDead(target);
  std::optional<dht::Contact> contact = membership_->Find(target);
  if (!gone && (!contact || membership_->State(target) != membership::PeerState::kAlive)) {
    return done();  // wait until it is back
  }
  std::vector<Hint> batch = store_->Oldest(target, kReplayBatch);
  // A hint of a write older than the tombstone grace could meet a replica
  // after a newer tombstone was purged everywhere and bring the value back:
  // drop it (anti-entropy compares what is still current).
  const int64_t now_ms = clock_->NowMillis();
  const int64_t grace_ms = absl::ToInt64Milliseconds(options_.tombstone_grace);
  size_t expired = 0;
  std::erase_if(batch, [&](const Hint& h) {
    const int64_t written_ms = HybridClock::PhysicalMillis(h.record.version.timestamp);
    if (written_ms + grace_ms > now_ms) return false;
    store_->Remove(h);
    ++expired;
    return true;
  });
  Bump(dropped_, expired);
  if (batch.empty()) return done();
  if (gone) {
    // Its keys now belong to other nodes, which anti-entropy fills.
    for (const Hint& h : batch) store_->Remove(h);
    Bump(dropped_, batch.size());
    return done();
  }
  std::vector<StoreJob> jobs;
  for (const Hint& h : batch) jobs.push_back({*contact, h.key, h.record});
  StoreMany(transport_, executor_, std::move(jobs), OwnerPush::kWindow,
            [this, target, batch = std::move(batch),
             done = std::move(done)](std::vector<absl::Status> results) {
              size_t replayed = 0;
              for (size_t i = 0; i < batch.size(); ++i) {
                if (!results[i].ok()) continue;
                store_->Remove(batch[i]);
                ++replayed;
              }
              Bump(replayed_, replayed);
              if (replayed > 0)
                spdlog::info("replayed {} hints to {}", replayed, target.ShortHex());
              done();
            });
}

void HintedHandoff::AppendStats(std::vector<std::pair<std::string, uint64_t>>* out) const {
  const HintStore::Stats h = store_->stats();
  out->insert(out->end(), {{"hints_bytes", h.bytes},
                           {"hints_dropped", Load(dropped_) + h.evicted},
                           {"hints_kept", Load(kept_)},
                           {"hints_pending", h.hints},
                           {"hints_replayed", Load(replayed_)},
                           {"hints_sent", Load(sent_)}});
}

}  // namespace kv::replication
