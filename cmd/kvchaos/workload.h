// kvchaos workloads: concurrent clients that record every operation.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cmd/kvchaos/client.h"
#include "cmd/kvchaos/history.h"

namespace kv::chaos {

enum class Workload {
  kRegister,  // K keys "reg-<i>"; writes of unique values "<process>-<seq>", and reads
  kSet,       // each add is a new key "set-<process>-<seq>"
  kDelete,    // write "del-<process>-<seq>", delete it, read it a while later
};

struct RunOptions {
  Workload workload = Workload::kRegister;
  int clients = 4;
  absl::Duration duration = absl::Seconds(60);
  uint64_t seed = 1;
  int keys = 5;  // register workload only
  absl::Duration timeout = absl::Seconds(1);
  double rate = 50;  // operations per second per client, at most
  // A deleted key is read back once this long after its delete completed.
  absl::Duration read_back_after = absl::Seconds(1);
};

// Runs `options.clients` threads against `nodes` until `options.duration`
// has passed or `*stop` becomes true, each op on a random node, writing every
// invocation and completion to `history`. A client whose op ended `info`
// continues under a new process number (the old op may still be in flight).
// Returns the number of operations completed.
int64_t RunWorkload(const RunOptions& options, Nodes& nodes, HistoryWriter& history,
                    const std::atomic<bool>& stop);

// Reads each of `keys` at QUORUM as process "final", retrying a failed read
// on the next node up to `attempts` times. Returns the number of keys that
// never read ok.
int64_t FinalReads(const std::vector<std::string>& keys, Nodes& nodes, HistoryWriter& history,
                   absl::Duration timeout, int attempts, int threads);

// Fetches every key from every node (Peer.Fetch, the replica's own record; up
// to 5 tries each) and writes one JSON line per (key, node) to `out_path`:
// {"key","node","found","tombstone","version":{"timestamp","node_id"}} or,
// when the node did not answer, {"key","node","error"}. Returns false (with a
// message on stderr) when `out_path` cannot be written.
bool DumpReplicas(const std::vector<std::string>& keys, Nodes& nodes, const std::string& out_path,
                  absl::Duration timeout);

}  // namespace kv::chaos
