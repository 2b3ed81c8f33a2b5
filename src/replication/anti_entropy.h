// Anti-entropy primitives: which nodes own a key, the per-bucket digests two
// replicas compare, and the comparison of two replicas' records in the
// buckets that differ. Pure: no I/O, no locks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/dht/node_id.h"
#include "src/storage/digest_tree.h"
#include "src/storage/record.h"

namespace kv::replication {

// The key space is cut into this many digest buckets by the first bits of
// the key's ID. Two replicas that agree exchange one digest of
// kDigestBuckets * 8 bytes, whatever the number of keys.
inline constexpr size_t kDigestBuckets = 1024;
inline constexpr int kDigestBucketBits = 10;
static_assert(size_t{1} << kDigestBucketBits == kDigestBuckets);

using Digest = std::array<uint64_t, kDigestBuckets>;

// The bucket of a key with ID `key_id`: its first kDigestBucketBits bits.
size_t BucketOf(const dht::NodeId& key_id);

// The hash of one record in digests and trees (storage/digest_tree.h).
using storage::RecordHash;

// Adds (or removes: XOR is its own inverse) a record to a digest.
inline void DigestAdd(Digest& d, size_t bucket, uint64_t hash) { d[bucket] ^= hash; }

// The XOR of all buckets: equal roots mean (but for a 2^-64 chance) equal
// digests.
uint64_t DigestRoot(const Digest& d);

// A replica's answer to a digest.
struct DigestAnswer {
  bool root_matches = false;
  std::vector<uint32_t> differing;  // for a full digest: buckets that differ
};

// Indices where `a` and `b` differ, ascending.
std::vector<uint32_t> DifferingBuckets(const Digest& a, const Digest& b);

// Anti-entropy over digest trees: ranges of key IDs (ownership.h) with the
// requester's hash of each, and the responder's answer. At most
// kMaxTreeRanges ranges go in one request.
inline constexpr size_t kMaxTreeRanges = 4096;
struct TreeRange {
  uint32_t prefix = 0;
  int depth = 0;  // 0..storage::kTreeDepth; prefix < 2^depth
  uint64_t hash = 0;
};
struct TreeAnswer {
  std::vector<uint32_t> differing;  // indices into the request's ranges, ascending
  std::vector<uint64_t> hashes;     // the responder's hash of each differing range
};

// The ranges of `theirs` where `mine` hashes otherwise. REQUIRES: every
// range valid (ValidTreeRange).
TreeAnswer CompareTree(const storage::DigestTree& mine, const std::vector<TreeRange>& theirs);
// True if depth <= kTreeDepth and prefix < 2^depth.
bool ValidTreeRange(uint32_t prefix, int depth);

struct KeyVersion {
  std::string key;
  storage::Version version;
  bool tombstone = false;
};

struct KeyRecord {
  std::string key;
  storage::Record record;
};

// What a responder sends back for a reconcile request.
struct ReconcilePlan {
  std::vector<KeyRecord> newer;     // responder's records newer than, or missing from, theirs
  std::vector<std::string> wanted;  // keys whose requester record is newer or missing here
  bool truncated = false;           // `newer` was cut at the byte budget
};

// Compares the requester's `theirs` with the responder's `mine` (records in
// the same buckets that both own). `newer` stops growing once its keys and
// values exceed `max_newer_bytes` (at least one record is always included).
ReconcilePlan PlanReconcile(const std::vector<KeyVersion>& theirs, std::vector<KeyRecord> mine,
                            size_t max_newer_bytes);

// Wire-size estimate of a record for the exchanged-bytes counters: key,
// value, version and flags.
size_t RecordWireBytes(std::string_view key, const storage::Record& rec);

}  // namespace kv::replication
