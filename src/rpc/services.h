// gRPC services of one node: the client-facing KV service, the operator's
// Admin service and the node-to-node Peer service. Each handler turns the
// request into a call on one of the node's narrow interfaces (node/api.h)
// and never blocks.
#pragma once

#include <functional>
#include <string>
#include <utility>

#include "proto/kv.grpc.pb.h"
#include "src/node/api.h"
#include "src/node/test_hooks.h"
#include "src/rpc/call_guard.h"
#include "src/rpc/heartbeat.h"

namespace kv::rpc {

class KvService final : public kvstore::v1::KV::CallbackService {
 public:
  // Put, Get, Delete and Batch go to `client`; Join, Ping and Heartbeat to
  // `peer`. None is owned; all must outlive the server.
  KvService(node::ClientApi* client, node::PeerApi* peer, HeartbeatRegistry* heartbeats,
            CallGuard* guard)
      : client_(client), node_(peer), heartbeats_(heartbeats), guard_(guard) {}

  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* ctx,
                                const kvstore::v1::PutRequest* req,
                                kvstore::v1::PutResponse* resp) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx,
                                const kvstore::v1::GetRequest* req,
                                kvstore::v1::GetResponse* resp) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx,
                                   const kvstore::v1::DeleteRequest* req,
                                   kvstore::v1::DeleteResponse* resp) override;
  grpc::ServerUnaryReactor* Batch(grpc::CallbackServerContext* ctx,
                                  const kvstore::v1::BatchRequest* req,
                                  kvstore::v1::BatchResponse* resp) override;
  grpc::ServerUnaryReactor* Join(grpc::CallbackServerContext* ctx,
                                 const kvstore::v1::JoinRequest* req,
                                 kvstore::v1::JoinResponse* resp) override;
  grpc::ServerUnaryReactor* Ping(grpc::CallbackServerContext* ctx,
                                 const kvstore::v1::PingRequest* req,
                                 kvstore::v1::PingResponse* resp) override;
  grpc::ServerBidiReactor<kvstore::v1::HeartbeatMessage, kvstore::v1::HeartbeatMessage>* Heartbeat(
      grpc::CallbackServerContext* ctx) override;

 private:
  node::ClientApi* const client_;
  node::PeerApi* const node_;
  HeartbeatRegistry* const heartbeats_;
  CallGuard* const guard_;
};

class AdminService final : public kvstore::v1::Admin::CallbackService {
 public:
  // None is owned; all must outlive the server. `hooks` null (production)
  // refuses DropKeys. Leave, Snapshot and DropKeys are served only to
  // callers the guard's policy lets change the node.
  AdminService(node::AdminApi* node, node::TestHooks* hooks, HeartbeatRegistry* heartbeats,
               CallGuard* guard)
      : node_(node), hooks_(hooks), heartbeats_(heartbeats), guard_(guard) {}

  grpc::ServerUnaryReactor* Peers(grpc::CallbackServerContext* ctx,
                                  const kvstore::v1::PeersRequest* req,
                                  kvstore::v1::PeersResponse* resp) override;
  grpc::ServerUnaryReactor* Locate(grpc::CallbackServerContext* ctx,
                                   const kvstore::v1::LocateRequest* req,
                                   kvstore::v1::LocateResponse* resp) override;
  grpc::ServerUnaryReactor* Snapshot(grpc::CallbackServerContext* ctx,
                                     const kvstore::v1::SnapshotRequest* req,
                                     kvstore::v1::SnapshotResponse* resp) override;
  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* ctx,
                                  const kvstore::v1::StatsRequest* req,
                                  kvstore::v1::StatsResponse* resp) override;
  grpc::ServerWriteReactor<kvstore::v1::LeaveProgress>* Leave(
      grpc::CallbackServerContext* ctx, const kvstore::v1::LeaveRequest* req) override;
  grpc::ServerUnaryReactor* DropKeys(grpc::CallbackServerContext* ctx,
                                     const kvstore::v1::DropKeysRequest* req,
                                     kvstore::v1::DropKeysResponse* resp) override;

 private:
  node::AdminApi* const node_;
  node::TestHooks* const hooks_;
  HeartbeatRegistry* const heartbeats_;
  CallGuard* const guard_;
};

class PeerService final : public kvstore::v1::Peer::CallbackService {
 public:
  // Every call is member-only; `node` and `guard` must outlive the server.
  PeerService(node::PeerApi* node, CallGuard* guard) : node_(node), guard_(guard) {}

  grpc::ServerUnaryReactor* FindNode(grpc::CallbackServerContext* ctx,
                                     const kvstore::v1::FindNodeRequest* req,
                                     kvstore::v1::FindNodeResponse* resp) override;
  // Store, StoreBatch, Fetch and FetchBatch are defined in peer_data.cc.
  grpc::ServerUnaryReactor* Store(grpc::CallbackServerContext* ctx,
                                  const kvstore::v1::StoreRequest* req,
                                  kvstore::v1::StoreResponse* resp) override;
  grpc::ServerUnaryReactor* StoreBatch(grpc::CallbackServerContext* ctx,
                                       const kvstore::v1::StoreBatchRequest* req,
                                       kvstore::v1::StoreBatchResponse* resp) override;
  grpc::ServerUnaryReactor* Fetch(grpc::CallbackServerContext* ctx,
                                  const kvstore::v1::FetchRequest* req,
                                  kvstore::v1::FetchResponse* resp) override;
  grpc::ServerUnaryReactor* FetchBatch(grpc::CallbackServerContext* ctx,
                                       const kvstore::v1::FetchBatchRequest* req,
                                       kvstore::v1::FetchBatchResponse* resp) override;
  grpc::ServerUnaryReactor* SyncDigest(grpc::CallbackServerContext* ctx,
                                       const kvstore::v1::DigestRequest* req,
                                       kvstore::v1::DigestResponse* resp) override;
  grpc::ServerUnaryReactor* Reconcile(grpc::CallbackServerContext* ctx,
                                      const kvstore::v1::ReconcileRequest* req,
                                      kvstore::v1::ReconcileResponse* resp) override;
  grpc::ServerUnaryReactor* SyncTree(grpc::CallbackServerContext* ctx,
                                     const kvstore::v1::TreeRequest* req,
                                     kvstore::v1::TreeResponse* resp) override;
  grpc::ServerUnaryReactor* Leaving(grpc::CallbackServerContext* ctx,
                                    const kvstore::v1::LeaveNotice* req,
                                    kvstore::v1::LeaveNoticeResponse* resp) override;
  grpc::ServerUnaryReactor* Gossip(grpc::CallbackServerContext* ctx,
                                   const kvstore::v1::GossipRequest* req,
                                   kvstore::v1::GossipResponse* resp) override;

 private:
  // One replica write or hint (`hint_for` empty or 40 hex chars), checked as
  // a client write is; `done` gets whether it was applied (false for a hint).
  void ApplyStore(const dht::Contact& from, const std::string& key,
                  const kvstore::v1::Record& record, const std::string& hint_for,
                  std::function<void(absl::StatusOr<bool>)> done);

  node::PeerApi* const node_;
  CallGuard* const guard_;
};

}  // namespace kv::rpc
