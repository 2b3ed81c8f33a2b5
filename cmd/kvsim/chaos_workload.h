// kvsim's "chaos" workload: the chaos suite's three workloads (register,
// set, delete; tests/chaos/README.md) as simulated clients, writing their
// histories, the replicas' records after heal and the final reads in the
// suite's JSON-lines format, so that its Python checkers judge a kvsim run
// exactly as they judge a real one (tests/chaos/check_run.py).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cmd/kvchaos/history.h"
#include "src/sim/cluster.h"

namespace kv::sim {

struct ChaosOptions {
  std::string dir;  // register.jsonl, set.jsonl, delete.jsonl and replicas-*.jsonl go here
  int clients = 3;  // per workload, as the chaos suite runs them
  int register_keys = 5;
  // Between one client's ops: about the suite's 15 ops/s per client.
  absl::Duration think = absl::Milliseconds(66);
  absl::Duration timeout = absl::Seconds(1);  // the suite's client deadline
  absl::Duration read_back_after = absl::Seconds(1);
  uint64_t seed = 1;
};

struct ChaosStats {
  uint64_t ops = 0, ok = 0, fail = 0, info = 0;
  uint64_t final_unread = 0;  // keys the final reads could not read
};

// Not thread-safe: runs on the cluster's executor.
class ChaosWorkload {
 public:
  // Creates the history files (the error names the one that failed).
  static absl::StatusOr<std::unique_ptr<ChaosWorkload>> Create(ChaosOptions options,
                                                               Cluster* cluster);

  void Start();
  void Stop() { running_ = false; }
  // After heal: every node's own record of every key (replicas-*.jsonl),
  // then every key read at QUORUM as process "final"; then `done`.
  void AfterHeal(std::function<void()> done);

  const ChaosStats& stats() const { return stats_; }

 private:
  enum class Kind { kRegister, kSet, kDelete };
  struct Client {
    Kind kind;
    int index = 0;
    int generation = 0;
    int64_t seq = 0;
    std::string to_delete;
    std::deque<std::pair<std::string, absl::Time>> to_read;
  };
  struct File {
    std::string name;  // "register", "set", "delete"
    std::unique_ptr<chaos::HistoryWriter> writer;
    std::vector<std::string> keys;  // in order of first appearance
    std::set<std::string> seen;
  };

  ChaosWorkload(ChaosOptions options, Cluster* cluster);
  void Step(Client& c);
  // Records the invocation, sends the op to a random node and records how
  // it ended; then the client's next step.
  void Do(Client& c, const std::string& f, const std::string& key,
          std::optional<std::string> value);
  // The final read of `key` (the i-th), on node (i + attempt) % n,
  // retried on the next node up to 5 attempts in all.
  void FinalRead(File& file, const std::string& key, size_t i, int attempt,
                 std::function<void(bool)> next);
  File& FileOf(Kind k) { return files_[static_cast<int>(k)]; }
  std::string Process(const Client& c) const;
  int64_t NowNanos() const;

  const ChaosOptions options_;
  Cluster* const cluster_;
  std::mt19937_64 rng_;
  bool running_ = false;
  std::vector<File> files_;  // by Kind
  std::deque<Client> clients_;
  ChaosStats stats_;
};

}  // namespace kv::sim
