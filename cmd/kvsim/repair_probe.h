// What anti-entropy costs (kvsim --workload repair): a store of --keys
// records loaded straight into every owner's engine, rounds on it while
// nothing changes, then --lose-keys records dropped from one owner each and
// the rounds that bring them back (issue 18's "repair whose cost follows
// the difference").
#pragma once

#include <cstdint>

#include "absl/time/time.h"
#include "src/sim/cluster.h"

namespace kv::sim {

struct RepairProbeOptions {
  int keys = 1'000'000;
  int lose_keys = 1;
  int replicas = 3;
  uint64_t seed = 1;
  absl::Duration interval = absl::Seconds(10);  // the cluster's anti-entropy interval
};

// Counters summed over every node (Repairer::AppendStats), for one phase.
struct RepairCost {
  uint64_t rounds = 0, scans = 0, tree_requests = 0, bytes = 0, keys_moved = 0;
};

struct RepairProbeResult {
  RepairCost unchanged;  // rounds over a store where nothing differs
  RepairCost repair;     // from the loss until every lost record is back
  int restored = 0;      // lost records back on their owner
  double restore_s = -1;
  double load_wall_s = 0;
};

// Runs on `cluster` (joined already). Prints progress to stderr.
RepairProbeResult RunRepairProbe(Cluster* cluster, const RepairProbeOptions& options);

}  // namespace kv::sim
