// Test harness: real kvstore processes on 127.0.0.1, and gRPC stubs to them.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/kv.grpc.pb.h"

namespace kv::testing {

// Polls `cond` until it holds or `timeout` passes; true if it held.
bool WaitFor(const std::function<bool()>& cond, absl::Duration timeout);

// A TCP port on 127.0.0.1 that was free a moment ago, never the same twice
// in one test process.
int FreePort();

// Runs `binary args...`, output to `log`; waits for it and returns the exit
// code (or 128 + signal).
struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};
CommandResult RunCommand(const std::string& binary, const std::vector<std::string>& args,
                         absl::Duration timeout = absl::Seconds(30));

// One kvstore process. Killed with SIGKILL when destroyed if still running.
class NodeProcess {
 public:
  NodeProcess(std::string binary, std::vector<std::string> args, std::string log_path);
  ~NodeProcess();
  void Start();
  // Sends `sig`; with SIGKILL also reaps the process.
  void Signal(int sig);
  // Waits for exit up to `timeout`; returns the exit code, 128+signal, or -1 on timeout.
  int Wait(absl::Duration timeout);
  bool running() const { return pid_ > 0; }
  // The process id while running, else -1.
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

 private:
  const std::string binary_;
  const std::vector<std::string> args_;
  const std::string log_path_;
  pid_t pid_ = -1;
};

// A cluster of kvstore processes on 127.0.0.1 joined through node 0.
class Cluster {
 public:
  struct Options {
    int nodes = 5;
    int replicas = 3;
    std::string heartbeat_interval = "200ms";
    std::string failure_timeout = "2s";
    std::vector<std::string> extra_args;
    // Flags for node i only, after extra_args (e.g. a --metrics-addr port of its own).
    std::map<int, std::vector<std::string>> node_args;
    bool durable = false;  // each node gets its own --data-dir
    // Nodes Start() runs (0: all); StartNode adds the others later.
    int initially_running = 0;
    // Give node i the same --node-id on every start (SHA-1 of "node-<i>"),
    // so a memory node keeps its identity across Restart.
    bool stable_ids = false;
    // Environment variables ("NAME=value") for node i's process, which then
    // runs through /usr/bin/env (e.g. libfaketime for a skewed clock).
    std::map<int, std::vector<std::string>> env;
    // TLS: a throwaway CA and certificates (scripts/tls-certs.sh) in
    // tls_dir(); node i serves with node<i>.{crt,key} (CN node), and the
    // harness's own stubs present `harness_cert` (a member certificate, so
    // that Holders can read replicas).
    bool tls = false;
    std::string harness_cert = "harness";
  };
  explicit Cluster(Options options);
  ~Cluster();

  // Starts every node and waits until each one sees all the others alive.
  // Returns false (with the reason logged) if that does not happen in time.
  [[nodiscard]] bool Start(absl::Duration timeout = absl::Seconds(60));

  int size() const { return static_cast<int>(nodes_.size()); }
  // Where the TLS files are (Options::tls): ca.crt, node<i>.*, harness.*.
  std::string tls_dir() const { return log_dir_ + "/tls"; }
  // Makes tls_dir()/NAME.{crt,key} with subject CN `cn`, signed by the
  // cluster CA (or by the CA in `ca_dir` when given); false on failure.
  [[nodiscard]] bool MakeCertificate(const std::string& name, const std::string& cn,
                                     const std::string& ca_dir = "") const;
  // Credentials presenting tls_dir()/NAME.{crt,key} ("" for none) and
  // trusting tls_dir()/ca.crt.
  std::shared_ptr<grpc::ChannelCredentials> Credentials(const std::string& name,
                                                        const std::string& token = "") const;
  const std::string& address(int i) const { return addresses_[i]; }
  // The node's 40-hex id, learned from Ping once it is up.
  const std::string& id(int i) const { return ids_[i]; }
  NodeProcess& process(int i) { return *nodes_[i]; }
  kvstore::v1::KV::Stub& kv(int i) { return *kv_[i]; }
  kvstore::v1::Admin::Stub& admin(int i) { return *admin_[i]; }
  kvstore::v1::Peer::Stub& peer(int i) { return *peer_[i]; }

  // Starts node `i`, which Start() left out, joining through node 0; waits
  // until it answers Ping.
  [[nodiscard]] bool StartNode(int i, absl::Duration timeout = absl::Seconds(30));

  // ---- Client helpers (5 s deadline each).
  grpc::Status Put(int node, const std::string& key, const std::string& value,
                   kvstore::v1::Consistency c = kvstore::v1::QUORUM);
  grpc::Status Get(int node, const std::string& key, kvstore::v1::GetResponse* resp,
                   kvstore::v1::Consistency c = kvstore::v1::QUORUM);
  grpc::Status Delete(int node, const std::string& key,
                      kvstore::v1::Consistency c = kvstore::v1::QUORUM);
  // Running nodes that hold a live (not deleted) copy of `key`, asked one by
  // one over the Peer service.
  std::vector<int> Holders(const std::string& key);
  // The `n` nodes of `among` closest to `key` by XOR distance, computed from
  // the ids alone, closest first.
  std::vector<int> Closest(const std::string& key, size_t n, const std::vector<int>& among) const;
  // The routing-table contacts node `i` lists (Admin.Peers), ID -> address;
  // empty if it does not answer.
  std::map<std::string, std::string> PeerAddresses(int i);
  // Node `i`'s repair counters (Admin.Stats); empty if it does not answer.
  std::map<std::string, uint64_t> Stats(int i);

  // Starts node `i` again (killing it first if it runs) on the same address
  // and data dir; with `join`, through node 0. Waits until it answers Ping.
  [[nodiscard]] bool Restart(int i, bool join, absl::Duration timeout = absl::Seconds(30));

  // True when node `observer` lists `target`'s id in the given state.
  bool SeesPeerIn(int observer, int target, kvstore::v1::PeerState state);
  // True when node `i`'s log contains `text`.
  bool LogContains(int i, const std::string& text) const;
  // Prints the tail of every node's log (for failed tests).
  void DumpLogs() const;
  // Stops every running node with SIGTERM and checks each one drained and
  // exited 0 with no sanitizer report in its log. Returns what went wrong.
  std::vector<std::string> StopAll(absl::Duration timeout = absl::Seconds(20));

 private:
  bool WaitReady(int i, absl::Duration timeout);
  std::vector<std::string> NodeArgs(int i, bool join) const;
  // Node i's process, not started: kvstore with NodeArgs, through env when
  // Options::env names it.
  std::unique_ptr<NodeProcess> MakeProcess(int i, bool join) const;

  const Options options_;
  std::string log_dir_;
  std::vector<std::string> addresses_;
  std::vector<std::string> ids_;
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
  std::vector<std::unique_ptr<kvstore::v1::KV::Stub>> kv_;
  std::vector<std::unique_ptr<kvstore::v1::Admin::Stub>> admin_;
  std::vector<std::unique_ptr<kvstore::v1::Peer::Stub>> peer_;
};

// Base fixture: a test sets `cluster_`; tear-down stops every node with
// SIGTERM and fails the test if any did not exit cleanly or logged a
// sanitizer report, printing the logs of a failed test.
class ClusterFixture : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!cluster_) return;
    for (const std::string& problem : cluster_->StopAll()) ADD_FAILURE() << problem;
    if (HasFailure()) cluster_->DumpLogs();
  }
  std::unique_ptr<Cluster> cluster_;
};

// A client context with a deadline `timeout` from now.
std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = absl::Seconds(5));

}  // namespace kv::testing
