#include "src/rpc/server.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"

namespace kv::rpc {

Server::Server(node::Apis apis, node::TestHooks* hooks, std::string listen_address,
               int max_message_bytes, security::AccessPolicy policy,
               std::shared_ptr<grpc::ServerCredentials> credentials,
               std::optional<ServerMetrics> metrics)
    : listen_address_(std::move(listen_address)),
      max_message_bytes_(max_message_bytes),
      credentials_(credentials ? std::move(credentials) : grpc::InsecureServerCredentials()),
      metrics_(std::move(metrics)),
      guard_(std::move(policy)),
      kv_(apis.client, apis.peer, &heartbeats_, &guard_),
      admin_(apis.admin, hooks, &heartbeats_, &guard_),
      peer_(apis.peer, &guard_) {}

Server::~Server() {
  if (server_) Shutdown(absl::ZeroDuration());
}

absl::Status Server::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(listen_address_, credentials_, &bound_port);
  // Two nodes must never share a port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(max_message_bytes_);
  builder.SetMaxSendMessageSize(max_message_bytes_);
  builder.RegisterService(&kv_);
  builder.RegisterService(&admin_);
  builder.RegisterService(&peer_);
  if (metrics_) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(NewMetricsInterceptorFactory(*metrics_));
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  server_ = builder.BuildAndStart();
  if (!server_ || bound_port == 0) {
    server_.reset();
    return absl::FailedPreconditionError(
        absl::StrCat("cannot listen on ", listen_address_,
                     ": the address is in use or not local; pick another --addr"));
  }
  server_->GetHealthCheckService()->SetServingStatus(true);
  started_ = true;
  return absl::OkStatus();
}

void Server::SetKvServing(bool serving) {
  if (!started_) return;
  server_->GetHealthCheckService()->SetServingStatus(kvstore::v1::KV::service_full_name(), serving);
}

void Server::Shutdown(absl::Duration grace) {
  if (!server_) return;
  started_ = false;
  server_->GetHealthCheckService()->SetServingStatus(false);
  heartbeats_.CloseAll();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  server_.reset();
}

}  // namespace kv::rpc
