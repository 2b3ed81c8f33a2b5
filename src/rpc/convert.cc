#include "src/rpc/convert.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace kv::rpc {

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode share their numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

void ToProto(const storage::Version& v, kvstore::v1::Version* out) {
  out->set_timestamp(v.timestamp);
  out->set_node_id(v.node_id);
}

storage::Version FromProto(const kvstore::v1::Version& v) {
  return storage::Version{v.timestamp(), v.node_id()};
}

void ToProto(const storage::Record& r, kvstore::v1::Record* out) {
  out->set_value(r.value);
  ToProto(r.version, out->mutable_version());
  out->set_tombstone(r.tombstone);
  out->set_expires_at_unix_millis(r.expires_at_ms);
}

storage::Record FromProto(const kvstore::v1::Record& r) {
  storage::Record out;
  out.value = r.value();
  out.version = FromProto(r.version());
  out.tombstone = r.tombstone();
  out.expires_at_ms = r.expires_at_unix_millis();
  return out;
}

void ToProto(const dht::Contact& c, kvstore::v1::NodeInfo* out) {
  out->set_id(c.id.ToHex());
  out->set_address(c.address);
}

absl::StatusOr<dht::Contact> FromProto(const kvstore::v1::NodeInfo& n) {
  absl::StatusOr<dht::NodeId> id = dht::NodeId::FromHex(n.id());
  if (!id.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("node id '", n.id(), "' is not 40 hex characters"));
  }
  if (n.address().empty()) {
    return absl::InvalidArgumentError("node address is empty; give host:port");
  }
  return dht::Contact{*id, n.address()};
}

void ToProto(const membership::Rumour& r, kvstore::v1::Rumour* out) {
  out->set_id(r.subject.ToHex());
  out->set_down(r.down);
  out->set_epoch(r.epoch);
}

absl::StatusOr<membership::Rumour> FromProto(const kvstore::v1::Rumour& r) {
  absl::StatusOr<dht::NodeId> id = dht::NodeId::FromHex(r.id());
  if (!id.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rumour about node '", r.id().substr(0, 40), "': not 40 hex characters"));
  }
  return membership::Rumour{*id, r.down(), r.epoch()};
}

absl::StatusOr<std::optional<replication::Consistency>> FromProto(kvstore::v1::Consistency c) {
  switch (c) {
    case kvstore::v1::CONSISTENCY_DEFAULT:
      return std::nullopt;
    case kvstore::v1::ONE:
      return replication::Consistency::kOne;
    case kvstore::v1::QUORUM:
      return replication::Consistency::kQuorum;
    case kvstore::v1::ALL:
      return replication::Consistency::kAll;
    default:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("consistency ", static_cast<int>(c), " is unknown; use ONE, QUORUM or ALL"));
}

}  // namespace kv::rpc
