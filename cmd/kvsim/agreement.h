// Replica-set agreement: do coordinators name the owners an oracle that
// sees every node would? kvsim asks random nodes to Locate random keys once
// the run has settled and compares each answer with the N closest nodes
// that are up (issue 18's "coordinators agreeing on a key's replica set").
#pragma once

#include <cstdint>
#include <functional>

#include "src/sim/cluster.h"

namespace kv::sim {

struct Agreement {
  uint64_t asked = 0;       // Locate calls, one per (key, coordinator)
  uint64_t answered = 0;    // of which answered OK
  uint64_t agreeing = 0;    // of which named the oracle's owners, in order
  uint64_t keys_split = 0;  // keys on which two coordinators named different sets
};

// Asks `per_key` distinct up nodes to Locate each of `keys` random keys
// (seeded by `seed`), all at once; `done` runs on the executor once every
// answer is in. Not thread-safe: runs on the cluster's executor.
void MeasureAgreement(Cluster* cluster, int keys, int per_key, int replicas, uint64_t seed,
                      std::function<void(Agreement)> done);

}  // namespace kv::sim
