// Anti-entropy between replicas, handoff of keys a node no longer owns
// (rebalancing after joins, deaths and leaves) and the tombstone purge: one
// repair round, run by the maintenance thread every --anti-entropy-interval.
//
// A round scans the engine once. For every record it computes the owners
// (the N closest nodes that are neither dead nor left). Records this node
// owns feed one digest per co-owner (anti_entropy.h); records it does not
// own are handed to their owners and then dropped. Each co-owner is sent its
// digest; only the buckets that differ are reconciled key by key, so two
// replicas that agree exchange kDigestBuckets * 8 bytes, whatever they hold.
#include <algorithm>
#include <memory>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "spdlog/spdlog.h"
#include "src/node/node.h"

namespace kv::node {

using replication::Digest;
using replication::KeyRecord;
using replication::KeyVersion;

namespace {

constexpr size_t kReconcileKeys = 20000;            // keys in one Reconcile request
constexpr size_t kReconcileAnswerBytes = 2u << 20;  // records in one answer
constexpr size_t kPushWindow = 32;                  // Stores in flight
constexpr size_t kDigestWireBytes = replication::kDigestBuckets * 8 + 72;
constexpr size_t kRootWireBytes = 72;  // sender's NodeInfo and the root

void Bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

size_t KeyVersionBytes(const KeyVersion& kv) {
  return kv.key.size() + kv.version.node_id.size() + 16;
}

// Blocks until `start(callback)` calls its callback; returns what it got.
template <typename T, typename Start>
T Await(Start start) {
  struct State {
    absl::Notification done;
    T out;
  };
  auto state = std::make_shared<State>();
  start([state](T r) {
    state->out = std::move(r);
    state->done.Notify();
  });
  state->done.WaitForNotification();
  return std::move(state->out);
}

}  // namespace

void Node::RepairRound() {
  Bump(counters_.ae_rounds);
  const int64_t now_ms = clock_->NowMillis();
  if (absl::StatusOr<storage::PurgeStats> p = engine_->Purge(now_ms, options_.tombstone_grace);
      p.ok()) {
    Bump(counters_.purged_expired, p->expired);
    Bump(counters_.purged_tombstones, p->tombstones_dropped);
  } else {
    spdlog::warn("tombstone purge failed: {}", p.status().ToString());
  }

  const std::vector<dht::Contact> candidates = OwnerCandidates();
  const size_t n = static_cast<size_t>(options_.replicas);
  struct PeerDigest {
    dht::Contact contact;
    Digest digest{};
  };
  absl::flat_hash_map<dht::NodeId, PeerDigest> digests;
  std::vector<KeyVersion> not_mine;
  engine_->ForEach([&](std::string_view key, const storage::Record& rec) {
    if (PastGrace(rec, now_ms)) return;
    const dht::NodeId id = dht::NodeId::FromKey(key);
    const std::vector<dht::Contact> owners = dht::ClosestAmong(candidates, id, n);
    if (!dht::ContainsNode(owners, options_.self.id)) {
      not_mine.push_back({std::string(key), rec.version, rec.tombstone});
      return;
    }
    const uint64_t h = replication::RecordHash(key, rec.version);
    const size_t bucket = replication::BucketOf(id);
    for (const dht::Contact& o : owners) {
      if (o.id == options_.self.id) continue;
      PeerDigest& d = digests[o.id];
      d.contact = o;
      replication::DigestAdd(d.digest, bucket, h);
    }
  });
  // Likely co-owners this node holds nothing for still get a digest (all
  // zero): they may hold keys this node lost. Keys this node owns lie near
  // its own ID, and so do their other owners.
  for (const dht::Contact& c : dht::ClosestAmong(candidates, options_.self.id, 2 * n)) {
    if (c.id != options_.self.id && !digests.contains(c.id)) digests[c.id].contact = c;
  }
  for (const auto& [id, d] : digests) {
    {
      absl::MutexLock l(&mu_);
      if (stopping_) return;
    }
    if (membership_.State(id) != membership::PeerState::kAlive) continue;
    SyncWith(d.contact, d.digest, candidates);
  }
  if (!not_mine.empty()) HandOff(not_mine, candidates);
}

void Node::SyncWith(const dht::Contact& peer, const Digest& mine,
                    const std::vector<dht::Contact>& candidates) {
  // The roots first: replicas that agree stop here.
  auto root = Await<absl::StatusOr<replication::DigestAnswer>>(
      [&](auto cb) { transport_->SyncDigest(peer, mine, /*root_only=*/true, std::move(cb)); });
  Bump(counters_.ae_exchanges);
  Bump(counters_.ae_bytes_sent, kRootWireBytes);
  if (!root.ok()) {
    spdlog::debug("anti-entropy with {} failed: {}", peer.address, root.status().ToString());
    return;
  }
  Bump(counters_.ae_bytes_received, 4);
  if (root->root_matches) return;
  auto answer = Await<absl::StatusOr<replication::DigestAnswer>>(
      [&](auto cb) { transport_->SyncDigest(peer, mine, /*root_only=*/false, std::move(cb)); });
  Bump(counters_.ae_bytes_sent, kDigestWireBytes);
  if (!answer.ok()) {
    spdlog::debug("anti-entropy with {} failed: {}", peer.address, answer.status().ToString());
    return;
  }
  const std::vector<uint32_t>* differing = &answer->differing;
  Bump(counters_.ae_bytes_received, differing->size() * 4 + 4);
  if (differing->empty()) return;
  Bump(counters_.ae_buckets_differing, differing->size());

  // This node's records in the differing buckets that both own.
  const absl::flat_hash_set<uint32_t> buckets(differing->begin(), differing->end());
  std::vector<KeyVersion> keys;
  ForEachShared(peer.id, candidates,
                [&](std::string_view key, const storage::Record& rec, const dht::NodeId& id) {
                  if (buckets.contains(static_cast<uint32_t>(replication::BucketOf(id)))) {
                    keys.push_back({std::string(key), rec.version, rec.tombstone});
                  }
                });

  // One request per chunk of keys; a chunk ends at a bucket boundary so that
  // the peer compares whole buckets.
  std::sort(keys.begin(), keys.end(), [](const KeyVersion& a, const KeyVersion& b) {
    return replication::BucketOf(dht::NodeId::FromKey(a.key)) <
           replication::BucketOf(dht::NodeId::FromKey(b.key));
  });
  std::vector<uint32_t> all_buckets(differing->begin(), differing->end());
  size_t next_key = 0;
  size_t next_bucket = 0;
  while (next_bucket < all_buckets.size()) {
    std::vector<uint32_t> chunk_buckets;
    std::vector<KeyVersion> chunk;
    while (next_bucket < all_buckets.size() &&
           (chunk.size() < kReconcileKeys || chunk_buckets.empty())) {
      const uint32_t b = all_buckets[next_bucket++];
      chunk_buckets.push_back(b);
      while (next_key < keys.size() &&
             replication::BucketOf(dht::NodeId::FromKey(keys[next_key].key)) <= b) {
        chunk.push_back(std::move(keys[next_key++]));
      }
    }
    size_t sent_bytes = 64 + chunk_buckets.size() * 4;
    for (const KeyVersion& kv : chunk) sent_bytes += KeyVersionBytes(kv);
    Bump(counters_.ae_bytes_sent, sent_bytes);
    auto plan = Await<absl::StatusOr<replication::ReconcilePlan>>(
        [&](auto cb) { transport_->Reconcile(peer, chunk_buckets, chunk, std::move(cb)); });
    if (!plan.ok()) {
      spdlog::debug("reconcile with {} failed: {}", peer.address, plan.status().ToString());
      return;
    }
    // Newer records from the peer: apply here.
    size_t pulled = 0;
    for (KeyRecord& r : plan->newer) {
      Bump(counters_.ae_bytes_received, replication::RecordWireBytes(r.key, r.record));
      if (absl::Status s = hlc_.Admit(r.record.version); !s.ok()) {
        WarnRefused(peer, s);
        continue;
      }
      absl::StatusOr<bool> applied = engine_->Apply(r.key, r.record);
      if (applied.ok() && *applied) ++pulled;
    }
    for (const std::string& k : plan->wanted) Bump(counters_.ae_bytes_received, k.size() + 2);
    // Records the peer lacks: push them.
    std::vector<StoreJob> jobs;
    for (const std::string& k : plan->wanted) {
      absl::StatusOr<std::optional<storage::Record>> rec = engine_->Read(k);
      if (!rec.ok() || !*rec) continue;
      Bump(counters_.ae_bytes_sent, replication::RecordWireBytes(k, **rec));
      jobs.push_back({peer, k, **std::move(rec)});
    }
    std::vector<absl::Status> results = StoreMany(jobs, kPushWindow);
    const size_t pushed =
        std::count_if(results.begin(), results.end(), [](const absl::Status& s) { return s.ok(); });
    Bump(counters_.ae_keys_pulled, pulled);
    Bump(counters_.ae_keys_pushed, pushed);
    if (pulled + pushed > 0) {
      spdlog::info("anti-entropy with {}: {} buckets differed; pulled {} keys, pushed {}",
                   peer.id.ShortHex(), chunk_buckets.size(), pulled, pushed);
    }
  }
}

void Node::HandOff(const std::vector<KeyVersion>& keys,
                   const std::vector<dht::Contact>& candidates) {
  // Records are pushed in batches; a record is dropped here only once every
  // owner has acknowledged it, and only if nobody wrote it meanwhile.
  constexpr size_t kBatch = 512;
  size_t dropped = 0;
  for (size_t start = 0; start < keys.size(); start += kBatch) {
    {
      absl::MutexLock l(&mu_);
      if (stopping_) return;
    }
    const size_t end = std::min(keys.size(), start + kBatch);
    std::vector<std::string> batch;
    for (size_t i = start; i < end; ++i) batch.push_back(keys[i].key);
    // A key written since the scan, or with an owner that is not alive,
    // keeps its copy for now.
    auto skip = [&](size_t i, const storage::Record& rec, const std::vector<dht::Contact>& owners) {
      return rec.version != keys[start + i].version || owners.empty() ||
             std::any_of(owners.begin(), owners.end(), [&](const dht::Contact& o) {
               return o.id == options_.self.id ||
                      membership_.State(o.id) != membership::PeerState::kAlive;
             });
    };
    for (const Pushed& p : PushToOwners(batch, candidates, skip)) {
      const KeyVersion& kv = keys[start + p.index];
      Bump(counters_.handoff_keys_pushed);
      if (!p.acked) continue;
      Bump(counters_.handoff_bytes, replication::RecordWireBytes(kv.key, p.record));
      absl::StatusOr<bool> erased = engine_->EraseIf(kv.key, kv.version);
      if (erased.ok() && *erased) ++dropped;
    }
  }
  Bump(counters_.handoff_keys_dropped, dropped);
  if (dropped > 0) {
    spdlog::info("handed off {} keys this node no longer owns to their owners", dropped);
  }
}

void Node::ForEachShared(const dht::NodeId& peer, const std::vector<dht::Contact>& candidates,
                         const std::function<void(std::string_view, const storage::Record&,
                                                  const dht::NodeId&)>& fn) const {
  const size_t n = static_cast<size_t>(options_.replicas);
  const int64_t now_ms = clock_->NowMillis();
  engine_->ForEach([&](std::string_view key, const storage::Record& rec) {
    if (PastGrace(rec, now_ms)) return;
    const dht::NodeId id = dht::NodeId::FromKey(key);
    const std::vector<dht::Contact> owners = dht::ClosestAmong(candidates, id, n);
    if (dht::ContainsNode(owners, options_.self.id) && dht::ContainsNode(owners, peer)) {
      fn(key, rec, id);
    }
  });
}

bool Node::QueueRepairRequest() {
  if (repair_requests_.fetch_add(1, std::memory_order_relaxed) < kMaxRepairRequests) return true;
  repair_requests_.fetch_sub(1, std::memory_order_relaxed);
  return false;
}

absl::Status Node::RepairRequestRefused() const {
  return absl::ResourceExhaustedError(
      absl::StrCat("this node already has ", kMaxRepairRequests,
                   " anti-entropy requests queued or running; the next repair round retries"));
}

void Node::HandleSyncDigest(const dht::Contact& from, uint64_t root, std::optional<Digest> theirs,
                            std::function<void(absl::StatusOr<replication::DigestAnswer>)> done) {
  Learn(from);
  if (!QueueRepairRequest()) return done(RepairRequestRefused());
  repair_pool_->Schedule([this, from, root, theirs, done = std::move(done)] {
    absl::Cleanup dequeue = [this] { repair_requests_.fetch_sub(1, std::memory_order_relaxed); };
    Digest mine{};
    ForEachShared(from.id, OwnerCandidates(),
                  [&](std::string_view key, const storage::Record& rec, const dht::NodeId& id) {
                    replication::DigestAdd(mine, replication::BucketOf(id),
                                           replication::RecordHash(key, rec.version));
                  });
    replication::DigestAnswer answer{.root_matches = replication::DigestRoot(mine) == root};
    if (theirs && !answer.root_matches)
      answer.differing = replication::DifferingBuckets(*theirs, mine);
    done(std::move(answer));
  });
}

void Node::HandleReconcile(const dht::Contact& from, std::vector<uint32_t> buckets,
                           std::vector<KeyVersion> keys,
                           std::function<void(absl::StatusOr<replication::ReconcilePlan>)> done) {
  Learn(from);
  if (!QueueRepairRequest()) return done(RepairRequestRefused());
  repair_pool_->Schedule([this, from, buckets = std::move(buckets), keys = std::move(keys),
                          done = std::move(done)] {
    absl::Cleanup dequeue = [this] { repair_requests_.fetch_sub(1, std::memory_order_relaxed); };
    const absl::flat_hash_set<uint32_t> wanted_buckets(buckets.begin(), buckets.end());
    const std::vector<dht::Contact> candidates = OwnerCandidates();
    const size_t n = static_cast<size_t>(options_.replicas);
    std::vector<KeyRecord> mine;
    ForEachShared(from.id, candidates,
                  [&](std::string_view key, const storage::Record& rec, const dht::NodeId& id) {
                    if (wanted_buckets.contains(static_cast<uint32_t>(replication::BucketOf(id)))) {
                      mine.push_back({std::string(key), rec});
                    }
                  });
    replication::ReconcilePlan plan =
        replication::PlanReconcile(keys, std::move(mine), kReconcileAnswerBytes);
    // Ask only for keys this node owns and lacks: it may hold a key outside
    // the shared set when the two nodes' views of the cluster differ.
    absl::flat_hash_map<std::string_view, const storage::Version*> theirs;
    for (const KeyVersion& kv : keys) theirs[kv.key] = &kv.version;
    std::erase_if(plan.wanted, [&](const std::string& k) {
      if (!dht::ContainsNode(dht::ClosestAmong(candidates, dht::NodeId::FromKey(k), n),
                             options_.self.id)) {
        return true;
      }
      absl::StatusOr<std::optional<storage::Record>> held = engine_->Read(k);
      auto it = theirs.find(k);
      return held.ok() && *held && it != theirs.end() && *it->second <= (*held)->version;
    });
    Bump(counters_.ae_keys_served, plan.newer.size());
    done(std::move(plan));
  });
}

}  // namespace kv::node
