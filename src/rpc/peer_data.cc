// The Peer service's data calls: Store and StoreBatch (replica writes and
// hints from other nodes), Fetch and FetchBatch (replica reads).
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "src/rpc/convert.h"
#include "src/rpc/service_util.h"
#include "src/rpc/services.h"

namespace kv::rpc {

namespace v1 = kvstore::v1;
using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;

namespace {

// Most items one StoreBatch or FetchBatch may carry (GrpcPeerTransport
// sends fewer).
constexpr int kMaxBatchItems = 1024;

// Fills a StoreResult's or FetchResult's error fields.
template <typename Result>
void SetError(const absl::Status& s, Result* out) {
  out->set_code(static_cast<int32_t>(s.code()));
  out->set_message(std::string(s.message()));
}

}  // namespace

void PeerService::ApplyStore(const dht::Contact& from, const std::string& key,
                             const v1::Record& record, const std::string& hint_for,
                             std::function<void(absl::StatusOr<bool>)> done) {
  if (absl::Status s = node_->ValidateKey(key); !s.ok()) return done(s);
  if (absl::Status s = node_->ValidateValue(record.value()); !s.ok()) return done(s);
  if (hint_for.empty()) {
    node_->HandleStore(from, key, FromProto(record), std::move(done));
    return;
  }
  absl::StatusOr<dht::NodeId> target = dht::NodeId::FromHex(hint_for);
  if (!target.ok()) return done(target.status());
  node_->HandleStoreHint(from, *target, key, FromProto(record),
                         [done = std::move(done)](absl::Status s) {
                           if (!s.ok()) return done(s);
                           done(false);  // a hint is kept, not applied to this replica
                         });
}

ServerUnaryReactor* PeerService::Store(CallbackServerContext* ctx, const v1::StoreRequest* req,
                                       v1::StoreResponse* resp) {
  absl::StatusOr<dht::Contact> from = Sender(req->from());
  if (!from.ok()) return FinishNow(ctx, from.status());
  if (absl::Status s = guard_->Member(*ctx, "Peer.Store", &from->id); !s.ok()) {
    return FinishNow(ctx, s);
  }
  if (absl::Status s = CheckRecipient(req->to(), node_->self().id); !s.ok()) {
    return FinishNow(ctx, s);
  }
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  ApplyStore(*from, req->key(), req->record(), req->hint_for(),
             [reactor, resp](absl::StatusOr<bool> applied) {
               if (applied.ok()) resp->set_applied(*applied);
               reactor->Finish(ToGrpc(applied.status()));
             });
  return reactor;
}

ServerUnaryReactor* PeerService::StoreBatch(CallbackServerContext* ctx,
                                            const v1::StoreBatchRequest* req,
                                            v1::StoreBatchResponse* resp) {
  absl::StatusOr<dht::Contact> from = Sender(req->from());
  if (!from.ok()) return FinishNow(ctx, from.status());
  if (absl::Status s = guard_->Member(*ctx, "Peer.StoreBatch", &from->id); !s.ok()) {
    return FinishNow(ctx, s);
  }
  if (absl::Status s = CheckRecipient(req->to(), node_->self().id); !s.ok()) {
    return FinishNow(ctx, s);
  }
  const int n = req->items_size();
  if (n > kMaxBatchItems) {
    return FinishNow(
        ctx, absl::InvalidArgumentError(absl::StrCat("store batch has ", n, " items; send at most ",
                                                     kMaxBatchItems, " per call")));
  }
  if (n == 0) return FinishNow(ctx, absl::OkStatus());
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  for (int i = 0; i < n; ++i) resp->add_results();
  // Items are applied independently (on the storage pool when the engine has
  // one, so that RocksDB commits them as a group); the last to complete
  // finishes the call. Each writes only its own result message.
  auto pending = std::make_shared<std::atomic<int>>(n);
  for (int i = 0; i < n; ++i) {
    const v1::StoreItem& item = req->items(i);
    v1::StoreResult* out = resp->mutable_results(i);
    ApplyStore(*from, item.key(), item.record(), item.hint_for(),
               [reactor, pending, out](absl::StatusOr<bool> applied) {
                 if (applied.ok()) {
                   out->set_applied(*applied);
                 } else {
                   SetError(applied.status(), out);
                 }
                 if (pending->fetch_sub(1, std::memory_order_acq_rel) == 1) {
                   reactor->Finish(grpc::Status::OK);
                 }
               });
  }
  return reactor;
}

ServerUnaryReactor* PeerService::Fetch(CallbackServerContext* ctx, const v1::FetchRequest* req,
                                       v1::FetchResponse* resp) {
  if (absl::Status s = guard_->Member(*ctx, "Peer.Fetch"); !s.ok()) return FinishNow(ctx, s);
  if (absl::Status s = CheckRecipient(req->to(), node_->self().id); !s.ok()) {
    return FinishNow(ctx, s);
  }
  if (absl::Status s = node_->ValidateKey(req->key()); !s.ok()) return FinishNow(ctx, s);
  absl::StatusOr<std::optional<storage::Record>> rec = node_->HandleFetch(req->key());
  if (rec.ok() && *rec) {
    resp->set_found(true);
    ToProto(**rec, resp->mutable_record());
  }
  return FinishNow(ctx, rec.status());
}

ServerUnaryReactor* PeerService::FetchBatch(CallbackServerContext* ctx,
                                            const v1::FetchBatchRequest* req,
                                            v1::FetchBatchResponse* resp) {
  if (absl::Status s = guard_->Member(*ctx, "Peer.FetchBatch"); !s.ok()) return FinishNow(ctx, s);
  if (absl::Status s = CheckRecipient(req->to(), node_->self().id); !s.ok()) {
    return FinishNow(ctx, s);
  }
  if (req->keys_size() > kMaxBatchItems) {
    return FinishNow(ctx, absl::InvalidArgumentError(
                              absl::StrCat("fetch batch has ", req->keys_size(),
                                           " keys; send at most ", kMaxBatchItems, " per call")));
  }
  // Reads are synchronous: answered in order, on this thread.
  for (const std::string& key : req->keys()) {
    v1::FetchResult* out = resp->add_results();
    if (absl::Status s = node_->ValidateKey(key); !s.ok()) {
      SetError(s, out);
      continue;
    }
    absl::StatusOr<std::optional<storage::Record>> rec = node_->HandleFetch(key);
    if (!rec.ok()) {
      SetError(rec.status(), out);
    } else if (*rec) {
      out->set_found(true);
      ToProto(**rec, out->mutable_record());
    }
  }
  return FinishNow(ctx, absl::OkStatus());
}

}  // namespace kv::rpc
