// The answers a Repairer gives to its peers' rounds (repairer.h): trees from
// the engine's digest tree at once; digests and reconcile requests, which
// scan the store, on the executor, a bounded number at a time.
#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "src/replication/repairer.h"

namespace kv::replication {

namespace {

constexpr size_t kReconcileAnswerBytes = 2u << 20;  // records in one answer

void Bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

}  // namespace

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
    Bump(counters_.scans);
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

TreeAnswer Repairer::ServeTree(const dht::Contact& from, const std::vector<TreeRange>& ranges) {
  Bump(counters_.tree_requests);
  return CompareTree(engine_->digest_tree(), ranges);
}

void Repairer::ServeReconcile(const dht::Contact& from, std::vector<uint32_t> buckets,
                              std::vector<uint32_t> leaves, std::vector<KeyVersion> keys,
                              std::function<void(absl::StatusOr<ReconcilePlan>)> done) {
  if (!QueueRequest()) return done(Refused());
  Serve([this, from, buckets = std::move(buckets), leaves = std::move(leaves),
         keys = std::move(keys), done = std::move(done)] {
    const absl::flat_hash_set<uint32_t> wanted_buckets(buckets.begin(), buckets.end());
    const absl::flat_hash_set<uint32_t> wanted_leaves(leaves.begin(), leaves.end());
    const std::vector<dht::Contact> candidates = owner_candidates_();
    std::vector<KeyRecord> mine;
    Bump(counters_.scans);
    ForEachShared(from.id, candidates,
                  [&](std::string_view key, const storage::Record& rec, const dht::NodeId& id) {
                    if (wanted_buckets.contains(static_cast<uint32_t>(BucketOf(id))) ||
                        wanted_leaves.contains(LeafOfId(id))) {
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

}  // namespace kv::replication
