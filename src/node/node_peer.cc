// Requests from peers: each learns its sender into the routing table and
// hands the work to the component that owns it.
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "src/node/node.h"

namespace kv::node {

std::vector<dht::Contact> Node::HandleJoin(const dht::Contact& from) {
  membership_.Rejoined(from.id);
  router_.Learn(from);
  membership_.Heard(from.id);
  std::vector<dht::Contact> out{options_.self};
  for (dht::Contact& c : membership_.Closest(from.id, options_.k)) {
    if (c.id != from.id) out.push_back(std::move(c));
  }
  return out;
}

void Node::HandlePing(const std::optional<dht::Contact>& from) {
  if (from) router_.Learn(*from);
}

void Node::HandleHeartbeat(const dht::Contact& from, std::optional<membership::ClockSample> clock,
                           uint64_t incarnation, uint64_t epoch) {
  membership_.HeardIncarnation(from.id, incarnation);
  router_.Learn(from);
  membership_.Heard(from.id);
  if (std::optional<membership::Rumour> r = membership_.HeardEpoch(from.id, epoch)) {
    gossiper_.Tell(from, *r);
  }
  if (clock) {
    membership_.RecordClock(from.id, *clock);
    fence_.Measured();
  }
}

replication::PeerTransport::GossipMessage Node::HandleGossip(
    const dht::Contact& from, replication::PeerTransport::GossipMessage in) {
  router_.Learn(from);
  return gossiper_.Answer(from, in);
}

replication::PeerTransport::Neighbours Node::HandleFindNode(const dht::Contact& from,
                                                            const dht::NodeId& target,
                                                            size_t owners) {
  router_.Learn(from);
  return router_.AnswerFindNode(target, owners);
}

void Node::HandleStore(const dht::Contact& from, const std::string& key, storage::Record rec,
                       std::function<void(absl::StatusOr<bool>)> done) {
  if (absl::Status s = Admit(from, rec.version); !s.ok()) return done(s);
  router_.Learn(from);
  if (options_.group_commit)
    return options_.group_commit->Apply(key, std::move(rec), std::move(done));
  OnStorage([this, key, rec = std::move(rec), done = std::move(done)] {
    done(engine_->Apply(key, rec));
  });
}

absl::StatusOr<std::optional<storage::Record>> Node::HandleFetch(const std::string& key) const {
  if (absl::Status s = ServesReads(); !s.ok()) return s;
  return engine_->Read(key);
}

absl::Status Node::ServesReads() const {
  if (serves_reads_.load(std::memory_order_acquire)) return absl::OkStatus();
  const absl::Time joined = maintenance_.joined_at();
  // The round must have known at least N owner candidates, or every node
  // the seed named if fewer: a node cut off when this one joined never
  // entered its routing table (contacts are verified before they are
  // inserted), and may be the one that holds a write.
  const replication::Repairer::CompleteRound round = repairer_.last_complete_round();
  const size_t must_know =
      std::min(static_cast<size_t>(options_.replicas), maintenance_.nodes_named_at_join() + 1);
  if (joined == absl::InfinitePast() ||
      (joined != absl::InfiniteFuture() && round.started >= joined &&
       round.candidates >= must_know)) {
    serves_reads_.store(true, std::memory_order_release);
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      "this replica joined recently and has not received its data yet (pending); the "
      "coordinator reads the other replicas");
}

void Node::HandleStoreHint(const dht::Contact& from, const dht::NodeId& target,
                           const std::string& key, storage::Record rec,
                           std::function<void(absl::Status)> done) {
  if (absl::Status s = Admit(from, rec.version); !s.ok()) return done(s);
  if (membership_.Find(target)) router_.Learn(from);
  hints_.Accept(target, key, std::move(rec), std::move(done));
}

void Node::HandleSyncDigest(const dht::Contact& from, uint64_t root,
                            std::optional<replication::Digest> theirs,
                            std::function<void(absl::StatusOr<replication::DigestAnswer>)> done) {
  router_.Learn(from);
  repairer_.ServeDigest(from, root, std::move(theirs), std::move(done));
}

void Node::HandleReconcile(const dht::Contact& from, std::vector<uint32_t> buckets,
                           std::vector<uint32_t> leaves, std::vector<replication::KeyVersion> keys,
                           std::function<void(absl::StatusOr<replication::ReconcilePlan>)> done) {
  router_.Learn(from);
  repairer_.ServeReconcile(from, std::move(buckets), std::move(leaves), std::move(keys),
                           std::move(done));
}

replication::TreeAnswer Node::HandleSyncTree(const dht::Contact& from,
                                             const std::vector<replication::TreeRange>& ranges) {
  router_.Learn(from);
  return repairer_.ServeTree(from, ranges);
}

void Node::HandleLeaving(const dht::Contact& from, uint64_t incarnation) {
  spdlog::info("peer {} ({}) announced it is leaving", from.id.ShortHex(), from.address);
  membership_.MarkLeft(from.id, incarnation);
  maintenance_.RepairSoon();
}

absl::Status Node::Admit(const dht::Contact& from, const storage::Version& v) {
  absl::Status s = hlc_.Admit(v);
  if (!s.ok()) WarnRefused(from, s);
  return s;
}

void Node::WarnRefused(const dht::Contact& from, const absl::Status& why) {
  const int64_t now = clock_->NowMillis();
  int64_t last = refused_warned_ms_.load(std::memory_order_relaxed);
  if (now - last < 10'000 ||
      !refused_warned_ms_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    refused_warnings_held_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  spdlog::warn("refused a record from {}: {} ({} more refused in the last 10 s were not logged)",
               from.address, std::string(why.message()),
               refused_warnings_held_.exchange(0, std::memory_order_relaxed));
}

}  // namespace kv::node
