// PeerTransport over gRPC: a pool of channels, one per peer address.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "proto/kv.grpc.pb.h"
#include "src/replication/peer_transport.h"
#include "src/rpc/convert.h"
#include "src/rpc/peer_batcher.h"
#include "src/util/gate.h"

namespace kv::rpc {

// Channel arguments every node-to-node channel uses: message limits that fit
// the largest value, and short reconnect backoff so a restarted peer is
// reachable again within about a second.
grpc::ChannelArguments PeerChannelArguments(int max_message_bytes);

// Thread-safe. Calls carry the rpc timeout as their deadline; Shutdown()
// refuses new calls and waits for the callbacks of started ones to return.
class GrpcPeerTransport final : public replication::PeerTransport {
 public:
  struct Options {
    dht::Contact self;         // sent as `from` so peers learn of us
    uint64_t incarnation = 0;  // this process's, sent with Leaving
    absl::Duration rpc_timeout = absl::Seconds(2);
    // Deadline of anti-entropy calls, which make the peer scan its store.
    absl::Duration repair_timeout = absl::Seconds(60);
    int max_message_bytes = 4 << 20;
    // Stores (and hints) to one peer are coalesced into Peer.StoreBatch
    // calls, and Fetches into Peer.FetchBatch calls, with at most this many
    // of each in flight per peer (peer_batcher.h); 0 sends each Store and
    // Fetch as a call of its own.
    size_t batch_window = 2;
    // How peers are dialed; null means plaintext.
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    // How seeds are dialed for Join (null: `credentials`). A seed is often
    // an address found by DNS (an IP) that no certificate names, so over TLS
    // these skip the host-name check; the seed's answer is still checked
    // against its certificate's node ID.
    std::shared_ptr<grpc::ChannelCredentials> join_credentials;
  };
  explicit GrpcPeerTransport(Options options);
  ~GrpcPeerTransport() override;

  void Store(const dht::Contact& to, const std::string& key, const storage::Record& rec,
             StoreCallback done) override;
  void Fetch(const dht::Contact& to, const std::string& key, FetchCallback done) override;
  void FindNode(const dht::Contact& to, const dht::NodeId& target, FindNodeCallback done) override;
  void FindOwners(const dht::Contact& to, const dht::NodeId& target, size_t owners,
                  FindOwnersCallback done) override;
  void Ping(const std::string& address, PingCallback done) override;
  void Join(const std::string& address, JoinCallback done) override;
  void StoreHint(const dht::Contact& to, const dht::NodeId& target, const std::string& key,
                 const storage::Record& rec, StoreCallback done) override;
  void SyncDigest(const dht::Contact& to, const replication::Digest& digest, bool root_only,
                  DigestCallback done) override;
  void Reconcile(const dht::Contact& to, const std::vector<uint32_t>& buckets,
                 const std::vector<uint32_t>& leaves,
                 const std::vector<replication::KeyVersion>& keys, ReconcileCallback done) override;
  void SyncTree(const dht::Contact& to, const std::vector<replication::TreeRange>& ranges,
                TreeCallback done) override;
  void Leaving(const dht::Contact& to, StoreCallback done) override;
  void Gossip(const dht::Contact& to, GossipMessage message, GossipCallback done) override;

  // The shared channel to `address` (created on first use).
  std::shared_ptr<grpc::Channel> Channel(const std::string& address);
  kvstore::v1::KV::Stub* KvStub(const std::string& address);
  // Stops new calls and waits up to `timeout` for started ones to finish.
  void Shutdown(absl::Duration timeout = absl::Seconds(10));

 private:
  struct Peer {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<kvstore::v1::KV::Stub> kv;
    std::unique_ptr<kvstore::v1::Peer::Stub> peer;
    // Set once the peer answered StoreBatch (FetchBatch) with UNIMPLEMENTED,
    // an older version: Stores (Fetches) to it then go one per call.
    std::atomic<bool> store_batch_unsupported{false};
    std::atomic<bool> fetch_batch_unsupported{false};
  };
  Peer* PeerFor(const std::string& address);
  // The KV stub Join uses for `address` (join_credentials).
  kvstore::v1::KV::Stub* JoinStub(const std::string& address);
  // The batchers of Stores and of Fetches to `to` (created on first use).
  // Keyed by address and ID, since a stale contact may share its address
  // with another node.
  StoreBatcher* StoreBatcherFor(const dht::Contact& to, Peer* peer);
  FetchBatcher* FetchBatcherFor(const dht::Contact& to, Peer* peer);
  // Store and StoreHint: through the peer's batcher, else one Peer.Store
  // call, with hint_for set when given.
  void SendStore(const dht::Contact& to, const std::string& key, const storage::Record& rec,
                 const dht::NodeId* hint_for, StoreCallback done);
  void SendOneStore(Peer* peer, const dht::NodeId& to, const std::string& key,
                    const storage::Record& rec, const dht::NodeId* hint_for, StoreCallback done);
  // The batcher's send: one Peer.StoreBatch call, or one Store per item for
  // a peer that lacks StoreBatch.
  void SendStoreBatch(Peer* peer, const dht::NodeId& to, const std::vector<StoreItem>& items,
                      StoreBatcher::Finished finished);
  void SendEachStore(Peer* peer, const dht::NodeId& to, const std::vector<StoreItem>& items,
                     StoreBatcher::Finished finished);
  // Fetch as Store: one Peer.Fetch call, or a Peer.FetchBatch of many.
  void SendOneFetch(Peer* peer, const dht::NodeId& to, const std::string& key, FetchCallback done);
  void SendFetchBatch(Peer* peer, const dht::NodeId& to, const std::vector<FetchItem>& items,
                      FetchBatcher::Finished finished);
  void SendEachFetch(Peer* peer, const dht::NodeId& to, const std::vector<FetchItem>& items,
                     FetchBatcher::Finished finished);

  // Starts one unary call: `start(stub-side context, request, response, callback)`.
  // `finish(status, response)` runs exactly once.
  // The deadline is the rpc timeout, or `timeout` when given.
  template <typename Req, typename Resp, typename Start, typename Finish>
  void Call(Req req, Start start, Finish finish,
            std::optional<absl::Duration> timeout = std::nullopt);

  // Const after construction.
  const Options options_;
  const grpc::ChannelArguments channel_args_;

  util::Gate gate_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Peer>> peers_ ABSL_GUARDED_BY(mu_);
  // Only when join_credentials differ from credentials.
  absl::flat_hash_map<std::string, std::unique_ptr<Peer>> seeds_ ABSL_GUARDED_BY(mu_);
  // Per (address, node ID); empty when batch_window is 0. Never shrink, so
  // a batcher outlives its calls.
  using ContactKey = std::pair<std::string, dht::NodeId>;
  absl::flat_hash_map<ContactKey, std::unique_ptr<StoreBatcher>> store_batchers_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<ContactKey, std::unique_ptr<FetchBatcher>> fetch_batchers_
      ABSL_GUARDED_BY(mu_);
};

template <typename Req, typename Resp, typename Start, typename Finish>
void GrpcPeerTransport::Call(Req req, Start start, Finish finish,
                             std::optional<absl::Duration> timeout) {
  if (!gate_.Enter()) {
    if constexpr (std::is_invocable_v<Finish&, absl::Status, Resp, const grpc::ClientContext&>) {
      finish(absl::UnavailableError("node is shutting down"), Resp{}, grpc::ClientContext());
    } else {
      finish(absl::UnavailableError("node is shutting down"), Resp{});
    }
    return;
  }
  struct State {
    grpc::ClientContext ctx;
    Req req;
    Resp resp;
  };
  auto state = std::make_shared<State>();
  state->req = std::move(req);
  state->ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout.value_or(options_.rpc_timeout)));
  start(&state->ctx, &state->req, &state->resp,
        [this, state, finish = std::move(finish)](grpc::Status s) mutable {
          {
            // The call lets go of all it holds before Leave(), so that once
            // Shutdown() returns no ClientContext keeps a channel alive: a
            // channel that outlives the transport and the server, and is
            // destroyed on gRPC's callback thread, frees that thread's
            // completion queue under it (a double free in gRPC 1.51).
            std::shared_ptr<State> call = std::move(state);
            Finish done = std::move(finish);
            // A Finish that takes the context also sees the call's
            // transport (the certificate the peer presented).
            if constexpr (std::is_invocable_v<Finish&, absl::Status, Resp,
                                              const grpc::ClientContext&>) {
              done(FromGrpc(s), std::move(call->resp), call->ctx);
            } else {
              done(FromGrpc(s), std::move(call->resp));
            }
          }
          gate_.Leave();
        });
}

}  // namespace kv::rpc
