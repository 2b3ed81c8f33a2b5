// kvchaos: gRPC connections to the nodes under test, and one call per operation.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "proto/kv.grpc.pb.h"

namespace kv::chaos {

// One channel per node, shared by every thread (gRPC stubs are thread-safe).
// Reconnect backoff is short, so a restarted node is used again within a second.
class Nodes {
 public:
  Nodes(const std::vector<std::string>& addresses,
        const std::shared_ptr<grpc::ChannelCredentials>& credentials);
  size_t size() const { return addresses_.size(); }
  const std::string& address(size_t i) const { return addresses_[i]; }
  kvstore::v1::KV::Stub& kv(size_t i) { return *kv_[i]; }
  kvstore::v1::Peer::Stub& peer(size_t i) { return *peer_[i]; }

 private:
  std::vector<std::string> addresses_;
  std::vector<std::unique_ptr<kvstore::v1::KV::Stub>> kv_;
  std::vector<std::unique_ptr<kvstore::v1::Peer::Stub>> peer_;
};

// How one operation ended, as the history records it.
struct Outcome {
  std::string type;                  // ok, fail or info
  std::string error;                 // "CODE: message" unless ok
  std::optional<std::string> value;  // a read's value when found
  std::string version;               // "<timestamp>@<node id prefix>" when ok
};

// What a failed call means for the history. A read that failed changed
// nothing: fail. A write is `fail` only when it certainly never reached a
// node (the channel could not connect, or the request was invalid); any other
// error is `info`, because replicas may have applied it, or keep it as a
// hint and apply it later.
std::string Classify(const grpc::Status& s, bool is_write);

// "CODE: message" for a failed status.
std::string ErrorText(const grpc::Status& s);

// The operations, each at QUORUM with a deadline `timeout` from now. They
// fail fast while the node cannot be connected to, unless `wait_for_ready`
// (then they wait for a connection until the deadline).
Outcome Put(kvstore::v1::KV::Stub& kv, const std::string& key, const std::string& value,
            absl::Duration timeout);
Outcome Get(kvstore::v1::KV::Stub& kv, const std::string& key, absl::Duration timeout,
            bool wait_for_ready = false);
Outcome Delete(kvstore::v1::KV::Stub& kv, const std::string& key, absl::Duration timeout);

}  // namespace kv::chaos
