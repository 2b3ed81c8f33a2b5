// kvchaos: the client side of the fault-injection suite (tests/chaos/).
//   kvchaos run      concurrent clients, every operation recorded in a history
//   kvchaos final    after heal: read every key of a history at QUORUM
//   kvchaos replicas after heal: each node's own record of every key
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cmd/common/client_tls_flags.h"
#include "cmd/kvchaos/workload.h"

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

absl::Duration ParseDurationOrDie(const char* flag, const std::string& text) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d <= absl::ZeroDuration()) {
    std::fprintf(stderr, "kvchaos: %s: '%s' is not a positive duration like 500ms or 60s\n", flag,
                 text.c_str());
    std::exit(2);
  }
  return d;
}

kv::chaos::Workload ParseWorkload(const std::string& w) {
  if (w == "set") return kv::chaos::Workload::kSet;
  if (w == "delete") return kv::chaos::Workload::kDelete;
  return kv::chaos::Workload::kRegister;
}

std::vector<std::string> KeysOrDie(const std::string& history) {
  absl::StatusOr<std::vector<std::string>> keys = kv::chaos::KeysInHistory(history);
  if (!keys.ok()) {
    std::fprintf(stderr, "kvchaos: %s\n", keys.status().ToString().c_str());
    std::exit(2);
  }
  return *keys;
}

std::unique_ptr<kv::chaos::HistoryWriter> OpenOrDie(const std::string& path) {
  auto w = kv::chaos::HistoryWriter::Open(path);
  if (!w.ok()) {
    std::fprintf(stderr, "kvchaos: %s\n", w.status().ToString().c_str());
    std::exit(2);
  }
  return *std::move(w);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvchaos: Jepsen-style clients for kvstore's fault-injection suite", "kvchaos"};
  app.require_subcommand(1);
  app.fallthrough();
  std::string nodes_flag, workload = "register", history, timeout = "1s", duration = "60s";
  std::string keys_from, out;
  kv::chaos::RunOptions o;
  int attempts = 20;
  app.add_option("--nodes", nodes_flag, "comma-separated host:port of the nodes")->required();
  app.add_option("--timeout", timeout, "deadline of each operation")->capture_default_str();
  // `replicas` reads each node's own copy over the Peer service: on a TLS
  // cluster it needs a member certificate (CN node).
  kv::security::ClientTlsOptions tls;
  kv::cmd::AddClientTlsFlags(app, &tls);

  auto* run = app.add_subcommand("run", "run a workload, recording every op to --history");
  run->add_option("--workload", workload, "register, set or delete")
      ->check(CLI::IsMember({"register", "set", "delete"}))
      ->capture_default_str();
  run->add_option("--clients", o.clients, "client threads")->check(CLI::Range(1, 64));
  run->add_option("--duration", duration, "how long to run")->capture_default_str();
  run->add_option("--seed", o.seed, "seed of the clients' random choices")->capture_default_str();
  run->add_option("--history", history, "JSON-lines history to append to")->required();
  run->add_option("--keys", o.keys, "register keys")->check(CLI::Range(1, 10000));
  run->add_option("--rate", o.rate, "ops per second per client, at most")
      ->check(CLI::Range(1.0, 10000.0))
      ->capture_default_str();

  auto* final =
      app.add_subcommand("final", "read every key of --history at QUORUM (process final)");
  final->add_option("--history", history, "history to read keys from and append to")->required();
  final->add_option("--workload", workload, "accepted for symmetry with run; unused");
  final->add_option("--attempts", attempts, "tries per key")->check(CLI::Range(1, 100));

  auto* replicas = app.add_subcommand("replicas", "each node's own record of each key (Fetch)");
  replicas->add_option("--keys-from", keys_from, "history whose keys to fetch")->required();
  replicas->add_option("--out", out, "JSON-lines output")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "kvchaos: %s (see kvchaos --help)\n", e.what());
    return 2;
  }
  std::vector<std::string> addrs = absl::StrSplit(nodes_flag, ',', absl::SkipEmpty());
  if (addrs.empty()) {
    std::fprintf(stderr, "kvchaos: --nodes names no node\n");
    return 2;
  }
  kv::chaos::Nodes nodes(addrs, kv::cmd::ClientCredentialsOrDie("kvchaos", tls));
  o.timeout = ParseDurationOrDie("--timeout", timeout);

  if (*run) {
    o.workload = ParseWorkload(workload);
    o.duration = ParseDurationOrDie("--duration", duration);
    signal(SIGINT, OnSignal);
    signal(SIGTERM, OnSignal);
    auto h = OpenOrDie(history);
    const int64_t ops = kv::chaos::RunWorkload(o, nodes, *h, g_stop);
    std::printf("kvchaos run: %lld ops (%s)\n", static_cast<long long>(ops), workload.c_str());
  } else if (*final) {
    std::vector<std::string> keys = KeysOrDie(history);
    auto h = OpenOrDie(history);
    const int64_t unread = kv::chaos::FinalReads(keys, nodes, *h, o.timeout, attempts, 4);
    std::printf("kvchaos final: %zu keys, %lld never read ok\n", keys.size(),
                static_cast<long long>(unread));
    return unread == 0 ? 0 : 1;
  } else if (*replicas) {
    std::vector<std::string> keys = KeysOrDie(keys_from);
    if (!kv::chaos::DumpReplicas(keys, nodes, out, o.timeout)) return 2;
    std::printf("kvchaos replicas: %zu keys x %zu nodes\n", keys.size(), nodes.size());
  }
  return 0;
}
