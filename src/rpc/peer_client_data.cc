// GrpcPeerTransport's data calls: Store, StoreHint and Fetch, sent through
// per-peer batchers as Peer.StoreBatch / Peer.FetchBatch calls (or one call
// each when batching is off or the peer is older).
#include <algorithm>
#include <atomic>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "src/rpc/convert.h"
#include "src/rpc/peer_client.h"

namespace kv::rpc {

namespace v1 = kvstore::v1;

namespace {

// Sends each of `n` items alone (`send_one(i, done)`), and calls `finished`
// with the n results, in order, once all are in. The caller's items may be
// freed by `finished`, so `send_one` must not be called after it.
template <typename Result>
void GatherEach(size_t n, const std::function<void(size_t, std::function<void(Result)>)>& send_one,
                std::function<void(std::vector<Result>)> finished) {
  struct Gather {
    std::vector<Result> results;
    std::atomic<size_t> pending;
    std::function<void(std::vector<Result>)> finished;
  };
  auto g = std::make_shared<Gather>();
  g->results.resize(n);
  g->pending = n;
  g->finished = std::move(finished);
  for (size_t i = 0; i < n; ++i) {
    send_one(i, [g, i](Result r) {
      g->results[i] = std::move(r);
      if (g->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        g->finished(std::move(g->results));
      }
    });
  }
}

// The per-item status a batch answer carries.
absl::Status ItemStatus(int32_t code, const std::string& message) {
  return absl::Status(static_cast<absl::StatusCode>(code), message);
}

absl::Status MissingAnswer(int answered, size_t sent) {
  return absl::InternalError(
      absl::StrCat("the replica answered ", answered, " of ", sent, " items"));
}

// Earliest deadline among `items`, as a timeout from now.
template <typename Item>
absl::Duration TimeLeft(const std::vector<Item>& items) {
  absl::Time deadline = absl::InfiniteFuture();
  for (const Item& item : items) deadline = std::min(deadline, item.deadline);
  return std::max(absl::ZeroDuration(), deadline - absl::Now());
}

// Logs, once per peer and kind, that the peer is older and lacks a batch call.
void NoteUnsupported(std::atomic<bool>& flag, const char* call) {
  if (!flag.exchange(true)) {
    spdlog::info("a peer lacks Peer.{}; sending it one call per item", call);
  }
}

}  // namespace

StoreBatcher* GrpcPeerTransport::StoreBatcherFor(const dht::Contact& to, Peer* peer) {
  absl::MutexLock l(&mu_);
  std::unique_ptr<StoreBatcher>& b = store_batchers_[ContactKey(to.address, to.id)];
  if (!b) {
    b = std::make_unique<StoreBatcher>(
        StoreBatcher::Options{.window = options_.batch_window,
                              .max_bytes = static_cast<size_t>(options_.max_message_bytes) / 2},
        [this, peer, id = to.id](const std::vector<StoreItem>& items,
                                 StoreBatcher::Finished finished) {
          SendStoreBatch(peer, id, items, std::move(finished));
        });
  }
  return b.get();
}

FetchBatcher* GrpcPeerTransport::FetchBatcherFor(const dht::Contact& to, Peer* peer) {
  absl::MutexLock l(&mu_);
  std::unique_ptr<FetchBatcher>& b = fetch_batchers_[ContactKey(to.address, to.id)];
  if (!b) {
    // Answers carry values: keep a batch's keys to a small share of the
    // message limit (values are bounded by the peer's --max-value-bytes).
    b = std::make_unique<FetchBatcher>(
        FetchBatcher::Options{.window = options_.batch_window, .max_items = 64},
        [this, peer, id = to.id](const std::vector<FetchItem>& items,
                                 FetchBatcher::Finished finished) {
          SendFetchBatch(peer, id, items, std::move(finished));
        });
  }
  return b.get();
}

// ---- Store

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
  if (options_.batch_window == 0 || peer->store_batch_unsupported.load(std::memory_order_relaxed)) {
    return SendOneStore(peer, to.id, key, rec, hint_for, std::move(done));
  }
  StoreBatcherFor(to, peer)->Add(
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
  for (const StoreItem& item : items) {
    v1::StoreItem* out = req.add_items();
    out->set_key(item.key);
    ToProto(item.rec, out->mutable_record());
    if (item.hint_for) out->set_hint_for(item.hint_for->ToHex());
  }
  v1::Peer::Stub* stub = peer->peer.get();
  Call<v1::StoreBatchRequest, v1::StoreBatchResponse>(
      std::move(req),
      [stub](grpc::ClientContext* ctx, const v1::StoreBatchRequest* rq, v1::StoreBatchResponse* rs,
             std::function<void(grpc::Status)> cb) { stub->async()->StoreBatch(ctx, rq, rs, cb); },
      [this, peer, to, &items, finished = std::move(finished)](
          absl::Status s, v1::StoreBatchResponse resp) mutable {
        if (s.code() == absl::StatusCode::kUnimplemented) {
          NoteUnsupported(peer->store_batch_unsupported, "StoreBatch");
          return SendEachStore(peer, to, items, std::move(finished));
        }
        std::vector<absl::Status> out(items.size(), s);
        for (size_t i = 0; s.ok() && i < items.size(); ++i) {
          out[i] = i < static_cast<size_t>(resp.results_size())
                       ? ItemStatus(resp.results(static_cast<int>(i)).code(),
                                    resp.results(static_cast<int>(i)).message())
                       : MissingAnswer(resp.results_size(), items.size());
        }
        finished(std::move(out));
      },
      TimeLeft(items));
}

void GrpcPeerTransport::SendEachStore(Peer* peer, const dht::NodeId& to,
                                      const std::vector<StoreItem>& items,
                                      StoreBatcher::Finished finished) {
  GatherEach<absl::Status>(
      items.size(),
      [&](size_t i, std::function<void(absl::Status)> done) {
        const StoreItem& item = items[i];
        SendOneStore(peer, to, item.key, item.rec, item.hint_for ? &*item.hint_for : nullptr,
                     std::move(done));
      },
      std::move(finished));
}

// ---- Fetch

void GrpcPeerTransport::Fetch(const dht::Contact& to, const std::string& key, FetchCallback done) {
  Peer* peer = PeerFor(to.address);
  if (options_.batch_window == 0 || peer->fetch_batch_unsupported.load(std::memory_order_relaxed)) {
    return SendOneFetch(peer, to.id, key, std::move(done));
  }
  FetchBatcherFor(to, peer)->Add(FetchItem{
      .key = key, .deadline = absl::Now() + options_.rpc_timeout, .done = std::move(done)});
}

void GrpcPeerTransport::SendOneFetch(Peer* peer, const dht::NodeId& to, const std::string& key,
                                     FetchCallback done) {
  v1::FetchRequest req;
  ToProto(options_.self, req.mutable_from());
  req.set_to(to.ToHex());
  req.set_key(key);
  v1::Peer::Stub* stub = peer->peer.get();
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

void GrpcPeerTransport::SendFetchBatch(Peer* peer, const dht::NodeId& to,
                                       const std::vector<FetchItem>& items,
                                       FetchBatcher::Finished finished) {
  v1::FetchBatchRequest req;
  ToProto(options_.self, req.mutable_from());
  req.set_to(to.ToHex());
  for (const FetchItem& item : items) req.add_keys(item.key);
  v1::Peer::Stub* stub = peer->peer.get();
  Call<v1::FetchBatchRequest, v1::FetchBatchResponse>(
      std::move(req),
      [stub](grpc::ClientContext* ctx, const v1::FetchBatchRequest* rq, v1::FetchBatchResponse* rs,
             std::function<void(grpc::Status)> cb) { stub->async()->FetchBatch(ctx, rq, rs, cb); },
      [this, peer, to, &items, finished = std::move(finished)](
          absl::Status s, v1::FetchBatchResponse resp) mutable {
        if (s.code() == absl::StatusCode::kUnimplemented) {
          NoteUnsupported(peer->fetch_batch_unsupported, "FetchBatch");
          return SendEachFetch(peer, to, items, std::move(finished));
        }
        // (A StatusOr cannot hold an OK status: each result is set alone.)
        std::vector<FetchItem::Result> out;
        out.reserve(items.size());
        for (size_t i = 0; i < items.size(); ++i) {
          if (!s.ok()) {
            out.emplace_back(s);
          } else if (i >= static_cast<size_t>(resp.results_size())) {
            out.emplace_back(MissingAnswer(resp.results_size(), items.size()));
          } else if (const v1::FetchResult& r = resp.results(static_cast<int>(i)); r.code() != 0) {
            out.emplace_back(ItemStatus(r.code(), r.message()));
          } else if (!r.found()) {
            out.emplace_back(std::optional<storage::Record>());
          } else {
            out.emplace_back(std::optional<storage::Record>(FromProto(r.record())));
          }
        }
        finished(std::move(out));
      },
      TimeLeft(items));
}

void GrpcPeerTransport::SendEachFetch(Peer* peer, const dht::NodeId& to,
                                      const std::vector<FetchItem>& items,
                                      FetchBatcher::Finished finished) {
  GatherEach<FetchItem::Result>(
      items.size(),
      [&](size_t i, std::function<void(FetchItem::Result)> done) {
        SendOneFetch(peer, to, items[i].key, std::move(done));
      },
      std::move(finished));
}

}  // namespace kv::rpc
