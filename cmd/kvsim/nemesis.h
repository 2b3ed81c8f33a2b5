// kvsim's nemeses: the chaos suite's faults (tests/chaos/README.md), on the
// simulated world, on the chaos suite's schedule: quiet for 2-5 s, a fault
// held 4-10 s, healed, and so on, every draw from one seeded generator.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/sim/cluster.h"

namespace kv::sim {

enum class Nemesis {
  kNone,
  kKill,             // 1 or 2 nodes crash; restarted when healed
  kPause,            // 1 or 2 nodes stopped (SIGSTOP); resumed when healed
  kPartitionOne,     // one node cut off from every other, both ways
  kPartitionHalves,  // the nodes split in two halves, cut both ways
  kPartitionBridge,  // two halves cut from each other, one node talking to both
  kPartitionAsym,    // one node drops what 1-4 others send it; they still hear it
  kClog,             // every link to and from one node stalls, nothing lost
  kClockSkew,        // one node restarted with its clock 2-240 s off; then set right
};

// "kill", "partition-one", ... as --nemesis takes them.
absl::StatusOr<Nemesis> ParseNemesis(const std::string& name);
std::string NemesisName(Nemesis n);
std::vector<std::string> NemesisNames();

struct NemesisOptions {
  Nemesis kind = Nemesis::kNone;
  absl::Duration quiet_min = absl::Seconds(2), quiet_max = absl::Seconds(5);
  absl::Duration hold_min = absl::Seconds(4), hold_max = absl::Seconds(10);
  // kill crashes 1 to this many nodes at once. A cluster whose crashed
  // nodes restart empty (no --durable) loses a write whose acknowledging
  // replicas all crash together, so kvsim sets 1 there.
  int max_killed = 2;
  uint64_t seed = 1;
};

// Not thread-safe: runs on the cluster's executor.
class NemesisRunner {
 public:
  // `cluster` must outlive the runner.
  NemesisRunner(NemesisOptions options, Cluster* cluster);

  // Faults from now on, one at a time, until Stop().
  void Start();
  // No more faults: heals the one in progress and restarts every node that
  // is down, with its clock set right.
  void Stop();

  uint64_t faults() const { return faults_; }
  // What each fault did, e.g. "t=12.3s kill 10.0.0.4:50051 for 5s", time
  // from Start().
  const std::vector<std::string>& log() const { return log_; }

 private:
  void Quiet();
  void Fault();
  void Heal();
  absl::Duration Draw(absl::Duration lo, absl::Duration hi);
  // `n` distinct nodes that are up, in random order.
  std::vector<int> Pick(size_t n);
  void Log(const std::string& what);

  const NemesisOptions options_;
  Cluster* const cluster_;
  std::mt19937_64 rng_;
  bool running_ = false;
  absl::Time started_;
  uint64_t faults_ = 0;
  uint64_t generation_ = 0;   // a heal scheduled for an earlier fault is void
  std::vector<int> victims_;  // the current fault's nodes
  std::vector<std::string> log_;
};

}  // namespace kv::sim
