#include "src/rpc/peer_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "src/rpc/convert.h"
#include "src/security/caller.h"

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

namespace {

// Over TLS, a node that answers as `claimed` must hold that node's
// certificate: otherwise a member could move another node's address to its
// own. Plaintext calls pass (nothing proves anything there).
absl::Status CheckServerIdentity(const grpc::ClientContext& ctx, const dht::NodeId& claimed) {
  std::optional<security::CertificateInfo> cert = security::ServerCertificate(ctx);
  if (!cert || cert->id == claimed) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("the peer answered as node ", claimed.ToHex(),
                                                  " but its certificate is node ", cert->id.ToHex(),
                                                  "'s"));
}

}  // namespace

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
    p->channel = grpc::CreateCustomChannel(
        address, options_.credentials ? options_.credentials : grpc::InsecureChannelCredentials(),
        channel_args_);
    p->kv = v1::KV::NewStub(p->channel);
    p->peer = v1::Peer::NewStub(p->channel);
  }
  return p.get();
}

std::shared_ptr<grpc::Channel> GrpcPeerTransport::Channel(const std::string& address) {
  return PeerFor(address)->channel;
}

v1::KV::Stub* GrpcPeerTransport::JoinStub(const std::string& address) {
  if (!options_.join_credentials) return PeerFor(address)->kv.get();
  absl::MutexLock l(&mu_);
  std::unique_ptr<Peer>& p = seeds_[address];
  if (!p) {
    p = std::make_unique<Peer>();
    p->channel = grpc::CreateCustomChannel(address, options_.join_credentials, channel_args_);
    p->kv = v1::KV::NewStub(p->channel);
  }
  return p->kv.get();
}

v1::KV::Stub* GrpcPeerTransport::KvStub(const std::string& address) {
  return PeerFor(address)->kv.get();
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

void GrpcPeerTransport::SyncTree(const dht::Contact& to,
                                 const std::vector<replication::TreeRange>& ranges,
                                 TreeCallback done) {
  v1::TreeRequest req;
  ToProto(options_.self, req.mutable_from());
  for (const replication::TreeRange& r : ranges) {
    v1::TreeRange* out = req.add_ranges();
    out->set_prefix(r.prefix);
    out->set_depth(static_cast<uint32_t>(r.depth));
    out->set_hash(r.hash);
  }
  v1::Peer::Stub* stub = PeerFor(to.address)->peer.get();
  Call<v1::TreeRequest, v1::TreeResponse>(
      std::move(req),
      [stub](grpc::ClientContext* ctx, const v1::TreeRequest* rq, v1::TreeResponse* rs,
             std::function<void(grpc::Status)> cb) { stub->async()->SyncTree(ctx, rq, rs, cb); },
      [done = std::move(done)](absl::Status s, v1::TreeResponse resp) {
        if (!s.ok()) return done(s);
        done(replication::TreeAnswer{
            .differing = std::vector<uint32_t>(resp.differing().begin(), resp.differing().end()),
            .hashes = std::vector<uint64_t>(resp.hashes().begin(), resp.hashes().end())});
      },
      options_.repair_timeout);
}

void GrpcPeerTransport::Reconcile(const dht::Contact& to, const std::vector<uint32_t>& buckets,
                                  const std::vector<uint32_t>& leaves,
                                  const std::vector<replication::KeyVersion>& keys,
                                  ReconcileCallback done) {
  v1::ReconcileRequest req;
  ToProto(options_.self, req.mutable_from());
  req.mutable_buckets()->Add(buckets.begin(), buckets.end());
  req.mutable_leaves()->Add(leaves.begin(), leaves.end());
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
  req.set_incarnation(options_.incarnation);
  v1::Peer::Stub* stub = PeerFor(to.address)->peer.get();
  Call<v1::LeaveNotice, v1::LeaveNoticeResponse>(
      std::move(req),
      [stub](grpc::ClientContext* ctx, const v1::LeaveNotice* rq, v1::LeaveNoticeResponse* rs,
             std::function<void(grpc::Status)> cb) { stub->async()->Leaving(ctx, rq, rs, cb); },
      [done = std::move(done)](absl::Status s, v1::LeaveNoticeResponse) { done(s); });
}

void GrpcPeerTransport::Gossip(const dht::Contact& to, GossipMessage message, GossipCallback done) {
  v1::GossipRequest req;
  ToProto(options_.self, req.mutable_from());
  req.set_epoch(message.epoch);
  for (const membership::Rumour& r : message.rumours) ToProto(r, req.add_rumours());
  v1::Peer::Stub* stub = PeerFor(to.address)->peer.get();
  Call<v1::GossipRequest, v1::GossipResponse>(
      std::move(req),
      [stub](grpc::ClientContext* ctx, const v1::GossipRequest* rq, v1::GossipResponse* rs,
             std::function<void(grpc::Status)> cb) { stub->async()->Gossip(ctx, rq, rs, cb); },
      [done = std::move(done)](absl::Status s, v1::GossipResponse resp) {
        if (!s.ok()) return done(s);
        GossipMessage answer{.epoch = resp.epoch()};
        for (const v1::Rumour& r : resp.rumours()) {
          if (absl::StatusOr<membership::Rumour> rumour = FromProto(r); rumour.ok()) {
            answer.rumours.push_back(*rumour);
          }
        }
        done(std::move(answer));
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
  FindOwners(to, target, 0, [done = std::move(done)](absl::StatusOr<Neighbours> r) {
    if (!r.ok()) return done(r.status());
    done(std::move(r->closest));
  });
}

void GrpcPeerTransport::FindOwners(const dht::Contact& to, const dht::NodeId& target, size_t owners,
                                   FindOwnersCallback done) {
  v1::FindNodeRequest req;
  ToProto(options_.self, req.mutable_from());
  req.set_target(target.ToHex());
  req.set_owners(static_cast<uint32_t>(owners));
  v1::Peer::Stub* stub = PeerFor(to.address)->peer.get();
  Call<v1::FindNodeRequest, v1::FindNodeResponse>(
      std::move(req),
      [stub](grpc::ClientContext* ctx, const v1::FindNodeRequest* rq, v1::FindNodeResponse* rs,
             std::function<void(grpc::Status)> cb) { stub->async()->FindNode(ctx, rq, rs, cb); },
      [done = std::move(done), to](absl::Status s, v1::FindNodeResponse resp) {
        if (!s.ok()) return done(s);
        // The answer counts as `to`'s only if the node at its address is
        // `to`: the lookup then trusts `to` as verified (Node::Insert).
        if (resp.node().id() != to.id.ToHex()) {
          return done(absl::FailedPreconditionError(absl::StrCat(
              "the node at ", to.address, " answered FIND_NODE as '",
              resp.node().id().substr(0, 40), "', not ", to.id.ToHex(), "; the contact is stale")));
        }
        Neighbours n{ContactsFrom(resp.closest()), ContactsFrom(resp.owners()), {}};
        for (const std::string& hex : resp.down()) {
          if (absl::StatusOr<dht::NodeId> id = dht::NodeId::FromHex(hex); id.ok()) {
            n.down.push_back(*id);
          }
        }
        done(std::move(n));
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
      [done = std::move(done)](absl::Status s, v1::PingResponse resp,
                               const grpc::ClientContext& ctx) {
        if (!s.ok()) return done(s);
        absl::StatusOr<dht::Contact> node = FromProto(resp.node());
        if (node.ok()) {
          if (absl::Status proven = CheckServerIdentity(ctx, node->id); !proven.ok()) {
            return done(proven);
          }
        }
        done(std::move(node));
      });
}

void GrpcPeerTransport::Join(const std::string& address, JoinCallback done) {
  v1::JoinRequest req;
  ToProto(options_.self, req.mutable_node());
  v1::KV::Stub* stub = JoinStub(address);
  Call<v1::JoinRequest, v1::JoinResponse>(
      std::move(req),
      [stub](grpc::ClientContext* ctx, const v1::JoinRequest* rq, v1::JoinResponse* rs,
             std::function<void(grpc::Status)> cb) { stub->async()->Join(ctx, rq, rs, cb); },
      [done = std::move(done)](absl::Status s, v1::JoinResponse resp,
                               const grpc::ClientContext& ctx) {
        if (!s.ok()) return done(s);
        absl::StatusOr<dht::Contact> seed = FromProto(resp.node());
        if (!seed.ok()) return done(seed.status());
        if (absl::Status proven = CheckServerIdentity(ctx, seed->id); !proven.ok()) {
          return done(proven);
        }
        replication::PeerTransport::JoinAnswer out{.contacts = {*seed}};
        for (dht::Contact& c : ContactsFrom(resp.peers())) out.contacts.push_back(std::move(c));
        if (resp.unix_micros() != 0) {
          out.seed_clock = absl::FromUnixMicros(static_cast<int64_t>(resp.unix_micros()));
        }
        done(std::move(out));
      });
}

}  // namespace kv::rpc
