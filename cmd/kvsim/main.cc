// kvsim: N whole kvstore nodes in one process, on one thread, on simulated
// time and an in-memory network (src/sim), under a client workload and a
// nemesis; the same binary, seed and flags replay the same run message for
// message (the trace hash says so). See docs/simulation.md.
#include <sys/resource.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cmd/kvsim/workload.h"
#include "spdlog/spdlog.h"
#include "src/util/duration.h"

namespace {

using kv::sim::Nemesis;

struct Flags {
  int nodes = 16;
  std::string duration = "60s";
  uint64_t seed = 1;
  int replicas = 3;
  size_t k = 20;
  int clients = 4;
  int keys = 100;
  std::string nemesis = "none";
  std::string heartbeat = "500ms";
  std::string anti_entropy = "1m";
  std::string json;
  bool verbose = false;
};

absl::Duration Parse(const std::string& flag, const std::string& value) {
  absl::StatusOr<absl::Duration> d = kv::util::ParseDurationFlag(flag, value);
  if (!d.ok()) {
    std::fprintf(stderr, "kvsim: %s\n", std::string(d.status().message()).c_str());
    std::exit(2);
  }
  return *d;
}

int64_t PeakRssBytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return int64_t{u.ru_maxrss} * 1024;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"kvsim: whole kvstore nodes on simulated time and network, replayable by seed"};
  app.add_option("--nodes", f.nodes, "nodes in the cluster")->check(CLI::Range(1, 100000));
  app.add_option("--duration", f.duration, "simulated time of the workload")->capture_default_str();
  app.add_option("--seed", f.seed, "seeds the network, the nodes and the workload")
      ->capture_default_str();
  app.add_option("--replicas", f.replicas, "N")->check(CLI::Range(1, 100))->capture_default_str();
  app.add_option("--k", f.k, "bucket size")->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--clients", f.clients, "closed-loop clients")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--keys", f.keys, "distinct keys")->check(CLI::Range(1, 10000000));
  app.add_option("--nemesis", f.nemesis, "none, kill or partition-one")
      ->check(CLI::IsMember({"none", "kill", "partition-one"}))
      ->capture_default_str();
  app.add_option("--heartbeat-interval", f.heartbeat, "simulated")->capture_default_str();
  app.add_option("--anti-entropy-interval", f.anti_entropy, "simulated")->capture_default_str();
  app.add_option("--json", f.json, "write the results here as one JSON object");
  app.add_flag("--verbose", f.verbose, "the nodes' logs (info and above)");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(f.verbose ? spdlog::level::info : spdlog::level::off);

  const absl::Duration duration = Parse("--duration", f.duration);
  kv::sim::Cluster::Options co;
  co.nodes = f.nodes;
  co.replicas = f.replicas;
  co.k = f.k;
  co.heartbeat = Parse("--heartbeat-interval", f.heartbeat);
  co.anti_entropy_interval = Parse("--anti-entropy-interval", f.anti_entropy);
  co.network.seed = f.seed;
  co.seed = f.seed;
  const absl::Time wall_start = absl::Now();
  kv::sim::Cluster cluster(co);
  kv::sim::Workload workload({.clients = f.clients,
                              .keys = f.keys,
                              .nemesis = f.nemesis == "kill"            ? Nemesis::kKill
                                         : f.nemesis == "partition-one" ? Nemesis::kPartitionOne
                                                                        : Nemesis::kNone,
                              .seed = f.seed},
                             &cluster);

  // Joining, then the workload, then the end: heal, settle, read back.
  const absl::Duration settle_join = absl::Seconds(10);
  const absl::Duration settle_end = co.anti_entropy_interval * 2 + absl::Seconds(10);
  cluster.RunFor(settle_join);
  workload.Start();
  const absl::Time start = cluster.clock().Now();
  for (absl::Duration t = absl::ZeroDuration(); t < duration;) {
    const absl::Duration step = std::min(absl::Seconds(10), duration - t);
    cluster.RunFor(step);
    t += step;
    int up = 0;
    for (int i = 0; i < cluster.size(); ++i) up += cluster.up(i);
    const kv::sim::WorkloadStats& s = workload.stats();
    std::fprintf(stderr, "kvsim: t=%s ops=%llu acked=%llu failed=%llu up=%d/%d messages=%llu\n",
                 absl::FormatDuration(cluster.clock().Now() - start).c_str(),
                 static_cast<unsigned long long>(s.puts + s.gets),
                 static_cast<unsigned long long>(s.acknowledged),
                 static_cast<unsigned long long>(s.failed), up, cluster.size(),
                 static_cast<unsigned long long>(cluster.net().messages()));
  }
  workload.Stop();
  cluster.RunFor(settle_end);
  bool checked = false;
  workload.Check([&] { checked = true; });
  cluster.RunUntil([&] { return checked; }, absl::Minutes(10));
  const double wall = absl::ToDoubleSeconds(absl::Now() - wall_start);
  const double simulated = absl::ToDoubleSeconds(settle_join + duration + settle_end);

  const kv::sim::WorkloadStats& s = workload.stats();
  const uint64_t ops = s.puts + s.gets;
  // Every peer call but heartbeats, per client op: the ops' own calls plus
  // background work (lookups, repair, hints), which a quiet cluster keeps low.
  const double per_op = ops ? static_cast<double>(cluster.peer_calls()) / ops : 0;
  const std::string hash = absl::StrFormat("%016x", cluster.net().trace_hash());
  std::printf(
      "| nodes | seed | nemesis | ops | acknowledged | failed | faults | lost | unreadable "
      "| peer calls/op | simulated s | wall s | peak RSS MiB | trace hash |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::printf(
      "| %d | %llu | %s | %llu | %llu | %llu | %llu | %llu | %llu | %.1f | %.0f | %.1f | "
      "%.0f | %s |\n",
      f.nodes, static_cast<unsigned long long>(f.seed), f.nemesis.c_str(),
      static_cast<unsigned long long>(ops), static_cast<unsigned long long>(s.acknowledged),
      static_cast<unsigned long long>(s.failed), static_cast<unsigned long long>(s.faults),
      static_cast<unsigned long long>(s.lost), static_cast<unsigned long long>(s.unreadable),
      per_op, simulated, wall, PeakRssBytes() / 1048576.0, hash.c_str());
  if (!f.json.empty()) {
    std::ofstream out(f.json);
    out << absl::StrCat(
        "{\"nodes\": ", f.nodes, ", \"seed\": ", f.seed, ", \"nemesis\": \"", f.nemesis,
        "\", \"ops\": ", ops, ", \"acknowledged\": ", s.acknowledged, ", \"failed\": ", s.failed,
        ", \"faults\": ", s.faults, ", \"checked_keys\": ", s.checked_keys, ", \"lost\": ", s.lost,
        ", \"unreadable\": ", s.unreadable, ", \"peer_calls\": ", cluster.peer_calls(),
        ", \"peer_calls_per_op\": ", per_op, ", \"heartbeats\": ", cluster.heartbeats(),
        ", \"simulated_seconds\": ", simulated, ", \"wall_seconds\": ", wall,
        ", \"peak_rss_bytes\": ", PeakRssBytes(), ", \"trace_hash\": \"", hash, "\"}\n");
    if (!out) {
      std::fprintf(stderr, "kvsim: could not write %s\n", f.json.c_str());
      return 1;
    }
  }
  return s.lost == 0 && s.unreadable == 0 ? 0 : 1;
}
