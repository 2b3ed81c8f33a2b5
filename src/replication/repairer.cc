#include "src/replication/repairer.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace kv::replication {

namespace {

constexpr size_t kReconcileKeys = 20000;            // keys in one Reconcile request
constexpr size_t kReconcileAnswerBytes = 2u << 20;  // records in one answer
constexpr size_t kDigestWireBytes = kDigestBuckets * 8 + 72;
constexpr size_t kRootWireBytes = 72;  // sender's NodeInfo and the root

void Bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

size_t KeyVersionBytes(const KeyVersion& kv) {
  return kv.key.size() + kv.version.node_id.size() + 16;
}

uint32_t BucketOfKey(const std::string& key) {
  return static_cast<uint32_t>(BucketOf(dht::NodeId::FromKey(key)));
}

}  // namespace

Repairer::Repairer(Options options, storage::Engine* engine, PeerTransport* transport,
                   util::Executor* executor, const membership::Membership* membership,
                   const util::Clock* clock, const OwnerPush* push, CandidatesFn owner_candidates,
                   AdmitFn admit)
    : options_(std::move(options)),
      engine_(engine),
      transport_(transport),
      executor_(executor),
      membership_(membership),
      clock_(clock),
      push_(push),
      owner_candidates_(std::move(owner_candidates)),
      admit_(std::move(admit)) {}

bool Repairer::PastGrace(const storage::Record& rec, int64_t now_ms) const {
  // An expired record counts as the tombstone the purge will make of it.
  return storage::PurgeActionFor(rec.tombstone || rec.ExpiredAt(now_ms), rec.version.timestamp,
                                 rec.expires_at_ms, now_ms,
                                 options_.tombstone_grace) == storage::PurgeAction::kErase;
}

void Repairer::Purge(int64_t now_ms) {
  absl::StatusOr<storage::PurgeStats> p = engine_->Purge(now_ms, options_.tombstone_grace);
  if (!p.ok()) {
    spdlog::warn("tombstone purge failed: {}", p.status().ToString());
    return;
  }
  Bump(counters_.purged_expired, p->expired);
  Bump(counters_.purged_tombstones, p->tombstones_dropped);
}

Repairer::CompleteRound Repairer::last_complete_round() const {
  absl::MutexLock l(&complete_mu_);
  return last_complete_;
}

void Repairer::Round(std::function<void()> done) {
  Bump(counters_.rounds);
  const int64_t now_ms = clock_->NowMillis();
  const absl::Time started = clock_->Now();
  round_incomplete_ = false;
  Purge(now_ms);

  auto candidates = std::make_shared<const std::vector<dht::Contact>>(owner_candidates_());
  // Whether this round reached every co-owner in full, once it is over.
  done = [this, started, known = candidates->size(), done = std::move(done)] {
    if (!round_incomplete_ && !stopping_) {
      absl::MutexLock l(&complete_mu_);
      last_complete_ = {started, known};
    }
    done();
  };
  const size_t n = options_.replicas;
  struct PeerDigest {
    dht::Contact contact;
    std::shared_ptr<Digest> digest = std::make_shared<Digest>();
  };
  absl::flat_hash_map<dht::NodeId, PeerDigest> digests;
  auto not_mine = std::make_shared<std::vector<KeyVersion>>();
  uint64_t tombstones = 0;
  engine_->ForEach([&](std::string_view key, const storage::Record& rec) {
    if (rec.tombstone) ++tombstones;
    if (PastGrace(rec, now_ms)) return;
    const dht::NodeId id = dht::NodeId::FromKey(key);
    const std::vector<dht::Contact> owners = dht::ClosestAmong(*candidates, id, n);
    if (!dht::ContainsNode(owners, options_.self)) {
      not_mine->push_back({std::string(key), rec.version, rec.tombstone});
      return;
    }
    const uint64_t h = RecordHash(key, rec.version);
    const size_t bucket = BucketOf(id);
    for (const dht::Contact& o : owners) {
      if (o.id == options_.self) continue;
      PeerDigest& d = digests[o.id];
      d.contact = o;
      DigestAdd(*d.digest, bucket, h);
    }
  });
  counters_.tombstones_seen.store(tombstones, std::memory_order_relaxed);
  // Likely co-owners this node holds nothing for still get a digest (all
  // zero): they may hold keys this node lost. Keys this node owns lie near
  // its own ID, and so do their other owners.
  for (const dht::Contact& c : dht::ClosestAmong(*candidates, options_.self, 2 * n)) {
    if (c.id != options_.self && !digests.contains(c.id)) digests[c.id].contact = c;
  }
  // By ID, not in the hash map's order (which varies from process to
  // process): a simulated run then sends the same messages every time.
  auto peers = std::make_shared<std::vector<PeerDigest>>();
  for (auto& [id, d] : digests) peers->push_back(std::move(d));
  std::sort(peers->begin(), peers->end(),
            [](const PeerDigest& a, const PeerDigest& b) { return a.contact.id < b.contact.id; });
  util::Sequentially(
      executor_, peers->size(),
      [this, peers, candidates](size_t i, std::function<void(bool)> next) {
        if (stopping_) return next(false);
        const PeerDigest& d = (*peers)[i];
        if (membership_->State(d.contact.id) != membership::PeerState::kAlive) {
          round_incomplete_ = true;
          return next(true);
        }
        SyncWith(d.contact, d.digest, candidates, [next = std::move(next)] { next(true); });
      },
      [this, not_mine, candidates, done = std::move(done)]() mutable {
        if (stopping_ || not_mine->empty()) return done();
        HandOff(not_mine, candidates, std::move(done));
      });
}

void Repairer::SyncWith(const dht::Contact& peer, std::shared_ptr<const Digest> mine,
                        std::shared_ptr<const std::vector<dht::Contact>> candidates,
                        std::function<void()> done) {
  // The roots first: replicas that agree stop here.
  Bump(counters_.exchanges);
  Bump(counters_.bytes_sent, kRootWireBytes);
  auto on_root = [this, peer, mine, candidates,
                  done = std::move(done)](absl::StatusOr<DigestAnswer> root) mutable {
    if (!root.ok()) {
      spdlog::debug("anti-entropy with {} failed: {}", peer.address, root.status().ToString());
      round_incomplete_ = true;
      return done();
    }
    Bump(counters_.bytes_received, 4);
    if (root->root_matches || stopping_) return done();
    Bump(counters_.bytes_sent, kDigestWireBytes);
    auto on_digest = [this, peer, candidates,
                      done = std::move(done)](absl::StatusOr<DigestAnswer> answer) mutable {
      if (!answer.ok()) {
        spdlog::debug("anti-entropy with {} failed: {}", peer.address, answer.status().ToString());
        round_incomplete_ = true;
        return done();
      }
      Bump(counters_.bytes_received, answer->differing.size() * 4 + 4);
      if (answer->differing.empty()) return done();
      Bump(counters_.buckets_differing, answer->differing.size());
      Reconcile(peer, answer->differing, *candidates, std::move(done));
    };
    transport_->SyncDigest(peer, *mine, /*root_only=*/false,
                           util::On<absl::StatusOr<DigestAnswer>>(executor_, std::move(on_digest)));
  };
  transport_->SyncDigest(peer, *mine, /*root_only=*/true,
                         util::On<absl::StatusOr<DigestAnswer>>(executor_, std::move(on_root)));
}

void Repairer::Reconcile(const dht::Contact& peer, const std::vector<uint32_t>& differing,
                         const std::vector<dht::Contact>& candidates, std::function<void()> done) {
  // This node's records in the differing buckets that both own.
  const absl::flat_hash_set<uint32_t> buckets(differing.begin(), differing.end());
  std::vector<KeyVersion> keys;
  ForEachShared(peer.id, candidates,
                [&](std::string_view key, const storage::Record& rec, const dht::NodeId& id) {
                  if (buckets.contains(static_cast<uint32_t>(BucketOf(id)))) {
                    keys.push_back({std::string(key), rec.version, rec.tombstone});
                  }
                });
  // One request per chunk of keys; a chunk ends at a bucket boundary so that
  // the peer compares whole buckets.
  // Keys within a bucket in key order, not the engine's scan order (a hash
  // order that differs between processes), so that a simulated run replays.
  std::sort(keys.begin(), keys.end(), [](const KeyVersion& a, const KeyVersion& b) {
    const size_t ba = BucketOfKey(a.key), bb = BucketOfKey(b.key);
    return ba != bb ? ba < bb : a.key < b.key;
  });
  struct Chunk {
    std::vector<uint32_t> buckets;
    std::vector<KeyVersion> keys;
  };
  auto chunks = std::make_shared<std::vector<Chunk>>();
  size_t next_key = 0;
  size_t next_bucket = 0;
  while (next_bucket < differing.size()) {
    Chunk chunk;
    while (next_bucket < differing.size() &&
           (chunk.keys.size() < kReconcileKeys || chunk.buckets.empty())) {
      const uint32_t b = differing[next_bucket++];
      chunk.buckets.push_back(b);
      while (next_key < keys.size() && BucketOfKey(keys[next_key].key) <= b) {
        chunk.keys.push_back(std::move(keys[next_key++]));
      }
    }
    chunks->push_back(std::move(chunk));
  }
  util::Sequentially(
      executor_, chunks->size(),
      [this, peer, chunks](size_t i, std::function<void(bool)> next) {
        if (stopping_) return next(false);
        const Chunk& chunk = (*chunks)[i];
        size_t sent_bytes = 64 + chunk.buckets.size() * 4;
        for (const KeyVersion& kv : chunk.keys) sent_bytes += KeyVersionBytes(kv);
        Bump(counters_.bytes_sent, sent_bytes);
        const size_t n_buckets = chunk.buckets.size();
        auto on_plan = [this, peer, n_buckets,
                        next = std::move(next)](absl::StatusOr<ReconcilePlan> plan) {
          if (!plan.ok()) {
            spdlog::debug("reconcile with {} failed: {}", peer.address, plan.status().ToString());
            round_incomplete_ = true;
            return next(false);
          }
          if (plan->truncated) round_incomplete_ = true;  // the next round continues
          Exchange(peer, n_buckets, *std::move(plan), [next] { next(true); });
        };
        transport_->Reconcile(
            peer, chunk.buckets, chunk.keys,
            util::On<absl::StatusOr<ReconcilePlan>>(executor_, std::move(on_plan)));
      },
      std::move(done));
}

void Repairer::Exchange(const dht::Contact& peer, size_t buckets, ReconcilePlan plan,
                        std::function<void()> done) {
  // Newer records from the peer: apply here.
  size_t pulled = 0;
  for (KeyRecord& r : plan.newer) {
    Bump(counters_.bytes_received, RecordWireBytes(r.key, r.record));
    if (!admit_(peer, r.record.version).ok()) continue;
    absl::StatusOr<bool> applied = engine_->Apply(r.key, r.record);
    if (applied.ok() && *applied) ++pulled;
  }
  // Records the peer lacks: push them.
  std::vector<StoreJob> jobs;
  for (const std::string& k : plan.wanted) {
    Bump(counters_.bytes_received, k.size() + 2);
    absl::StatusOr<std::optional<storage::Record>> rec = engine_->Read(k);
    if (!rec.ok() || !*rec) continue;
    Bump(counters_.bytes_sent, RecordWireBytes(k, **rec));
    jobs.push_back({peer, k, **std::move(rec)});
  }
  StoreMany(
      transport_, executor_, std::move(jobs), OwnerPush::kWindow,
      [this, peer, buckets, pulled, done = std::move(done)](std::vector<absl::Status> results) {
        const size_t pushed = std::count_if(results.begin(), results.end(),
                                            [](const absl::Status& s) { return s.ok(); });
        Bump(counters_.keys_pulled, pulled);
        Bump(counters_.keys_pushed, pushed);
        if (pulled + pushed > 0) {
          spdlog::info("anti-entropy with {}: {} buckets differed; pulled {} keys, pushed {}",
                       peer.id.ShortHex(), buckets, pulled, pushed);
        }
        done();
      });
}

void Repairer::HandOff(std::shared_ptr<const std::vector<KeyVersion>> keys,
                       std::shared_ptr<const std::vector<dht::Contact>> candidates,
                       std::function<void()> done) {
  // Records are pushed in batches; a record is dropped here only once every
  // owner has acknowledged it, and only if nobody wrote it meanwhile.
  constexpr size_t kBatch = 512;
  auto dropped = std::make_shared<std::atomic<size_t>>(0);
  const size_t batches = (keys->size() + kBatch - 1) / kBatch;
  util::Sequentially(
      executor_, batches,
      [this, keys, candidates, dropped](size_t b, std::function<void(bool)> next) {
        if (stopping_) return next(false);
        const size_t start = b * kBatch;
        const size_t end = std::min(keys->size(), start + kBatch);
        std::vector<std::string> batch;
        for (size_t i = start; i < end; ++i) batch.push_back((*keys)[i].key);
        // A key written since the scan, or with an owner that is not alive,
        // keeps its copy for now.
        auto skip = [&](size_t i, const storage::Record& rec,
                        const std::vector<dht::Contact>& owners) {
          return rec.version != (*keys)[start + i].version || owners.empty() ||
                 std::any_of(owners.begin(), owners.end(), [&](const dht::Contact& o) {
                   return o.id == options_.self ||
                          membership_->State(o.id) != membership::PeerState::kAlive;
                 });
        };
        push_->Push(batch, *candidates, skip,
                    [this, keys, start, dropped,
                     next = std::move(next)](std::vector<OwnerPush::Pushed> pushed) {
                      for (const OwnerPush::Pushed& p : pushed) {
                        const KeyVersion& kv = (*keys)[start + p.index];
                        Bump(counters_.handoff_keys_pushed);
                        if (!p.acked) continue;
                        Bump(counters_.handoff_bytes, RecordWireBytes(kv.key, p.record));
                        absl::StatusOr<bool> erased = engine_->EraseIf(kv.key, kv.version);
                        if (erased.ok() && *erased) ++*dropped;
                      }
                      next(true);
                    });
      },
      [this, dropped, done = std::move(done)] {
        Bump(counters_.handoff_keys_dropped, *dropped);
        if (*dropped > 0) {
          spdlog::info("handed off {} keys this node no longer owns to their owners",
                       dropped->load());
        }
        done();
      });
}

void Repairer::ForEachShared(const dht::NodeId& peer, const std::vector<dht::Contact>& candidates,
                             const std::function<void(std::string_view, const storage::Record&,
                                                      const dht::NodeId&)>& fn) const {
  const size_t n = options_.replicas;
  const int64_t now_ms = clock_->NowMillis();
  engine_->ForEach([&](std::string_view key, const storage::Record& rec) {
    if (PastGrace(rec, now_ms)) return;
    const dht::NodeId id = dht::NodeId::FromKey(key);
    const std::vector<dht::Contact> owners = dht::ClosestAmong(candidates, id, n);
    if (dht::ContainsNode(owners, options_.self) && dht::ContainsNode(owners, peer)) {
      fn(key, rec, id);
    }
  });
}

bool Repairer::QueueRequest() {
  absl::MutexLock l(&serve_mu_);
  if (requests_ >= kMaxRequests) return false;
  ++requests_;
  return true;
}

void Repairer::Serve(std::function<void()> work) {
  auto run = [this, work = std::move(work)] {
    work();
    absl::MutexLock l(&serve_mu_);
    --requests_;
  };
  if (stopping_) return run();
  executor_->Schedule(std::move(run));
}

void Repairer::Drain() {
  absl::MutexLock l(&serve_mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(serve_mu_) { return requests_ == 0; };
  serve_mu_.Await(absl::Condition(&idle));
}

absl::Status Repairer::Refused() const {
  return absl::ResourceExhaustedError(
      absl::StrCat("this node already has ", kMaxRequests,
                   " anti-entropy requests queued or running; the next repair round retries"));
}

void Repairer::ServeDigest(const dht::Contact& from, uint64_t root, std::optional<Digest> theirs,
                           std::function<void(absl::StatusOr<DigestAnswer>)> done) {
  if (!QueueRequest()) return done(Refused());
  Serve([this, from, root, theirs, done = std::move(done)] {
    Digest mine{};
    ForEachShared(from.id, owner_candidates_(),
                  [&](std::string_view key, const storage::Record& rec, const dht::NodeId& id) {
                    DigestAdd(mine, BucketOf(id), RecordHash(key, rec.version));
                  });
    DigestAnswer answer{.root_matches = DigestRoot(mine) == root};
    if (theirs && !answer.root_matches) answer.differing = DifferingBuckets(*theirs, mine);
    done(std::move(answer));
  });
}

void Repairer::ServeReconcile(const dht::Contact& from, std::vector<uint32_t> buckets,
                              std::vector<KeyVersion> keys,
                              std::function<void(absl::StatusOr<ReconcilePlan>)> done) {
  if (!QueueRequest()) return done(Refused());
  Serve([this, from, buckets = std::move(buckets), keys = std::move(keys), done = std::move(done)] {
    const absl::flat_hash_set<uint32_t> wanted_buckets(buckets.begin(), buckets.end());
    const std::vector<dht::Contact> candidates = owner_candidates_();
    std::vector<KeyRecord> mine;
    ForEachShared(from.id, candidates,
                  [&](std::string_view key, const storage::Record& rec, const dht::NodeId& id) {
                    if (wanted_buckets.contains(static_cast<uint32_t>(BucketOf(id)))) {
                      mine.push_back({std::string(key), rec});
                    }
                  });
    // In key order, not scan order: the records sent back (and the ones cut
    // at the byte budget) are then the same in every process.
    std::sort(mine.begin(), mine.end(),
              [](const KeyRecord& a, const KeyRecord& b) { return a.key < b.key; });
    ReconcilePlan plan = PlanReconcile(keys, std::move(mine), kReconcileAnswerBytes);
    // Ask only for keys this node owns and lacks: it may hold a key outside
    // the shared set when the two nodes' views of the cluster differ.
    absl::flat_hash_map<std::string_view, const storage::Version*> theirs;
    for (const KeyVersion& kv : keys) theirs[kv.key] = &kv.version;
    std::erase_if(plan.wanted, [&](const std::string& k) {
      const dht::NodeId id = dht::NodeId::FromKey(k);
      if (!dht::ContainsNode(dht::ClosestAmong(candidates, id, options_.replicas), options_.self)) {
        return true;
      }
      absl::StatusOr<std::optional<storage::Record>> held = engine_->Read(k);
      auto it = theirs.find(k);
      return held.ok() && *held && it != theirs.end() && *it->second <= (*held)->version;
    });
    Bump(counters_.keys_served, plan.newer.size());
    done(std::move(plan));
  });
}

void Repairer::AppendStats(std::vector<std::pair<std::string, uint64_t>>* out) const {
  auto v = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  const Counters& c = counters_;
  out->insert(out->end(), {{"anti_entropy_buckets_differing", v(c.buckets_differing)},
                           {"anti_entropy_bytes_received", v(c.bytes_received)},
                           {"anti_entropy_bytes_sent", v(c.bytes_sent)},
                           {"anti_entropy_exchanges", v(c.exchanges)},
                           {"anti_entropy_keys_pulled", v(c.keys_pulled)},
                           {"anti_entropy_keys_pushed", v(c.keys_pushed)},
                           {"anti_entropy_keys_served", v(c.keys_served)},
                           {"anti_entropy_rounds", v(c.rounds)},
                           {"tombstones", v(c.tombstones_seen)},
                           {"handoff_bytes", v(c.handoff_bytes)},
                           {"handoff_keys_dropped", v(c.handoff_keys_dropped)},
                           {"handoff_keys_pushed", v(c.handoff_keys_pushed)},
                           {"purged_expired", v(c.purged_expired)},
                           {"purged_tombstones", v(c.purged_tombstones)}});
}

}  // namespace kv::replication
