// kvctl status: the whole cluster in one table, as every member sees it
// (like `etcdctl endpoint status --cluster` or `nodetool status`).
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "cmd/kvctl/output.h"
#include "grpcpp/grpcpp.h"
#include "proto/kv.pb.h"

namespace kv::kvctl {

struct StatusOptions {
  std::string addr;  // the member asked for the member list
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  absl::Duration timeout = absl::Seconds(5);      // per call
  absl::Duration rate_window = absl::Seconds(1);  // between the two samples of ops/s
  Output output = Output::kText;                  // kJson: one object for the cluster
};

// "alive", "suspect", "down", "dead" (kvctl peers and status).
const char* StateName(kvstore::v1::PeerState s);

// Asks `addr` for its members, then every member for its facts (version,
// uptime, keys, bytes, operations) and its view of the others, twice
// rate_window apart for ops/s. Prints one row per member with its state as
// the other members see it, and every disagreement between views (with
// Output::kJson, one line: {"members":[...],"healthy":...}). Returns
// 0 when every member is reachable and seen alive by all, 1 when one is
// not, and 3 when `addr` itself cannot be asked.
int Status(const StatusOptions& o);

}  // namespace kv::kvctl
