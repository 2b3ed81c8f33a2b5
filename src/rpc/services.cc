#include "src/rpc/services.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/node/batch.h"
#include "src/rpc/convert.h"
#include "src/rpc/service_util.h"

namespace kv::rpc {

namespace v1 = kvstore::v1;
using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;

ServerUnaryReactor* FinishNow(CallbackServerContext* ctx, const absl::Status& s) {
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpc(s));
  return reactor;
}

absl::StatusOr<dht::Contact> Sender(const v1::NodeInfo& from) {
  absl::StatusOr<dht::Contact> c = FromProto(from);
  if (!c.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request's sender is invalid: ", c.status().message()));
  }
  return c;
}

absl::Status CheckRecipient(const std::string& to, const dht::NodeId& self) {
  if (to.empty()) return absl::OkStatus();
  absl::StatusOr<dht::NodeId> want = dht::NodeId::FromHex(to);
  if (!want.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request's `to` is not a node ID: ", want.status().message()));
  }
  if (*want == self) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("this address now serves node ", self.ToHex(), ", not ", to,
                   "; the sender's contact is stale (that node left or was replaced)"));
}

namespace {

v1::PeerState PeerStateToProto(const membership::Membership::PeerView& p) {
  if (p.dead || p.left) return v1::DEAD;
  switch (p.state) {
    case membership::PeerState::kSuspect:
      return v1::SUSPECT;
    case membership::PeerState::kDown:
      return v1::DOWN;
    case membership::PeerState::kAlive:
      break;
  }
  return v1::ALIVE;
}

// Streams a planned leave's progress. Updates that arrive while a write is
// in flight are coalesced: the client sees the latest, and always the last.
class LeaveReactor final : public grpc::ServerWriteReactor<v1::LeaveProgress> {
 public:
  // `refusal`, when not OK, ends the call at once (the caller may not leave).
  LeaveReactor(node::AdminApi* node, bool force, const absl::Status& refusal) {
    absl::Status s = refusal;
    if (s.ok()) s = node->Leave(force, [this](const node::LeaveProgress& p) { Update(p); });
    if (!s.ok()) {
      absl::MutexLock l(&mu_);
      leave_running_ = false;
      finished_ = true;
      Finish(ToGrpc(s));
    }
  }
  void OnWriteDone(bool ok) override {
    absl::MutexLock l(&mu_);
    writing_ = false;
    if (!ok) {
      if (!finished_) {
        finished_ = true;
        Finish(grpc::Status::OK);
      }
      return;
    }
    WriteNextLocked();
  }
  // The leave goes on when the client goes away; the reactor lives until
  // both the call and the leave have ended.
  void OnDone() override {
    mu_.Lock();
    done_ = true;
    const bool last = !leave_running_;
    mu_.Unlock();
    if (last) delete this;
  }

 private:
  void Update(const node::LeaveProgress& p) {
    mu_.Lock();
    if (node::IsFinal(p.phase)) leave_running_ = false;
    if (done_) {
      const bool last = !leave_running_;
      mu_.Unlock();
      if (last) delete this;
      return;
    }
    if (!finished_) {
      pending_ = p;
      if (!writing_) WriteNextLocked();
    }
    mu_.Unlock();
  }
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    if (pending_) {
      out_.set_phase(node::LeavePhaseName(pending_->phase));
      out_.set_pass(pending_->pass);
      out_.set_keys_total(pending_->keys_total);
      out_.set_keys_moved(pending_->keys_moved);
      out_.set_bytes_moved(pending_->bytes_moved);
      out_.set_keys_failed(pending_->keys_failed);
      last_was_done_ = node::IsFinal(pending_->phase);
      pending_.reset();
      writing_ = true;
      StartWrite(&out_);
      return;
    }
    if (last_was_done_) {
      finished_ = true;
      Finish(grpc::Status::OK);
    }
  }

  absl::Mutex mu_;
  std::optional<node::LeaveProgress> pending_ ABSL_GUARDED_BY(mu_);
  v1::LeaveProgress out_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool last_was_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;  // OnDone ran
  bool leave_running_ ABSL_GUARDED_BY(mu_) = true;
};

// A Batch op against the caller's grant (null: everything allowed).
absl::Status CheckBatchOp(const security::Grant* grant, const node::BatchOp& op) {
  using Kind = node::BatchOp::Kind;
  const char* call = op.kind == Kind::kPut   ? "KV.Batch put"
                     : op.kind == Kind::kGet ? "KV.Batch get"
                                             : "KV.Batch delete";
  return security::AccessPolicy::CheckKey(
      grant, op.kind == Kind::kGet ? security::KeyAccess::kRead : security::KeyAccess::kWrite,
      op.args.key, call);
}

// A Batch op as the node runs it; an op that cannot run (no op set, a bad
// consistency) comes back refused with the reason.
node::BatchOp BatchOpFromProto(const v1::BatchOp& op, int index) {
  node::BatchOp out;
  absl::StatusOr<std::optional<replication::Consistency>> c =
      std::optional<replication::Consistency>();
  switch (op.op_case()) {
    case v1::BatchOp::kPut:
      out.kind = node::BatchOp::Kind::kPut;
      out.args.key = op.put().key();
      out.args.value = op.put().value();
      out.args.ttl = absl::Seconds(op.put().ttl_seconds());
      c = FromProto(op.put().consistency());
      break;
    case v1::BatchOp::kGet:
      out.kind = node::BatchOp::Kind::kGet;
      out.args.key = op.get().key();
      c = FromProto(op.get().consistency());
      break;
    case v1::BatchOp::kDelete:
      out.kind = node::BatchOp::Kind::kDelete;
      out.args.key = op.delete_().key();
      c = FromProto(op.delete_().consistency());
      break;
    case v1::BatchOp::OP_NOT_SET:
      out.refused = absl::InvalidArgumentError(
          absl::StrCat("batch op ", index, " is empty; set one of put, get or delete"));
      return out;
  }
  if (c.ok()) {
    out.args.consistency = *c;
  } else {
    out.refused = c.status();
  }
  return out;
}

void BatchResultToProto(node::BatchResult r, v1::BatchOp::OpCase kind, v1::BatchResult* out) {
  if (!r.status.ok()) {
    out->set_code(static_cast<int32_t>(r.status.code()));
    out->set_message(std::string(r.status.message()));
    return;
  }
  switch (kind) {
    case v1::BatchOp::kPut:
      ToProto(r.write.version, out->mutable_put()->mutable_version());
      out->mutable_put()->set_acks(r.write.acks);
      break;
    case v1::BatchOp::kDelete:
      ToProto(r.write.version, out->mutable_delete_()->mutable_version());
      out->mutable_delete_()->set_acks(r.write.acks);
      break;
    case v1::BatchOp::kGet: {
      v1::GetResponse* g = out->mutable_get();
      g->set_found(r.get.found);
      if (r.get.found) {
        g->set_value(std::move(r.get.value));
        ToProto(r.get.version, g->mutable_version());
      }
      break;
    }
    case v1::BatchOp::OP_NOT_SET:
      break;  // refused: status was not OK
  }
}

template <typename Resp>
node::ClientApi::WriteCallback WriteReply(ServerUnaryReactor* reactor, Resp* resp) {
  return [reactor, resp](absl::StatusOr<replication::WriteResult> r) {
    if (r.ok()) {
      ToProto(r->version, resp->mutable_version());
      resp->set_acks(r->acks);
    }
    reactor->Finish(ToGrpc(r.status()));
  };
}

}  // namespace

ServerUnaryReactor* KvService::Put(CallbackServerContext* ctx, const v1::PutRequest* req,
                                   v1::PutResponse* resp) {
  if (absl::Status s = guard_->ClientKey(*ctx, "KV.Put", security::KeyAccess::kWrite, req->key());
      !s.ok()) {
    return FinishNow(ctx, s);
  }
  auto c = FromProto(req->consistency());
  if (!c.ok()) return FinishNow(ctx, c.status());
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  client_->Put(node::PutArgs{.key = req->key(),
                             .value = req->value(),
                             .consistency = *c,
                             .ttl = absl::Seconds(req->ttl_seconds())},
               WriteReply(reactor, resp));
  return reactor;
}

ServerUnaryReactor* KvService::Delete(CallbackServerContext* ctx, const v1::DeleteRequest* req,
                                      v1::DeleteResponse* resp) {
  if (absl::Status s =
          guard_->ClientKey(*ctx, "KV.Delete", security::KeyAccess::kWrite, req->key());
      !s.ok()) {
    return FinishNow(ctx, s);
  }
  auto c = FromProto(req->consistency());
  if (!c.ok()) return FinishNow(ctx, c.status());
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  client_->Delete(req->key(), *c, WriteReply(reactor, resp));
  return reactor;
}

ServerUnaryReactor* KvService::Get(CallbackServerContext* ctx, const v1::GetRequest* req,
                                   v1::GetResponse* resp) {
  if (absl::Status s = guard_->ClientKey(*ctx, "KV.Get", security::KeyAccess::kRead, req->key());
      !s.ok()) {
    return FinishNow(ctx, s);
  }
  auto c = FromProto(req->consistency());
  if (!c.ok()) return FinishNow(ctx, c.status());
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  client_->Get(req->key(), *c, [reactor, resp](absl::StatusOr<node::GetReply> r) {
    if (r.ok()) {
      resp->set_found(r->found);
      if (r->found) {
        resp->set_value(std::move(r->value));
        ToProto(r->version, resp->mutable_version());
      }
    }
    reactor->Finish(ToGrpc(r.status()));
  });
  return reactor;
}

ServerUnaryReactor* KvService::Batch(CallbackServerContext* ctx, const v1::BatchRequest* req,
                                     v1::BatchResponse* resp) {
  constexpr int kMaxOps = 1024;
  if (req->ops_size() > kMaxOps) {
    return FinishNow(
        ctx, absl::InvalidArgumentError(absl::StrCat("batch has ", req->ops_size(),
                                                     " ops; send at most ", kMaxOps, " per call")));
  }
  absl::StatusOr<const security::Grant*> grant = guard_->Client(*ctx, "KV.Batch");
  if (!grant.ok()) return FinishNow(ctx, grant.status());
  if (req->ops_size() == 0) return FinishNow(ctx, absl::OkStatus());
  std::vector<node::BatchOp> ops(req->ops_size());
  for (int i = 0; i < req->ops_size(); ++i) {
    ops[i] = BatchOpFromProto(req->ops(i), i);
    // Every op is checked on its own: one refused key fails only its op.
    if (ops[i].refused.ok()) ops[i].refused = CheckBatchOp(*grant, ops[i]);
  }
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  // `req` lives until Finish: each result takes its op's kind from it.
  node::RunBatch(
      client_, std::move(ops), [reactor, req, resp](std::vector<node::BatchResult> results) {
        for (size_t i = 0; i < results.size(); ++i) {
          BatchResultToProto(std::move(results[i]), req->ops(static_cast<int>(i)).op_case(),
                             resp->add_results());
        }
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

ServerUnaryReactor* KvService::Join(CallbackServerContext* ctx, const v1::JoinRequest* req,
                                    v1::JoinResponse* resp) {
  absl::StatusOr<dht::Contact> from = Sender(req->node());
  if (!from.ok()) return FinishNow(ctx, from.status());
  if (absl::Status s = guard_->Member(*ctx, "KV.Join", &from->id); !s.ok()) {
    return FinishNow(ctx, s);
  }
  if (from->id == node_->self().id) {
    return FinishNow(ctx, absl::AlreadyExistsError(absl::StrCat(
                              "node id ", from->id.ToHex(),
                              " is this node's own id; give each node its own --node-id")));
  }
  std::vector<dht::Contact> contacts = node_->HandleJoin(*from);
  ToProto(contacts[0], resp->mutable_node());
  for (size_t i = 1; i < contacts.size(); ++i) ToProto(contacts[i], resp->add_peers());
  resp->set_unix_micros(absl::ToUnixMicros(absl::Now()));
  return FinishNow(ctx, absl::OkStatus());
}

ServerUnaryReactor* KvService::Ping(CallbackServerContext* ctx, const v1::PingRequest* req,
                                    v1::PingResponse* resp) {
  std::optional<dht::Contact> from;
  if (req->has_from()) {
    absl::StatusOr<dht::Contact> c = Sender(req->from());
    if (!c.ok()) return FinishNow(ctx, c.status());
    if (absl::Status s = guard_->Member(*ctx, "KV.Ping from a node", &c->id); !s.ok()) {
      return FinishNow(ctx, s);
    }
    from = *c;
  }
  node_->HandlePing(from);
  ToProto(node_->self(), resp->mutable_node());
  const node::ClockStatus clock = node_->clock_status();
  resp->set_clock_status(clock.description);
  resp->set_clock_fenced(clock.fenced);
  resp->set_transport(std::string(guard_->policy().transport()));
  return FinishNow(ctx, absl::OkStatus());
}

grpc::ServerBidiReactor<v1::HeartbeatMessage, v1::HeartbeatMessage>* KvService::Heartbeat(
    CallbackServerContext* ctx) {
  if (absl::Status s = guard_->Member(*ctx, "KV.Heartbeat"); !s.ok()) {
    return heartbeats_->Refuse(ctx, s);
  }
  // On TLS every beat must come from the node the certificate proves.
  return heartbeats_->Accept(ctx, node_, guard_->MemberId(*ctx));
}

ServerUnaryReactor* AdminService::Peers(CallbackServerContext* ctx, const v1::PeersRequest* req,
                                        v1::PeersResponse* resp) {
  if (absl::Status s = guard_->AdminRead(*ctx, "Admin.Peers"); !s.ok()) return FinishNow(ctx, s);
  ToProto(node_->self(), resp->mutable_self());
  const absl::Time now = absl::Now();
  for (const auto& p : node_->Peers()) {
    v1::PeerEntry* e = resp->add_peers();
    ToProto(p.contact, e->mutable_node());
    e->set_state(PeerStateToProto(p));
    e->set_phi(p.phi);
    e->set_left(p.left);
    e->set_bucket(p.bucket);
    e->set_last_heard_millis_ago(
        p.last_heard == absl::InfinitePast() ? -1 : absl::ToInt64Milliseconds(now - p.last_heard));
    if (p.clock) {
      e->set_clock_offset_micros(absl::ToInt64Microseconds(p.clock->offset));
      e->set_clock_round_trip_micros(absl::ToInt64Microseconds(p.clock->round_trip));
    }
  }
  return FinishNow(ctx, absl::OkStatus());
}

ServerUnaryReactor* AdminService::Locate(CallbackServerContext* ctx, const v1::LocateRequest* req,
                                         v1::LocateResponse* resp) {
  if (absl::Status s = guard_->AdminRead(*ctx, "Admin.Locate"); !s.ok()) return FinishNow(ctx, s);
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  node_->Locate(req->key(), [reactor, resp](absl::StatusOr<node::LocateReply> r) {
    if (r.ok()) {
      resp->set_key_id(r->key_id.ToHex());
      resp->set_replication_factor(r->replication_factor);
      for (const node::ReplicaLocation& loc : r->replicas) {
        v1::ReplicaLocation* out = resp->add_replicas();
        ToProto(loc.node, out->mutable_node());
        out->set_holds(loc.holds);
        out->set_reachable(loc.reachable);
        out->set_error(loc.error);
        if (loc.version) ToProto(*loc.version, out->mutable_version());
      }
    }
    reactor->Finish(ToGrpc(r.status()));
  });
  return reactor;
}

ServerUnaryReactor* AdminService::Snapshot(CallbackServerContext* ctx,
                                           const v1::SnapshotRequest* req,
                                           v1::SnapshotResponse* resp) {
  if (absl::Status s = guard_->AdminChange(*ctx, "Admin.Snapshot"); !s.ok()) {
    return FinishNow(ctx, s);
  }
  if (!req->dir().empty()) {
    return FinishNow(ctx, absl::InvalidArgumentError(
                              "SnapshotRequest.dir is no longer accepted; give a name "
                              "(kvctl snapshot NAME), written under the node's --backup-dir"));
  }
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  node_->Snapshot(req->name(), [reactor, resp](absl::StatusOr<std::string> path) {
    if (path.ok()) resp->set_dir(*path);
    reactor->Finish(ToGrpc(path.status()));
  });
  return reactor;
}

ServerUnaryReactor* AdminService::Stats(CallbackServerContext* ctx, const v1::StatsRequest* req,
                                        v1::StatsResponse* resp) {
  if (absl::Status s = guard_->AdminRead(*ctx, "Admin.Stats"); !s.ok()) return FinishNow(ctx, s);
  ToProto(node_->self(), resp->mutable_self());
  for (const auto& [name, value] : node_->Stats()) (*resp->mutable_counters())[name] = value;
  const node::AdminApi::Facts facts = node_->facts();
  resp->set_version(facts.version);
  resp->set_uptime_seconds(absl::ToInt64Seconds(facts.uptime));
  resp->set_coordinated_operations(facts.coordinated_operations);
  (*resp->mutable_counters())["heartbeat_streams_in"] = heartbeats_->LastHeard().size();
  return FinishNow(ctx, absl::OkStatus());
}

grpc::ServerWriteReactor<v1::LeaveProgress>* AdminService::Leave(CallbackServerContext* ctx,
                                                                 const v1::LeaveRequest* req) {
  return new LeaveReactor(node_, req->force(), guard_->AdminChange(*ctx, "Admin.Leave"));
}

ServerUnaryReactor* AdminService::DropKeys(CallbackServerContext* ctx,
                                           const v1::DropKeysRequest* req,
                                           v1::DropKeysResponse* resp) {
  if (absl::Status s = guard_->AdminChange(*ctx, "Admin.DropKeys"); !s.ok()) {
    return FinishNow(ctx, s);
  }
  if (hooks_ == nullptr) {
    return FinishNow(ctx, absl::FailedPreconditionError(
                              "DropKeys is a test hook; start the node with --enable-test-hooks "
                              "to use it"));
  }
  absl::StatusOr<uint64_t> n = hooks_->TEST_DropKeys(req->prefix(), req->limit());
  if (n.ok()) resp->set_dropped(*n);
  return FinishNow(ctx, n.status());
}

ServerUnaryReactor* PeerService::FindNode(CallbackServerContext* ctx,
                                          const v1::FindNodeRequest* req,
                                          v1::FindNodeResponse* resp) {
  absl::StatusOr<dht::Contact> from = Sender(req->from());
  if (!from.ok()) return FinishNow(ctx, from.status());
  if (absl::Status s = guard_->Member(*ctx, "Peer.FindNode", &from->id); !s.ok()) {
    return FinishNow(ctx, s);
  }
  absl::StatusOr<dht::NodeId> target = dht::NodeId::FromHex(req->target());
  if (!target.ok()) return FinishNow(ctx, target.status());
  constexpr uint32_t kMaxOwners = 128;
  if (req->owners() > kMaxOwners) {
    return FinishNow(ctx, absl::InvalidArgumentError(absl::StrCat(
                              "FindNode asked for ", req->owners(), " owners; ask for at most ",
                              kMaxOwners, " (the replication factor)")));
  }
  ToProto(node_->self(), resp->mutable_node());
  replication::PeerTransport::Neighbours n = node_->HandleFindNode(*from, *target, req->owners());
  for (const dht::Contact& c : n.closest) ToProto(c, resp->add_closest());
  for (const dht::Contact& c : n.owners) ToProto(c, resp->add_owners());
  for (const dht::NodeId& id : n.down) resp->add_down(id.ToHex());
  return FinishNow(ctx, absl::OkStatus());
}

ServerUnaryReactor* PeerService::SyncDigest(CallbackServerContext* ctx,
                                            const v1::DigestRequest* req,
                                            v1::DigestResponse* resp) {
  absl::StatusOr<dht::Contact> from = Sender(req->from());
  if (!from.ok()) return FinishNow(ctx, from.status());
  if (absl::Status s = guard_->Member(*ctx, "Peer.SyncDigest", &from->id); !s.ok()) {
    return FinishNow(ctx, s);
  }
  std::optional<replication::Digest> digest;
  if (req->buckets_size() != 0) {
    if (static_cast<size_t>(req->buckets_size()) != replication::kDigestBuckets) {
      return FinishNow(ctx, absl::InvalidArgumentError(absl::StrCat(
                                "digest has ", req->buckets_size(), " buckets; this node uses ",
                                replication::kDigestBuckets)));
    }
    digest.emplace();
    std::copy(req->buckets().begin(), req->buckets().end(), digest->begin());
  }
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  node_->HandleSyncDigest(*from, req->root(), std::move(digest),
                          [reactor, resp](absl::StatusOr<replication::DigestAnswer> a) {
                            if (!a.ok()) return reactor->Finish(ToGrpc(a.status()));
                            resp->set_root_matches(a->root_matches);
                            resp->mutable_differing()->Add(a->differing.begin(),
                                                           a->differing.end());
                            reactor->Finish(grpc::Status::OK);
                          });
  return reactor;
}

ServerUnaryReactor* PeerService::Reconcile(CallbackServerContext* ctx,
                                           const v1::ReconcileRequest* req,
                                           v1::ReconcileResponse* resp) {
  absl::StatusOr<dht::Contact> from = Sender(req->from());
  if (!from.ok()) return FinishNow(ctx, from.status());
  if (absl::Status s = guard_->Member(*ctx, "Peer.Reconcile", &from->id); !s.ok()) {
    return FinishNow(ctx, s);
  }
  std::vector<uint32_t> buckets;
  for (uint32_t b : req->buckets()) {
    if (b >= replication::kDigestBuckets) {
      return FinishNow(ctx,
                       absl::InvalidArgumentError(absl::StrCat("bucket ", b, " is out of range")));
    }
    buckets.push_back(b);
  }
  std::vector<uint32_t> leaves;
  for (uint32_t l : req->leaves()) {
    if (l >= storage::kTreeLeaves) {
      return FinishNow(
          ctx, absl::InvalidArgumentError(absl::StrCat(
                   "leaf ", l, " is out of range; leaves are below ", storage::kTreeLeaves)));
    }
    leaves.push_back(l);
  }
  std::vector<replication::KeyVersion> keys;
  keys.reserve(req->keys_size());
  for (const v1::KeyVersion& k : req->keys()) {
    keys.push_back({k.key(), FromProto(k.version()), k.tombstone()});
  }
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  node_->HandleReconcile(*from, std::move(buckets), std::move(leaves), std::move(keys),
                         [reactor, resp](absl::StatusOr<replication::ReconcilePlan> planned) {
                           if (!planned.ok()) return reactor->Finish(ToGrpc(planned.status()));
                           replication::ReconcilePlan& plan = *planned;
                           for (replication::KeyRecord& r : plan.newer) {
                             v1::KeyRecord* out = resp->add_newer();
                             out->set_key(std::move(r.key));
                             ToProto(r.record, out->mutable_record());
                           }
                           for (std::string& k : plan.wanted) resp->add_wanted(std::move(k));
                           resp->set_truncated(plan.truncated);
                           reactor->Finish(grpc::Status::OK);
                         });
  return reactor;
}

ServerUnaryReactor* PeerService::SyncTree(CallbackServerContext* ctx, const v1::TreeRequest* req,
                                          v1::TreeResponse* resp) {
  absl::StatusOr<dht::Contact> from = Sender(req->from());
  if (!from.ok()) return FinishNow(ctx, from.status());
  if (absl::Status s = guard_->Member(*ctx, "Peer.SyncTree", &from->id); !s.ok()) {
    return FinishNow(ctx, s);
  }
  if (static_cast<size_t>(req->ranges_size()) > replication::kMaxTreeRanges) {
    return FinishNow(ctx, absl::InvalidArgumentError(
                              absl::StrCat("the request has ", req->ranges_size(),
                                           " ranges; send at most ", replication::kMaxTreeRanges)));
  }
  std::vector<replication::TreeRange> ranges;
  ranges.reserve(req->ranges_size());
  for (const v1::TreeRange& r : req->ranges()) {
    if (r.depth() > static_cast<uint32_t>(storage::kTreeDepth) ||
        !replication::ValidTreeRange(r.prefix(), static_cast<int>(r.depth()))) {
      return FinishNow(
          ctx, absl::InvalidArgumentError(absl::StrCat(
                   "range ", r.prefix(), "/", r.depth(), " is invalid: depth must be at most ",
                   storage::kTreeDepth, " and the prefix below 2^depth")));
    }
    ranges.push_back({r.prefix(), static_cast<int>(r.depth()), r.hash()});
  }
  replication::TreeAnswer answer = node_->HandleSyncTree(*from, ranges);
  resp->mutable_differing()->Add(answer.differing.begin(), answer.differing.end());
  resp->mutable_hashes()->Add(answer.hashes.begin(), answer.hashes.end());
  return FinishNow(ctx, absl::OkStatus());
}

ServerUnaryReactor* PeerService::Leaving(CallbackServerContext* ctx, const v1::LeaveNotice* req,
                                         v1::LeaveNoticeResponse* resp) {
  absl::StatusOr<dht::Contact> from = Sender(req->from());
  if (!from.ok()) return FinishNow(ctx, from.status());
  if (absl::Status s = guard_->Member(*ctx, "Peer.Leaving", &from->id); !s.ok()) {
    return FinishNow(ctx, s);
  }
  node_->HandleLeaving(*from, req->incarnation());
  return FinishNow(ctx, absl::OkStatus());
}

ServerUnaryReactor* PeerService::Gossip(CallbackServerContext* ctx, const v1::GossipRequest* req,
                                        v1::GossipResponse* resp) {
  absl::StatusOr<dht::Contact> from = Sender(req->from());
  if (!from.ok()) return FinishNow(ctx, from.status());
  if (absl::Status s = guard_->Member(*ctx, "Peer.Gossip", &from->id); !s.ok()) {
    return FinishNow(ctx, s);
  }
  constexpr int kMaxRumours = 64;
  if (req->rumours_size() > kMaxRumours) {
    return FinishNow(ctx, absl::InvalidArgumentError(absl::StrCat(
                              "Gossip carries ", req->rumours_size(), " rumours; send at most ",
                              kMaxRumours, " per message")));
  }
  replication::PeerTransport::GossipMessage in{.epoch = req->epoch()};
  for (const v1::Rumour& r : req->rumours()) {
    absl::StatusOr<membership::Rumour> rumour = FromProto(r);
    if (!rumour.ok()) return FinishNow(ctx, rumour.status());
    in.rumours.push_back(*rumour);
  }
  replication::PeerTransport::GossipMessage out = node_->HandleGossip(*from, std::move(in));
  resp->set_epoch(out.epoch);
  for (const membership::Rumour& r : out.rumours) ToProto(r, resp->add_rumours());
  return FinishNow(ctx, absl::OkStatus());
}

}  // namespace kv::rpc
