// How fast a failure reaches every node: after --mass-kill, kvsim polls
// every live node's view of every victim (Membership::State) and records,
// for each (node, victim) pair, when the node first saw the victim down,
// whether by its own detector, a rumour (node/gossiper.h) or a call that
// went unanswered (issue 18's "suspicion and death spread within seconds").
#pragma once

#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "src/sim/cluster.h"

namespace kv::sim {

struct Spread {
  uint64_t pairs = 0;  // (live node, victim) pairs watched
  uint64_t seen = 0;   // of which the node saw the victim down before the limit
  // Seconds from the crash until half, 99 % and all of the pairs were seen
  // down; -1 when that share was never reached.
  double p50_s = -1, p99_s = -1, all_s = -1;
};

// Polls every `every` from Start() until every pair was seen or `limit`
// passed. Owned by a shared_ptr: each poll keeps it alive.
// Not thread-safe: runs on the cluster's executor. `victims` are crashed
// already; nodes that are down now are not watchers.
class SpreadProbe : public std::enable_shared_from_this<SpreadProbe> {
 public:
  SpreadProbe(Cluster* cluster, std::vector<int> victims, absl::Duration every,
              absl::Duration limit);
  void Start();
  Spread result() const;

 private:
  void Poll();

  Cluster* const cluster_;
  const absl::Duration every_;
  const absl::Time start_;
  const absl::Time end_;
  std::vector<int> victims_;
  std::vector<int> watchers_;
  // Per watcher, per victim: when it was first seen down (InfiniteFuture: not yet).
  std::vector<std::vector<absl::Time>> seen_at_;
  uint64_t unseen_ = 0;
};

}  // namespace kv::sim
