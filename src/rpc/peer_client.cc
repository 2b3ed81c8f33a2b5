#include "src/rpc/peer_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "src/rpc/convert.h"

namespace kv::rpc {

namespace v1 = kvstore::v1;

grpc::ChannelArguments PeerChannelArguments(int max_message_bytes) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_message_bytes);
  args.SetMaxSendMessageSize(max_message_bytes);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  return args;
}

GrpcPeerTransport::GrpcPeerTransport(Options options)
    : options_(std::move(options)),
      channel_args_(PeerChannelArguments(options_.max_message_bytes)) {}

GrpcPeerTransport::~GrpcPeerTransport() { Shutdown(); }

void GrpcPeerTransport::Shutdown(absl::Duration timeout) { gate_.Close(timeout); }

GrpcPeerTransport::Peer* GrpcPeerTransport::PeerFor(const std::string& address) {
  absl::MutexLock l(&mu_);
  std::unique_ptr<Peer>& p = peers_[address];
  if (!p) {
    p = std::make_unique<Peer>();
    p->channel =
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), channel_args_);
    p->kv = v1::KV::NewStub(p->channel);
    p->peer = v1::Peer::NewStub(p->channel);
  }
  return p.get();
}

StoreBatcher* GrpcPeerTransport::BatcherFor(const dht::Contact& to, Peer* peer) {
  absl::MutexLock l(&mu_);
  std::unique_ptr<StoreBatcher>& b = batchers_[std::make_pair(to.address, to.id)];
  if (!b) {
    // peers_ and batchers_ never drop an entry, so `peer` outlives the batcher's calls.
    b = std::make_unique<StoreBatcher>(
        StoreBatcher::Options{.window = options_.store_batch_window,
                              .max_bytes = static_cast<size_t>(options_.max_message_bytes) / 2},
        [this, peer, id = to.id](const std::vector<StoreItem>& items,
                                 StoreBatcher::Finished finished) {
          SendStoreBatch(peer, id, items, std::move(finished));
        });
  }
  return b.get();
}

std::shared_ptr<grpc::Channel> GrpcPeerTransport::Channel(const std::string& address) {
  return PeerFor(address)->channel;
}

v1::KV::Stub* GrpcPeerTransport::KvStub(const std::string& address) {
  return PeerFor(address)->kv.get();
}

template <typename Req, typename Resp, typename Start, typename Finish>
void GrpcPeerTransport::Call(Req req, Start start, Finish finish,
                             std::optional<absl::Duration> timeout) {
  if (!gate_.Enter()) {
    finish(absl::UnavailableError("node is shutting down"), Resp{});
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
          finish(FromGrpc(s), std::move(state->resp));
          gate_.Leave();
        });
}

void GrpcPeerTransport::Store(const dht::Contact& to, const std::string& key,
                              const storage::Record& rec, StoreCallback done) {
  SendStore(to, key, rec, /*hint_for=*/nullptr, std::move(done));
}

void GrpcPeerTransport::StoreHint(const dht::Contact& to, const dht::NodeId& target,
                                  const std::string& key, const storage::Record& rec,
                                  StoreCallback done) {
  SendStore(to, key, rec, &target, std::move(done));
}

void GrpcPeerTransport::SendStore(const dht::Contact& to, const std::string& key,
                                  const storage::Record& rec, const dht::NodeId* hint_for,
                                  StoreCallback done) {
  Peer* peer = PeerFor(to.address);
  if (options_.store_batch_window == 0 || peer->batch_unsupported.load(std::memory_order_relaxed)) {
    return SendOneStore(peer, to.id, key, rec, hint_for, std::move(done));
  }
  BatcherFor(to, peer)->Add(
      StoreItem{.key = key,
                .rec = rec,
                .hint_for = hint_for ? std::optional(*hint_for) : std::nullopt,
                .deadline = absl::Now() + options_.rpc_timeout,
                .done = std::move(done)});
}

void GrpcPeerTransport::SendOneStore(Peer* peer, const dht::NodeId& to, const std::string& key,
                                     const storage::Record& rec, const dht::NodeId* hint_for,
                                     StoreCallback done) {
  v1::StoreRequest req;
  ToProto(options_.self, req.mutable_from());
  req.set_to(to.ToHex());
  req.set_key(key);
  ToProto(rec, req.mutable_record());
  if (hint_for) req.set_hint_for(hint_for->ToHex());
  v1::Peer::Stub* stub = peer->peer.get();
  Call<v1::StoreRequest, v1::StoreResponse>(
      std::move(req),
      [stub](grpc::ClientContext* ctx, const v1::StoreRequest* rq, v1::StoreResponse* rs,
             std::function<void(grpc::Status)> cb) { stub->async()->Store(ctx, rq, rs, cb); },
      [done = std::move(done)](absl::Status s, v1::StoreResponse) { done(s); });
}

void GrpcPeerTransport::SendStoreBatch(Peer* peer, const dht::NodeId& to,
                                       const std::vector<StoreItem>& items,
                                       StoreBatcher::Finished finished) {
  v1::StoreBatchRequest req;
  ToProto(options_.self, req.mutable_from());
  req.set_to(to.ToHex());
  absl::Time deadline = absl::InfiniteFuture();
  for (const StoreItem& item : items) {
    v1::StoreItem* out = req.add_items();
    out->set_key(item.key);
    ToProto(item.rec, out->mutable_record());
    if (item.hint_for) out->set_hint_for(item.hint_for->ToHex());
    deadline = std::min(deadline, item.deadline);
  }
  v1::Peer::Stub* stub = peer->peer.get();
  Call<v1::StoreBatchRequest, v1::StoreBatchResponse>(
      std::move(req),
      [stub](grpc::ClientContext* ctx, const v1::StoreBatchRequest* rq, v1::StoreBatchResponse* rs,
             std::function<void(grpc::Status)> cb) { stub->async()->StoreBatch(ctx, rq, rs, cb); },
      [this, peer, to, &items, finished = std::move(finished)](
          absl::Status s, v1::StoreBatchResponse resp) mutable {
        if (s.code() == absl::StatusCode::kUnimplemented) {
          // An older peer: from now on, one Store per call to it.
          if (!peer->batch_unsupported.exchange(true)) {
            spdlog::info("a peer lacks Peer.StoreBatch; sending it one Store per call");
          }
          return SendEachStore(peer, to, items, std::move(finished));
        }
        std::vector<absl::Status> out(items.size(), s);
        if (s.ok()) {
          for (size_t i = 0; i < items.size(); ++i) {
            if (i >= static_cast<size_t>(resp.results_size())) {
              out[i] = absl::InternalError(absl::StrCat(
                  "the replica answered ", resp.results_size(), " of ", items.size(), " stores"));
              continue;
            }
            const v1::StoreResult& r = resp.results(static_cast<int>(i));
            out[i] = absl::Status(static_cast<absl::StatusCode>(r.code()), r.message());
          }
        }
        finished(std::move(out));
      },
      std::max(absl::ZeroDuration(), deadline - absl::Now()));
}

void GrpcPeerTransport::SendEachStore(Peer* peer, const dht::NodeId& to,
                                      const std::vector<StoreItem>& items,
                                      StoreBatcher::Finished finished) {
  struct Gather {
    std::vector<absl::Status> results;
    std::atomic<size_t> pending;
    StoreBatcher::Finished finished;
  };
  auto g = std::make_shared<Gather>();
  g->results.resize(items.size());
  g->pending = items.size();
  g->finished = std::move(finished);
  // The last answer may free `items`, so the loop does not read its size.
  const size_t n = items.size();
  for (size_t i = 0; i < n; ++i) {
    const StoreItem& item = items[i];
    SendOneStore(peer, to, item.key, item.rec, item.hint_for ? &*item.hint_for : nullptr,
                 [g, i](absl::Status s) {
                   g->results[i] = std::move(s);
                   if (g->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                     g->finished(std::move(g->results));
                   }
                 });
  }
}

void GrpcPeerTransport::SyncDigest(const dht::Contact& to, const replication::Digest& digest,
                                   bool root_only, DigestCallback done) {
  v1::DigestRequest req;
  ToProto(options_.self, req.mutable_from());
  req.set_root(replication::DigestRoot(digest));
  if (!root_only) req.mutable_buckets()->Add(digest.begin(), digest.end());
  v1::Peer::Stub* stub = PeerFor(to.address)->peer.get();
  Call<v1::DigestRequest, v1::DigestResponse>(
      std::move(req),
      [stub](grpc::ClientContext* ctx, const v1::DigestRequest* rq, v1::DigestResponse* rs,
             std::function<void(grpc::Status)> cb) { stub->async()->SyncDigest(ctx, rq, rs, cb); },
      [done = std::move(done)](absl::Status s, v1::DigestResponse resp) {
        if (!s.ok()) return done(s);
        done(replication::DigestAnswer{
            .root_matches = resp.root_matches(),
            .differing = std::vector<uint32_t>(resp.differing().begin(), resp.differing().end())});
      },
      options_.repair_timeout);
}

void GrpcPeerTransport::Reconcile(const dht::Contact& to, const std::vector<uint32_t>& buckets,
                                  const std::vector<replication::KeyVersion>& keys,
                                  ReconcileCallback done) {
  v1::ReconcileRequest req;
  ToProto(options_.self, req.mutable_from());
  req.mutable_buckets()->Add(buckets.begin(), buckets.end());
  for (const replication::KeyVersion& kv : keys) {
    v1::KeyVersion* out = req.add_keys();
    out->set_key(kv.key);
    ToProto(kv.version, out->mutable_version());
    out->set_tombstone(kv.tombstone);
  }
  v1::Peer::Stub* stub = PeerFor(to.address)->peer.get();
  Call<v1::ReconcileRequest, v1::ReconcileResponse>(
      std::move(req),
      [stub](grpc::ClientContext* ctx, const v1::ReconcileRequest* rq, v1::ReconcileResponse* rs,
             std::function<void(grpc::Status)> cb) { stub->async()->Reconcile(ctx, rq, rs, cb); },
      [done = std::move(done)](absl::Status s, v1::ReconcileResponse resp) {
        if (!s.ok()) return done(s);
        replication::ReconcilePlan plan;
        plan.truncated = resp.truncated();
        for (v1::KeyRecord& r : *resp.mutable_newer()) {
          plan.newer.push_back({std::move(*r.mutable_key()), FromProto(r.record())});
        }
        for (std::string& k : *resp.mutable_wanted()) plan.wanted.push_back(std::move(k));
        done(std::move(plan));
      },
      options_.repair_timeout);
}

void GrpcPeerTransport::Leaving(const dht::Contact& to, StoreCallback done) {
  v1::LeaveNotice req;
  ToProto(options_.self, req.mutable_from());
  v1::Peer::Stub* stub = PeerFor(to.address)->peer.get();
  Call<v1::LeaveNotice, v1::LeaveNoticeResponse>(
      std::move(req),
      [stub](grpc::ClientContext* ctx, const v1::LeaveNotice* rq, v1::LeaveNoticeResponse* rs,
             std::function<void(grpc::Status)> cb) { stub->async()->Leaving(ctx, rq, rs, cb); },
      [done = std::move(done)](absl::Status s, v1::LeaveNoticeResponse) { done(s); });
}

void GrpcPeerTransport::Fetch(const dht::Contact& to, const std::string& key, FetchCallback done) {
  v1::FetchRequest req;
  ToProto(options_.self, req.mutable_from());
  req.set_to(to.id.ToHex());
  req.set_key(key);
  v1::Peer::Stub* stub = PeerFor(to.address)->peer.get();
  Call<v1::FetchRequest, v1::FetchResponse>(
      std::move(req),
      [stub](grpc::ClientContext* ctx, const v1::FetchRequest* rq, v1::FetchResponse* rs,
             std::function<void(grpc::Status)> cb) { stub->async()->Fetch(ctx, rq, rs, cb); },
      [done = std::move(done)](absl::Status s, v1::FetchResponse resp) {
        if (!s.ok()) return done(s);
        if (!resp.found()) return done(std::optional<storage::Record>());
        done(std::optional<storage::Record>(FromProto(resp.record())));
      });
}

namespace {

std::vector<dht::Contact> ContactsFrom(const google::protobuf::RepeatedPtrField<v1::NodeInfo>& in) {
  std::vector<dht::Contact> out;
  for (const v1::NodeInfo& n : in) {
    absl::StatusOr<dht::Contact> c = FromProto(n);
    if (c.ok()) out.push_back(*std::move(c));
  }
  return out;
}

}  // namespace

void GrpcPeerTransport::FindNode(const dht::Contact& to, const dht::NodeId& target,
                                 FindNodeCallback done) {
  v1::FindNodeRequest req;
  ToProto(options_.self, req.mutable_from());
  req.set_target(target.ToHex());
  v1::Peer::Stub* stub = PeerFor(to.address)->peer.get();
  Call<v1::FindNodeRequest, v1::FindNodeResponse>(
      std::move(req),
      [stub](grpc::ClientContext* ctx, const v1::FindNodeRequest* rq, v1::FindNodeResponse* rs,
             std::function<void(grpc::Status)> cb) { stub->async()->FindNode(ctx, rq, rs, cb); },
      [done = std::move(done)](absl::Status s, v1::FindNodeResponse resp) {
        if (!s.ok()) return done(s);
        done(ContactsFrom(resp.closest()));
      });
}

void GrpcPeerTransport::Ping(const std::string& address, PingCallback done) {
  v1::PingRequest req;
  ToProto(options_.self, req.mutable_from());
  v1::KV::Stub* stub = PeerFor(address)->kv.get();
  Call<v1::PingRequest, v1::PingResponse>(
      std::move(req),
      [stub](grpc::ClientContext* ctx, const v1::PingRequest* rq, v1::PingResponse* rs,
             std::function<void(grpc::Status)> cb) { stub->async()->Ping(ctx, rq, rs, cb); },
      [done = std::move(done)](absl::Status s, v1::PingResponse resp) {
        if (!s.ok()) return done(s);
        done(FromProto(resp.node()));
      });
}

void GrpcPeerTransport::Join(const std::string& address, JoinCallback done) {
  v1::JoinRequest req;
  ToProto(options_.self, req.mutable_node());
  v1::KV::Stub* stub = PeerFor(address)->kv.get();
  Call<v1::JoinRequest, v1::JoinResponse>(
      std::move(req),
      [stub](grpc::ClientContext* ctx, const v1::JoinRequest* rq, v1::JoinResponse* rs,
             std::function<void(grpc::Status)> cb) { stub->async()->Join(ctx, rq, rs, cb); },
      [done = std::move(done)](absl::Status s, v1::JoinResponse resp) {
        if (!s.ok()) return done(s);
        absl::StatusOr<dht::Contact> seed = FromProto(resp.node());
        if (!seed.ok()) return done(seed.status());
        std::vector<dht::Contact> out{*seed};
        for (dht::Contact& c : ContactsFrom(resp.peers())) out.push_back(std::move(c));
        done(std::move(out));
      });
}

}  // namespace kv::rpc
