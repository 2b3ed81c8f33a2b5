// Many independent client operations at once, on a node's ClientApi: the
// fan-out behind gRPC's KV.Batch and RESP's MGET, MSET, EXISTS and DEL. Each
// op runs as if sent alone (same validation, replication and consistency);
// the batch is not atomic and its ops may complete in any order. The caller
// gets one result per op, in op order, once every op has completed.
#pragma once

#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "src/node/api.h"

namespace kv::node {

struct BatchOp {
  enum class Kind { kPut, kGet, kDelete };
  Kind kind = Kind::kGet;
  // The key and consistency of every kind; the value and TTL of a put.
  PutArgs args;
  // Not OK: the front door already refused the op (e.g. its access check);
  // it is not run and its result is this status.
  absl::Status refused;
};

struct BatchResult {
  absl::Status status;
  replication::WriteResult write;  // a put's or delete's, when status is OK
  GetReply get;                    // a get's, when status is OK
};

using BatchDone = std::function<void(std::vector<BatchResult>)>;

// Runs every op at once and calls `done` exactly once, on any thread
// (possibly before returning), with ops.size() results in op order. An empty
// batch completes at once.
void RunBatch(ClientApi* client, std::vector<BatchOp> ops, BatchDone done);

}  // namespace kv::node
