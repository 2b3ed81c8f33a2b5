#include "src/rpc/services.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "src/rpc/convert.h"

namespace kv::rpc {

namespace v1 = kvstore::v1;
using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;

namespace {

ServerUnaryReactor* FinishNow(CallbackServerContext* ctx, const absl::Status& s) {
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpc(s));
  return reactor;
}

// Parses the sender of a node-to-node request; peers must say who they are.
absl::StatusOr<dht::Contact> Sender(const v1::NodeInfo& from) {
  absl::StatusOr<dht::Contact> c = FromProto(from);
  if (!c.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request's sender is invalid: ", c.status().message()));
  }
  return c;
}

template <typename Resp>
node::Node::WriteCallback WriteReply(ServerUnaryReactor* reactor, Resp* resp) {
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
  auto c = FromProto(req->consistency());
  if (!c.ok()) return FinishNow(ctx, c.status());
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  node_->Put(node::PutArgs{.key = req->key(),
                           .value = req->value(),
                           .consistency = *c,
                           .ttl_seconds = req->ttl_seconds()},
             WriteReply(reactor, resp));
  return reactor;
}

ServerUnaryReactor* KvService::Delete(CallbackServerContext* ctx, const v1::DeleteRequest* req,
                                      v1::DeleteResponse* resp) {
  auto c = FromProto(req->consistency());
  if (!c.ok()) return FinishNow(ctx, c.status());
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  node_->Delete(req->key(), *c, WriteReply(reactor, resp));
  return reactor;
}

ServerUnaryReactor* KvService::Get(CallbackServerContext* ctx, const v1::GetRequest* req,
                                   v1::GetResponse* resp) {
  auto c = FromProto(req->consistency());
  if (!c.ok()) return FinishNow(ctx, c.status());
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  node_->Get(req->key(), *c, [reactor, resp](absl::StatusOr<node::GetReply> r) {
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

ServerUnaryReactor* KvService::Join(CallbackServerContext* ctx, const v1::JoinRequest* req,
                                    v1::JoinResponse* resp) {
  absl::StatusOr<dht::Contact> from = Sender(req->node());
  if (!from.ok()) return FinishNow(ctx, from.status());
  if (from->id == node_->self().id) {
    return FinishNow(ctx, absl::AlreadyExistsError(absl::StrCat(
                              "node id ", from->id.ToHex(),
                              " is this node's own id; give each node its own --node-id")));
  }
  std::vector<dht::Contact> contacts = node_->HandleJoin(*from);
  ToProto(contacts[0], resp->mutable_node());
  for (size_t i = 1; i < contacts.size(); ++i) ToProto(contacts[i], resp->add_peers());
  return FinishNow(ctx, absl::OkStatus());
}

ServerUnaryReactor* KvService::Ping(CallbackServerContext* ctx, const v1::PingRequest* req,
                                    v1::PingResponse* resp) {
  std::optional<dht::Contact> from;
  if (req->has_from()) {
    absl::StatusOr<dht::Contact> c = Sender(req->from());
    if (!c.ok()) return FinishNow(ctx, c.status());
    from = *c;
  }
  node_->HandlePing(from);
  ToProto(node_->self(), resp->mutable_node());
  return FinishNow(ctx, absl::OkStatus());
}

grpc::ServerBidiReactor<v1::HeartbeatMessage, v1::HeartbeatMessage>* KvService::Heartbeat(
    CallbackServerContext* ctx) {
  return heartbeats_->Accept(ctx, node_);
}

ServerUnaryReactor* AdminService::Peers(CallbackServerContext* ctx, const v1::PeersRequest* req,
                                        v1::PeersResponse* resp) {
  ToProto(node_->self(), resp->mutable_self());
  const absl::Time now = absl::Now();
  for (const auto& p : node_->Peers()) {
    v1::PeerEntry* e = resp->add_peers();
    ToProto(p.contact, e->mutable_node());
    e->set_state(p.state == membership::PeerState::kAlive ? v1::ALIVE : v1::DOWN);
    e->set_bucket(p.bucket);
    e->set_last_heard_millis_ago(
        p.last_heard == absl::InfinitePast() ? -1 : absl::ToInt64Milliseconds(now - p.last_heard));
  }
  return FinishNow(ctx, absl::OkStatus());
}

ServerUnaryReactor* AdminService::Locate(CallbackServerContext* ctx, const v1::LocateRequest* req,
                                         v1::LocateResponse* resp) {
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  node_->Locate(req->key(), [this, reactor, resp](absl::StatusOr<node::LocateReply> r) {
    if (r.ok()) {
      resp->set_key_id(r->key_id.ToHex());
      resp->set_replication_factor(node_->options().replicas);
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
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  resp->set_dir(req->dir());
  node_->Snapshot(req->dir(), [reactor](absl::Status s) { reactor->Finish(ToGrpc(s)); });
  return reactor;
}

ServerUnaryReactor* PeerService::FindNode(CallbackServerContext* ctx,
                                          const v1::FindNodeRequest* req,
                                          v1::FindNodeResponse* resp) {
  absl::StatusOr<dht::Contact> from = Sender(req->from());
  if (!from.ok()) return FinishNow(ctx, from.status());
  absl::StatusOr<dht::NodeId> target = dht::NodeId::FromHex(req->target());
  if (!target.ok()) return FinishNow(ctx, target.status());
  ToProto(node_->self(), resp->mutable_node());
  for (const dht::Contact& c : node_->HandleFindNode(*from, *target)) {
    ToProto(c, resp->add_closest());
  }
  return FinishNow(ctx, absl::OkStatus());
}

ServerUnaryReactor* PeerService::Store(CallbackServerContext* ctx, const v1::StoreRequest* req,
                                       v1::StoreResponse* resp) {
  absl::StatusOr<dht::Contact> from = Sender(req->from());
  if (!from.ok()) return FinishNow(ctx, from.status());
  if (absl::Status s = node_->ValidateKey(req->key()); !s.ok()) return FinishNow(ctx, s);
  if (absl::Status s = node_->ValidateValue(req->record().value()); !s.ok()) {
    return FinishNow(ctx, s);
  }
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  node_->HandleStore(*from, req->key(), FromProto(req->record()),
                     [reactor, resp](absl::StatusOr<bool> applied) {
                       if (applied.ok()) resp->set_applied(*applied);
                       reactor->Finish(ToGrpc(applied.status()));
                     });
  return reactor;
}

ServerUnaryReactor* PeerService::Fetch(CallbackServerContext* ctx, const v1::FetchRequest* req,
                                       v1::FetchResponse* resp) {
  if (absl::Status s = node_->ValidateKey(req->key()); !s.ok()) return FinishNow(ctx, s);
  absl::StatusOr<std::optional<storage::Record>> rec = node_->HandleFetch(req->key());
  if (rec.ok() && *rec) {
    resp->set_found(true);
    ToProto(**rec, resp->mutable_record());
  }
  return FinishNow(ctx, rec.status());
}

}  // namespace kv::rpc
