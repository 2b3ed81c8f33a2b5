// Small helpers shared by the gRPC service handlers (services.cc, peer_data.cc).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "proto/kv.pb.h"
#include "src/dht/node_id.h"

namespace kv::rpc {

// Finishes the call at once with `s`; returns the reactor to hand to gRPC.
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* ctx, const absl::Status& s);

// Parses the sender of a node-to-node request; peers must say who they are.
absl::StatusOr<dht::Contact> Sender(const kvstore::v1::NodeInfo& from);

// Checks a request's `to` field against this node's ID: OK when empty or
// equal; else FAILED_PRECONDITION saying the sender's contact is stale.
absl::Status CheckRecipient(const std::string& to, const dht::NodeId& self);

}  // namespace kv::rpc
