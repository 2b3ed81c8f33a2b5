#include "cmd/kvchaos/client.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cmd/kvchaos/history.h"

namespace kv::chaos {

namespace v1 = kvstore::v1;

namespace {

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return ctx;
}

std::string VersionText(const v1::Version& v) {
  return kv::chaos::VersionText(v.timestamp(), v.node_id());
}

Outcome Failed(const grpc::Status& s, bool is_write) {
  return Outcome{.type = Classify(s, is_write), .error = ErrorText(s)};
}

}  // namespace

Nodes::Nodes(const std::vector<std::string>& addresses,
             const std::shared_ptr<grpc::ChannelCredentials>& credentials)
    : addresses_(addresses) {
  for (const std::string& a : addresses_) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    auto channel = grpc::CreateCustomChannel(a, credentials, args);
    kv_.push_back(v1::KV::NewStub(channel));
    peer_.push_back(v1::Peer::NewStub(channel));
  }
}

// gRPC's codes are absl's, number for number.
std::string ErrorText(const grpc::Status& s) {
  return kv::chaos::ErrorText(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

std::string Classify(const grpc::Status& s, bool is_write) {
  return kv::chaos::Classify(static_cast<absl::StatusCode>(s.error_code()), s.error_message(),
                             is_write);
}

Outcome Put(v1::KV::Stub& kv, const std::string& key, const std::string& value,
            absl::Duration timeout) {
  v1::PutRequest req;
  req.set_key(key);
  req.set_value(value);
  req.set_consistency(v1::QUORUM);
  v1::PutResponse resp;
  grpc::Status s = kv.Put(Context(timeout).get(), req, &resp);
  if (!s.ok()) return Failed(s, /*is_write=*/true);
  return Outcome{.type = "ok", .version = VersionText(resp.version())};
}

Outcome Get(v1::KV::Stub& kv, const std::string& key, absl::Duration timeout, bool wait_for_ready) {
  v1::GetRequest req;
  req.set_key(key);
  req.set_consistency(v1::QUORUM);
  v1::GetResponse resp;
  auto ctx = Context(timeout);
  ctx->set_wait_for_ready(wait_for_ready);
  grpc::Status s = kv.Get(ctx.get(), req, &resp);
  if (!s.ok()) return Failed(s, /*is_write=*/false);
  Outcome o{.type = "ok"};
  if (resp.found()) {
    o.value = resp.value();
    o.version = VersionText(resp.version());
  }
  return o;
}

Outcome Delete(v1::KV::Stub& kv, const std::string& key, absl::Duration timeout) {
  v1::DeleteRequest req;
  req.set_key(key);
  req.set_consistency(v1::QUORUM);
  v1::DeleteResponse resp;
  grpc::Status s = kv.Delete(Context(timeout).get(), req, &resp);
  if (!s.ok()) return Failed(s, /*is_write=*/true);
  return Outcome{.type = "ok", .version = VersionText(resp.version())};
}

}  // namespace kv::chaos
