// Kademlia routing table: 160 k-buckets indexed by common-prefix length with self.
//
// Pure state: no I/O, no clock, no threads. Callers pass `now` and an RNG in, and act on
// what the table returns (e.g. ping the contact named by kBucketFull, then report the
// outcome with OnPingResult).
//
// Thread-safety: not thread-safe; callers synchronize. Const methods may run
// concurrently with each other but not with a mutating method.

#ifndef KV_SRC_DHT_ROUTING_TABLE_H_
#define KV_SRC_DHT_ROUTING_TABLE_H_

#include <array>
#include <cstddef>
#include <deque>
#include <optional>
#include <random>
#include <vector>

#include "absl/time/time.h"
#include "src/dht/node_id.h"

namespace kv::dht {

class RoutingTable {
 public:
  struct Options {
    // Bucket size: at most k contacts per bucket. REQUIRES: k >= 1.
    size_t k = 20;
    // Per bucket, how many candidates wait for a slot; the newest are kept.
    size_t replacement_cache_size = 20;
  };

  // An empty table for node `self`. Every bucket counts as touched at `now`.
  RoutingTable(NodeId self, Options options, absl::Time now = absl::UnixEpoch());

  enum class UpdateOutcome {
    kInserted,     // `c` was new and is now in its bucket.
    kRefreshed,    // `c` was known; it is now the most recently seen of its bucket.
    kBucketFull,   // `c` was put in the replacement cache; see ping_candidate.
    kIgnoredSelf,  // `c` is this node; nothing changed.
  };
  struct UpdateResult {
    UpdateOutcome outcome;
    // When outcome == kBucketFull: the least-recently-seen contact of that bucket, which
    // the caller should ping (ping-before-evict) and report with OnPingResult. The new
    // contact has been put in the replacement cache. Empty for every other outcome.
    std::optional<Contact> ping_candidate;
  };

  // Called whenever we hear from `c`. Known contact: moves it to the most-recently-seen
  // end (and updates its address if it changed). Unknown and room: inserts it at the
  // tail. Bucket full: `c` goes to the bucket's replacement cache (newest kept, bounded)
  // and the result names the oldest contact to ping. Marks the bucket touched at `now`
  // (except for kIgnoredSelf).
  UpdateResult Update(const Contact& c, absl::Time now);

  // Outcome of the ping suggested by kBucketFull. alive: the contact moves to the tail
  // (most recently seen) and its bucket counts as touched at `now`. dead: it is removed
  // and the newest replacement-cache entry takes its place. No-op if `id` is not in the
  // table (e.g. it was already removed).
  void OnPingResult(const NodeId& id, bool alive, absl::Time now);

  // Removes a contact (e.g. it failed repeatedly) and promotes the newest entry of its
  // bucket's replacement cache. Also drops `id` from the replacement cache, so it is not
  // promoted later. No-op if `id` is absent.
  void Remove(const NodeId& id);

  // Up to n contacts (never self) sorted by XOR distance to `target`, closest first.
  std::vector<Contact> Closest(const NodeId& target, size_t n) const;

  // Whether the table holds every node whose ID shares at least `depth`
  // leading bits with `target`: that region lies in the smallest region
  // around self that takes in target's (self plus buckets
  // min(depth, cpl(self, target))..159), and that one holds fewer than k
  // contacts and no waiting replacement. A node joining looks up its own
  // ID and so meets each of its k closest nodes; every node of such a small
  // region around self is among them, so self has heard of it.
  // REQUIRES: 0 <= depth <= kIdBits.
  bool Complete(const NodeId& target, int depth) const;

  // Every contact in the table (not the replacement caches), in no particular order.
  std::vector<Contact> All() const;

  // The contact with this ID, or nullopt if it is not in the table (replacement-cache
  // entries are not found).
  std::optional<Contact> Find(const NodeId& id) const;

  // Number of contacts in bucket `bucket_index`. REQUIRES: 0 <= bucket_index < kIdBits.
  size_t BucketSize(int bucket_index) const { return buckets_[bucket_index].contacts.size(); }

  // Number of contacts in the table (not counting replacement caches).
  size_t size() const { return size_; }

  const NodeId& self() const { return self_; }
  const Options& options() const { return options_; }

  // Index of the bucket `id` falls in: its common prefix length with self (0..159).
  // REQUIRES: id != self.
  int BucketIndex(const NodeId& id) const;

  // Indices, ascending, of the buckets whose last touch is more than `idle` before `now`.
  // A bucket counts as touched at construction, on Update of a contact in it, on an alive
  // OnPingResult, and on MarkRefreshed. Only buckets with index <= the deepest index that
  // holds a contact are returned (refreshing the ~150 empty deep buckets of a small
  // network is pointless); an empty table returns nothing.
  std::vector<int> StaleBuckets(absl::Time now, absl::Duration idle) const;

  // Records that bucket `bucket_index` was refreshed (e.g. by a lookup) at `now`.
  // REQUIRES: 0 <= bucket_index < kIdBits.
  void MarkRefreshed(int bucket_index, absl::Time now);

  // A random ID whose common prefix length with self is exactly `bucket_index`, i.e. one
  // that BucketIndex() maps to `bucket_index`. REQUIRES: 0 <= bucket_index < kIdBits.
  NodeId RandomIdInBucket(int bucket_index, std::mt19937_64& rng) const;

  // The replacement cache of bucket `bucket_index`, oldest first. For tests and metrics.
  // REQUIRES: 0 <= bucket_index < kIdBits.
  std::vector<Contact> ReplacementCache(int bucket_index) const;

  // The contacts of bucket `bucket_index`, least recently seen first. For tests and
  // metrics. REQUIRES: 0 <= bucket_index < kIdBits.
  std::vector<Contact> Bucket(int bucket_index) const;

 private:
  struct KBucket {
    std::vector<Contact> contacts;     // least recently seen first; at most k
    std::deque<Contact> replacements;  // oldest first; at most replacement_cache_size
    absl::Time last_touched;
  };

  // Bucket for `id`. REQUIRES: id != self_.
  KBucket& BucketFor(const NodeId& id) { return buckets_[BucketIndex(id)]; }
  const KBucket& BucketFor(const NodeId& id) const { return buckets_[BucketIndex(id)]; }

  // Adds `c` as the newest replacement candidate of `b`, dropping the oldest if needed.
  void AddReplacement(KBucket& b, const Contact& c);

  // Const after construction.
  const NodeId self_;
  const Options options_;

  std::array<KBucket, kIdBits> buckets_;
  size_t size_ = 0;
};

}  // namespace kv::dht

#endif  // KV_SRC_DHT_ROUTING_TABLE_H_
