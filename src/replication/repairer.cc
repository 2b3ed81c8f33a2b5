#include "src/replication/repairer.h"

#include <algorithm>
#include <map>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "spdlog/spdlog.h"

namespace kv::replication {

namespace {

constexpr size_t kReconcileKeys = 20000;  // keys in one Reconcile request
constexpr size_t kDigestWireBytes = kDigestBuckets * 8 + 72;
constexpr size_t kRootWireBytes = 72;  // sender's NodeInfo and the root

void Bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

size_t KeyVersionBytes(const KeyVersion& kv) {
  return kv.key.size() + kv.version.node_id.size() + 16;
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
  if (p->scanned) counters_.tombstones_seen.store(p->tombstones_kept, std::memory_order_relaxed);
}

Repairer::CompleteRound Repairer::last_complete_round() const {
  absl::MutexLock l(&complete_mu_);
  return last_complete_;
}

namespace {

// A fingerprint of a view of the cluster: the owner candidates' IDs.
uint64_t ViewOf(const std::vector<dht::Contact>& candidates) {
  std::vector<dht::NodeId> ids;
  ids.reserve(candidates.size());
  for (const dht::Contact& c : candidates) ids.push_back(c.id);
  std::sort(ids.begin(), ids.end());
  uint64_t h = 0x9e3779b97f4a7c15ULL;
  for (const dht::NodeId& id : ids) {
    for (uint8_t b : id.bytes()) h = (h ^ b) * 0x100000001b3ULL;
  }
  return h;
}

constexpr size_t kTreeRangeWireBytes = 16;  // prefix, depth, hash and framing

}  // namespace

struct Repairer::TreeWalk {
  std::vector<Probe> level;
  std::vector<LeafDiff> leaves;
  bool failed = false;
  bool legacy = false;     // the peer does not answer SyncTree
  bool rechecked = false;  // `level` is the second look at leaves that differed
};

void Repairer::Round(std::function<void()> done) {
  Bump(counters_.rounds);
  const int64_t now_ms = clock_->NowMillis();
  const absl::Time started = clock_->Now();
  round_incomplete_ = false;
  Purge(now_ms);

  Candidates candidates = std::make_shared<const std::vector<dht::Contact>>(owner_candidates_());
  // Whether this round reached every co-owner in full, once it is over.
  done = [this, started, known = candidates->size(), done = std::move(done)] {
    if (!round_incomplete_ && !stopping_) {
      absl::MutexLock l(&complete_mu_);
      last_complete_ = {started, known};
    }
    done();
  };
  const uint64_t view = ViewOf(*candidates);
  auto ranges = std::make_shared<const std::vector<OwnedRange>>(
      RangesOwnedBy(*candidates, options_.self, options_.replicas));
  // Each co-owner and the ranges both own, by ID (a simulated run then
  // sends the same messages every time).
  absl::flat_hash_map<dht::NodeId, const dht::Contact*> contacts;
  for (const dht::Contact& c : *candidates) contacts[c.id] = &c;
  std::map<dht::NodeId, std::vector<Probe>> shared;
  for (const OwnedRange& r : *ranges) {
    for (const dht::NodeId& o : r.owners) {
      if (o != options_.self) shared[o].push_back({r.prefix, r.depth});
    }
  }
  struct PeerProbes {
    dht::Contact contact;
    std::vector<Probe> probes;
  };
  auto peers = std::make_shared<std::vector<PeerProbes>>();
  for (auto& [id, probes] : shared) peers->push_back({*contacts.at(id), std::move(probes)});
  util::Sequentially(
      executor_, peers->size(),
      [this, peers, candidates, view](size_t i, std::function<void(bool)> next) {
        if (stopping_) return next(false);
        PeerProbes& p = (*peers)[i];
        if (membership_->State(p.contact.id) != membership::PeerState::kAlive) {
          round_incomplete_ = true;
          return next(true);
        }
        SyncTreeWith(p.contact, std::move(p.probes), candidates, view,
                     [next = std::move(next)] { next(true); });
      },
      [this, ranges, candidates, view, done = std::move(done)]() mutable {
        if (stopping_) return done();
        HandOffStrays(ranges, candidates, view, std::move(done));
      });
}

void Repairer::SyncTreeWith(const dht::Contact& peer, std::vector<Probe> probes,
                            Candidates candidates, uint64_t view, std::function<void()> done) {
  Bump(counters_.exchanges);
  auto walk = std::make_shared<TreeWalk>();
  walk->level = std::move(probes);
  Descend(peer, std::move(walk), std::move(candidates), view, std::move(done));
}

void Repairer::Descend(const dht::Contact& peer, std::shared_ptr<TreeWalk> walk,
                       Candidates candidates, uint64_t view, std::function<void()> done) {
  if (walk->level.empty()) {
    return ReconcileLeaves(peer, std::move(walk->leaves), std::move(candidates), view,
                           std::move(done), walk->rechecked);
  }
  auto next_level = std::make_shared<std::vector<Probe>>();
  const size_t requests = (walk->level.size() + kMaxTreeRanges - 1) / kMaxTreeRanges;
  util::Sequentially(
      executor_, requests,
      [this, peer, walk, next_level](size_t r, std::function<void(bool)> next) {
        if (stopping_) return next(false);
        const storage::DigestTree& tree = engine_->digest_tree();
        const size_t begin = r * kMaxTreeRanges;
        const size_t end = std::min(walk->level.size(), begin + kMaxTreeRanges);
        std::vector<TreeRange> ranges;
        ranges.reserve(end - begin);
        for (size_t i = begin; i < end; ++i) {
          const Probe& p = walk->level[i];
          ranges.push_back({p.prefix, p.depth, tree.Hash(p.prefix, p.depth)});
        }
        Bump(counters_.bytes_sent, kRootWireBytes + ranges.size() * kTreeRangeWireBytes);
        auto on_answer = [this, peer, walk, next_level, begin, end, ranges,
                          next = std::move(next)](absl::StatusOr<TreeAnswer> answer) {
          if (answer.ok() && answer->hashes.size() != answer->differing.size()) {
            answer = absl::InternalError("a tree answer without a hash for each range");
          }
          if (!answer.ok()) {
            if (absl::IsUnimplemented(answer.status())) {
              walk->legacy = true;
            } else {
              spdlog::debug("anti-entropy with {} failed: {}", peer.address,
                            answer.status().ToString());
              walk->failed = true;
            }
            return next(false);
          }
          Bump(counters_.bytes_received, answer->differing.size() * 12 + 4);
          for (size_t d = 0; d < answer->differing.size(); ++d) {
            const uint32_t i = answer->differing[d];
            if (i >= end - begin) continue;
            const Probe& p = walk->level[begin + i];
            if (p.depth >= storage::kTreeDepth) {
              walk->leaves.push_back({p.prefix, ranges[i].hash, answer->hashes[d]});
              continue;
            }
            // The children at the next depth the tree stores (a multiple of 4).
            const int depth = std::min(storage::kTreeDepth, (p.depth / 4 + 1) * 4);
            const uint32_t children = uint32_t{1} << (depth - p.depth);
            for (uint32_t c = 0; c < children; ++c) {
              next_level->push_back({(p.prefix << (depth - p.depth)) | c, depth});
            }
          }
          next(true);
        };
        transport_->SyncTree(peer, ranges,
                             util::On<absl::StatusOr<TreeAnswer>>(executor_, std::move(on_answer)));
      },
      [this, peer, walk, next_level, candidates, view, done = std::move(done)]() mutable {
        if (walk->legacy && !stopping_) return LegacySync(peer, candidates, std::move(done));
        if (walk->failed) round_incomplete_ = true;
        if (walk->failed || stopping_) return done();
        walk->level = std::move(*next_level);
        Descend(peer, walk, candidates, view, std::move(done));
      });
}

void Repairer::ReconcileLeaves(const dht::Contact& peer, std::vector<LeafDiff> leaves,
                               Candidates candidates, uint64_t view, std::function<void()> done,
                               bool rechecked) {
  {
    absl::MutexLock l(&cache_mu_);
    std::erase_if(leaves, [&](const LeafDiff& d) {
      auto it = quiet_leaves_.find(std::make_pair(peer.id, d.leaf));
      return it != quiet_leaves_.end() && it->second.mine == d.mine &&
             it->second.theirs == d.theirs && it->second.view == view;
    });
  }
  if (leaves.empty()) return done();
  if (!rechecked) return Recheck(peer, std::move(leaves), candidates, view, std::move(done));
  Bump(counters_.leaves_differing, leaves.size());
  std::vector<uint32_t> units;
  for (const LeafDiff& d : leaves) units.push_back(d.leaf);
  std::sort(units.begin(), units.end());
  Reconcile(peer, /*leaves=*/true, units, *candidates,
            [this, peer, leaves = std::move(leaves), view, done = std::move(done)](bool quiet) {
              if (quiet) {
                // Nothing to move at these hashes: keys only one of the two
                // owns, or views of the cluster that differ. Skip them until
                // a hash or this node's view changes.
                absl::MutexLock l(&cache_mu_);
                if (quiet_leaves_.size() + leaves.size() > kMaxRemembered) quiet_leaves_.clear();
                for (const LeafDiff& d : leaves) {
                  quiet_leaves_[std::make_pair(peer.id, d.leaf)] = {d.mine, d.theirs, view};
                }
              }
              done();
            });
}

void Repairer::Recheck(const dht::Contact& peer, std::vector<LeafDiff> leaves,
                       Candidates candidates, uint64_t view, std::function<void()> done) {
  auto walk = std::make_shared<TreeWalk>();
  walk->rechecked = true;
  for (const LeafDiff& d : leaves) walk->level.push_back({d.leaf, storage::kTreeDepth});
  executor_->After(kRecheckDelay, [this, peer, walk = std::move(walk), candidates, view,
                                   done = std::move(done)]() mutable {
    if (stopping_) return done();
    Descend(peer, std::move(walk), std::move(candidates), view, std::move(done));
  });
}

void Repairer::LegacySync(const dht::Contact& peer, Candidates candidates,
                          std::function<void()> done) {
  Bump(counters_.scans);
  auto digest = std::make_shared<Digest>();
  ForEachShared(peer.id, *candidates,
                [&](std::string_view key, const storage::Record& rec, const dht::NodeId& id) {
                  DigestAdd(*digest, BucketOf(id), RecordHash(key, rec.version));
                });
  SyncDigestWith(peer, std::move(digest), std::move(candidates), std::move(done));
}

void Repairer::SyncDigestWith(const dht::Contact& peer, std::shared_ptr<const Digest> mine,
                              Candidates candidates, std::function<void()> done) {
  // The roots first: replicas that agree stop here.
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
      Reconcile(peer, /*leaves=*/false, answer->differing, *candidates,
                [done = std::move(done)](bool) { done(); });
    };
    transport_->SyncDigest(peer, *mine, /*root_only=*/false,
                           util::On<absl::StatusOr<DigestAnswer>>(executor_, std::move(on_digest)));
  };
  transport_->SyncDigest(peer, *mine, /*root_only=*/true,
                         util::On<absl::StatusOr<DigestAnswer>>(executor_, std::move(on_root)));
}

void Repairer::Reconcile(const dht::Contact& peer, bool leaves, const std::vector<uint32_t>& units,
                         const std::vector<dht::Contact>& candidates,
                         std::function<void(bool)> done) {
  auto unit_of = [leaves](const dht::NodeId& id) {
    return leaves ? LeafOfId(id) : static_cast<uint32_t>(BucketOf(id));
  };
  // This node's records in those units that both own.
  const absl::flat_hash_set<uint32_t> wanted(units.begin(), units.end());
  struct Held {
    uint32_t unit;
    KeyVersion kv;
  };
  std::vector<Held> keys;
  Bump(counters_.scans);
  ForEachShared(peer.id, candidates,
                [&](std::string_view key, const storage::Record& rec, const dht::NodeId& id) {
                  const uint32_t u = unit_of(id);
                  if (wanted.contains(u)) {
                    keys.push_back({u, {std::string(key), rec.version, rec.tombstone}});
                  }
                });
  // Keys within a unit in key order, not the engine's scan order (a hash
  // order that differs between processes), so that a simulated run replays.
  std::sort(keys.begin(), keys.end(), [](const Held& a, const Held& b) {
    return a.unit != b.unit ? a.unit < b.unit : a.kv.key < b.kv.key;
  });
  // One request per chunk of keys; a chunk ends at a unit boundary so that
  // the peer compares whole units.
  struct Chunk {
    std::vector<uint32_t> units;
    std::vector<KeyVersion> keys;
  };
  auto chunks = std::make_shared<std::vector<Chunk>>();
  size_t next_key = 0;
  size_t next_unit = 0;
  while (next_unit < units.size()) {
    Chunk chunk;
    while (next_unit < units.size() &&
           (chunk.keys.size() < kReconcileKeys || chunk.units.empty())) {
      const uint32_t u = units[next_unit++];
      chunk.units.push_back(u);
      while (next_key < keys.size() && keys[next_key].unit <= u) {
        chunk.keys.push_back(std::move(keys[next_key++].kv));
      }
    }
    chunks->push_back(std::move(chunk));
  }
  auto quiet = std::make_shared<bool>(true);
  util::Sequentially(
      executor_, chunks->size(),
      [this, peer, chunks, leaves, quiet](size_t i, std::function<void(bool)> next) {
        if (stopping_) return next(false);
        const Chunk& chunk = (*chunks)[i];
        size_t sent_bytes = 64 + chunk.units.size() * 4;
        for (const KeyVersion& kv : chunk.keys) sent_bytes += KeyVersionBytes(kv);
        Bump(counters_.bytes_sent, sent_bytes);
        const size_t n_units = chunk.units.size();
        auto on_plan = [this, peer, n_units, quiet,
                        next = std::move(next)](absl::StatusOr<ReconcilePlan> plan) {
          if (!plan.ok()) {
            spdlog::debug("reconcile with {} failed: {}", peer.address, plan.status().ToString());
            round_incomplete_ = true;
            *quiet = false;
            return next(false);
          }
          if (plan->truncated) round_incomplete_ = true;  // the next round continues
          if (plan->truncated || !plan->newer.empty() || !plan->wanted.empty()) *quiet = false;
          Exchange(peer, n_units, *std::move(plan), [next] { next(true); });
        };
        static const std::vector<uint32_t> kNone;
        transport_->Reconcile(
            peer, leaves ? kNone : chunk.units, leaves ? chunk.units : kNone, chunk.keys,
            util::On<absl::StatusOr<ReconcilePlan>>(executor_, std::move(on_plan)));
      },
      [this, quiet, done = std::move(done)] { done(*quiet && !stopping_); });
}

void Repairer::Exchange(const dht::Contact& peer, size_t units, ReconcilePlan plan,
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
  StoreMany(transport_, executor_, std::move(jobs), OwnerPush::kWindow,
            [this, peer, units, pulled, done = std::move(done)](std::vector<absl::Status> results) {
              const size_t pushed = std::count_if(results.begin(), results.end(),
                                                  [](const absl::Status& s) { return s.ok(); });
              Bump(counters_.keys_pulled, pulled);
              Bump(counters_.keys_pushed, pushed);
              if (pulled + pushed > 0) {
                spdlog::info("anti-entropy with {}: {} leaves differed; pulled {} keys, pushed {}",
                             peer.id.ShortHex(), units, pulled, pushed);
              }
              done();
            });
}

void Repairer::HandOffStrays(std::shared_ptr<const std::vector<OwnedRange>> ranges,
                             Candidates candidates, uint64_t view, std::function<void()> done) {
  // Leaves that hold records and that this node does not own in full. The
  // ranges are ascending, and so are the leaves.
  const storage::DigestTree& tree = engine_->digest_tree();
  absl::flat_hash_set<uint32_t> suspect;
  std::vector<std::pair<uint32_t, uint64_t>> partial;  // partial leaves to scan, with their hash
  {
    absl::MutexLock l(&cache_mu_);
    size_t r = 0;
    for (uint32_t leaf : tree.NonEmptyLeaves()) {
      while (r < ranges->size() && (*ranges)[r].end_leaf() <= leaf) ++r;
      const bool in_range = r < ranges->size() && (*ranges)[r].first_leaf() <= leaf;
      if (in_range && !(*ranges)[r].partial) continue;
      if (in_range) {
        const uint64_t hash = tree.Hash(leaf, storage::kTreeDepth);
        auto it = no_strays_.find(leaf);
        if (it != no_strays_.end() && it->second == std::make_pair(hash, view)) continue;
        partial.emplace_back(leaf, hash);
      }
      suspect.insert(leaf);
    }
  }
  if (suspect.empty()) return done();
  Bump(counters_.scans);
  const int64_t now_ms = clock_->NowMillis();
  const size_t n = options_.replicas;
  auto strays = std::make_shared<std::vector<KeyVersion>>();
  absl::flat_hash_set<uint32_t> with_strays;
  engine_->ForEach([&](std::string_view key, const storage::Record& rec) {
    const dht::NodeId id = dht::NodeId::FromKey(key);
    const uint32_t leaf = LeafOfId(id);
    if (!suspect.contains(leaf) || PastGrace(rec, now_ms)) return;
    if (dht::ContainsNode(dht::ClosestAmong(*candidates, id, n), options_.self)) return;
    strays->push_back({std::string(key), rec.version, rec.tombstone});
    with_strays.insert(leaf);
  });
  {
    absl::MutexLock l(&cache_mu_);
    if (no_strays_.size() + partial.size() > kMaxRemembered) no_strays_.clear();
    for (const auto& [leaf, hash] : partial) {
      if (!with_strays.contains(leaf)) no_strays_[leaf] = {hash, view};
    }
  }
  // In key order, not scan order, so that a simulated run replays.
  std::sort(strays->begin(), strays->end(),
            [](const KeyVersion& a, const KeyVersion& b) { return a.key < b.key; });
  if (strays->empty()) return done();
  HandOff(std::move(strays), std::move(candidates), std::move(done));
}

void Repairer::HandOff(std::shared_ptr<const std::vector<KeyVersion>> keys, Candidates candidates,
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
                           {"anti_entropy_leaves_differing", v(c.leaves_differing)},
                           {"anti_entropy_rounds", v(c.rounds)},
                           {"anti_entropy_scans", v(c.scans)},
                           {"anti_entropy_tree_requests", v(c.tree_requests)},
                           {"tombstones", v(c.tombstones_seen)},
                           {"handoff_bytes", v(c.handoff_bytes)},
                           {"handoff_keys_dropped", v(c.handoff_keys_dropped)},
                           {"handoff_keys_pushed", v(c.handoff_keys_pushed)},
                           {"purged_expired", v(c.purged_expired)},
                           {"purged_tombstones", v(c.purged_tombstones)}});
}

}  // namespace kv::replication
