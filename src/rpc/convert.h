// Conversions between the wire types (proto/kv.proto) and our own types.
// The only place besides the services that knows both.
#pragma once

#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/support/status.h"
#include "proto/kv.pb.h"
#include "src/dht/node_id.h"
#include "src/membership/rumours.h"
#include "src/replication/coordinator.h"
#include "src/storage/record.h"

namespace kv::rpc {

grpc::Status ToGrpc(const absl::Status& s);
absl::Status FromGrpc(const grpc::Status& s);

void ToProto(const storage::Version& v, kvstore::v1::Version* out);
storage::Version FromProto(const kvstore::v1::Version& v);
void ToProto(const storage::Record& r, kvstore::v1::Record* out);
storage::Record FromProto(const kvstore::v1::Record& r);
void ToProto(const dht::Contact& c, kvstore::v1::NodeInfo* out);
// INVALID_ARGUMENT when the id is not 40 hex chars or the address is empty.
[[nodiscard]] absl::StatusOr<dht::Contact> FromProto(const kvstore::v1::NodeInfo& n);

void ToProto(const membership::Rumour& r, kvstore::v1::Rumour* out);
// INVALID_ARGUMENT when the id is not 40 hex chars.
[[nodiscard]] absl::StatusOr<membership::Rumour> FromProto(const kvstore::v1::Rumour& r);

// nullopt for CONSISTENCY_DEFAULT; INVALID_ARGUMENT for values outside the enum.
[[nodiscard]] absl::StatusOr<std::optional<replication::Consistency>> FromProto(
    kvstore::v1::Consistency c);

}  // namespace kv::rpc
