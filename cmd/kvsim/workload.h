// kvsim's "kv" workload: closed-loop clients that put and get random keys
// through random live nodes, and the end-of-run check that no acknowledged
// write was lost. (The nemesis is nemesis.h; the chaos suite's workloads
// with histories are chaos_workload.h.)
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "src/sim/cluster.h"

namespace kv::sim {

struct WorkloadOptions {
  int clients = 4;
  int keys = 100;
  absl::Duration think = absl::Milliseconds(10);  // between one client's ops
  absl::Duration timeout = absl::Seconds(2);      // a client's deadline per op
  uint64_t seed = 1;
};

struct WorkloadStats {
  uint64_t puts = 0, gets = 0;
  uint64_t acknowledged = 0;  // puts answered OK
  uint64_t failed = 0;        // ops answered with an error (or none in time)
  uint64_t checked_keys = 0;  // keys read back at the end
  uint64_t lost = 0;          // keys whose newest acknowledged write was not read back
  uint64_t unreadable = 0;    // keys the final read could not read
  // Per answered request (sim::Network::OpCost): the peer calls it caused
  // and its sequential round trips (a lookup's hops, plus one for the
  // replicas).
  std::vector<uint64_t> put_calls, get_calls;
  std::vector<uint64_t> put_round_trips, get_round_trips;
};

// The p-th percentile (0-100) of `v`, nearest rank; 0 when empty.
uint64_t Percentile(std::vector<uint64_t> v, double p);

// Not thread-safe: runs on the cluster's executor.
class Workload {
 public:
  Workload(WorkloadOptions options, Cluster* cluster);

  // Starts the clients; they run until Stop().
  void Start();
  // No new ops from now on.
  void Stop() { running_ = false; }
  // Reads every key written through a live node at ALL; then `done`.
  void Check(std::function<void()> done);

  const WorkloadStats& stats() const { return stats_; }

 private:
  void ClientOp(int client);
  int LiveNode();  // up and not paused

  const WorkloadOptions options_;
  Cluster* const cluster_;
  std::mt19937_64 rng_;
  bool running_ = false;
  uint64_t next_op_ = 0;
  WorkloadStats stats_;
  // Per key, the newest version an acknowledged put returned.
  std::map<std::string, storage::Version> acked_;
};

}  // namespace kv::sim
