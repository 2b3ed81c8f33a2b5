// A simulated client's request to one node, with the client's own deadline:
// a node that crashes with the request in flight never answers it, so the
// client, as a real one would, gives up after `timeout`.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/sim/cluster.h"

namespace kv::sim {

// Sends `op` to node `i` and calls `done` exactly once: with the node's
// answer, with UNAVAILABLE when the node is down (gRPC's "failed to connect
// to all addresses", so the request certainly did nothing), or with DEADLINE_EXCEEDED after
// `timeout`. `op` gets the node and the callback to answer with.
template <typename R>
void ClientCall(Cluster& cluster, int i, absl::Duration timeout,
                std::function<void(node::Node&, std::function<void(absl::StatusOr<R>)>)> op,
                std::function<void(absl::StatusOr<R>)> done) {
  struct State {
    bool fired = false;
    std::function<void(absl::StatusOr<R>)> done;
  };
  auto state = std::make_shared<State>();
  state->done = std::move(done);
  auto finish = [state](absl::StatusOr<R> r) {
    if (state->fired) return;
    state->fired = true;
    state->done(std::move(r));
  };
  cluster.executor().After(timeout, [finish] {
    finish(absl::DeadlineExceededError("simulated client deadline exceeded"));
  });
  cluster.Submit(
      i, [op = std::move(op), finish](node::Node& n) { op(n, finish); },
      [finish] {
        finish(absl::UnavailableError("failed to connect to all addresses (simulated: node down)"));
      });
}

}  // namespace kv::sim
