// kvsim: N whole kvstore nodes in one process, on one thread, on simulated
// time and an in-memory network (src/sim), under a client workload and a
// nemesis; the same binary, seed and flags replay the same run message for
// message (the trace hash says so). See docs/simulation.md.
#include <sys/resource.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "cmd/kvsim/agreement.h"
#include "cmd/kvsim/chaos_workload.h"
#include "cmd/kvsim/nemesis.h"
#include "cmd/kvsim/repair_probe.h"
#include "cmd/kvsim/spread.h"
#include "cmd/kvsim/workload.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"
#include "src/util/duration.h"

namespace {

struct Flags {
  int nodes = 16;
  std::string duration = "60s";
  uint64_t seed = 1;
  int replicas = 3;
  size_t k = 20;
  int clients = 4;
  int keys = 100;
  std::string nemesis = "none";
  std::string workload = "kv";
  std::string history_dir;
  std::string trace;
  bool durable = false;
  std::string heartbeat = "500ms";
  int agreement_keys = 200;
  double mass_kill = 0;
  int lose_keys = 1;
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

// Prints --workload repair's results (and writes --json); the exit status.
int ReportRepair(const Flags& f, const kv::sim::RepairProbeResult& r, double wall_s) {
  // What every round costs on a store where nothing differs, and what the
  // loss cost beyond that.
  const double per_round =
      r.unchanged.rounds ? static_cast<double>(r.unchanged.bytes) / r.unchanged.rounds : 0;
  const double excess = std::max(0.0, r.repair.bytes - per_round * r.repair.rounds);
  std::printf(
      "| nodes | keys | phase | rounds | scans | tree requests | bytes exchanged | bytes per "
      "round | keys moved |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (auto [phase, c] : {std::pair{"unchanged", &r.unchanged}, std::pair{"repair", &r.repair}}) {
    std::printf(
        "%s", absl::StrFormat("| %d | %d | %s | %d | %d | %d | %d | %.0f | %d |\n", f.nodes, f.keys,
                              phase, c->rounds, c->scans, c->tree_requests, c->bytes,
                              c->rounds ? double(c->bytes) / c->rounds : 0.0, c->keys_moved)
                  .c_str());
  }
  std::fprintf(stderr,
               "kvsim: %d of %d lost records back after %.1f s; the loss cost %.0f bytes beyond "
               "the rounds' %.0f per round; wall %.0f s\n",
               r.restored, f.lose_keys, r.restore_s, excess, per_round, wall_s);
  if (!f.json.empty()) {
    nlohmann::json j = {{"nodes", f.nodes},
                        {"seed", f.seed},
                        {"workload", "repair"},
                        {"keys", f.keys},
                        {"lost_keys", f.lose_keys},
                        {"restored_keys", r.restored},
                        {"restore_seconds", r.restore_s},
                        {"load_wall_seconds", r.load_wall_s},
                        {"bytes_per_unchanged_round", per_round},
                        {"repair_bytes_beyond_rounds", excess},
                        {"wall_seconds", wall_s},
                        {"peak_rss_bytes", PeakRssBytes()}};
    for (auto [phase, c] : {std::pair{"unchanged", &r.unchanged}, std::pair{"repair", &r.repair}}) {
      j[phase] = {{"rounds", c->rounds},
                  {"scans", c->scans},
                  {"tree_requests", c->tree_requests},
                  {"bytes", c->bytes},
                  {"keys_moved", c->keys_moved}};
    }
    std::ofstream out(f.json);
    out << j.dump() << "\n";
    if (!out) return 1;
  }
  return r.restored == f.lose_keys ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
#if !defined(__SANITIZE_ADDRESS__)
  // As in kvstore's main: Debian's abseil tracks lock order on every
  // absl::Mutex acquisition, a fifth of kvsim's time at 300 nodes. The
  // sanitizer build keeps it, as a check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
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
  app.add_option("--nemesis", f.nemesis, "the chaos suite's faults (docs/simulation.md)")
      ->check(CLI::IsMember(kv::sim::NemesisNames()))
      ->capture_default_str();
  app.add_option("--workload", f.workload,
                 "kv: random puts and gets, checked for lost writes; chaos: the chaos suite's "
                 "register, set and delete clients, with histories in --history-dir for "
                 "tests/chaos/check_run.py; repair: --keys records loaded into their owners, "
                 "rounds on them unchanged, then --lose-keys of them dropped from one owner "
                 "each and repaired (anti-entropy's cost)")
      ->check(CLI::IsMember({"kv", "chaos", "repair"}))
      ->capture_default_str();
  app.add_option("--history-dir", f.history_dir, "where --workload chaos writes its histories")
      ->check(CLI::ExistingDirectory);
  app.add_option("--trace", f.trace,
                 "write every message and when it was sent here, one per line (to diff two "
                 "runs whose trace hashes differ)");
  app.add_flag("--durable", f.durable,
               "crashed nodes keep their data (RocksDB with sync=always); default: they "
               "restart empty");
  app.add_option("--heartbeat-interval", f.heartbeat, "simulated")->capture_default_str();
  app.add_option("--anti-entropy-interval", f.anti_entropy, "simulated")->capture_default_str();
  app.add_option("--agreement-keys", f.agreement_keys,
                 "after the run, this many random keys are located by 5 random nodes each and "
                 "the answers compared with the true owners (0: skip)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  app.add_option("--mass-kill", f.mass_kill,
                 "percent of the nodes crashed at once 10 s into the workload and restarted "
                 "when it ends; the client requests' calls to them afterwards are counted")
      ->check(CLI::Range(0.0, 50.0));
  app.add_option("--lose-keys", f.lose_keys, "--workload repair: records dropped")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--json", f.json, "write the results here as one JSON object");
  app.add_flag("--verbose", f.verbose, "the nodes' logs (info and above)");
  CLI11_PARSE(app, argc, argv);
  if (f.workload == "chaos" && f.history_dir.empty()) {
    std::fprintf(stderr, "kvsim: --workload chaos needs --history-dir DIR\n");
    return 2;
  }
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
  co.durable = f.durable;
  const absl::Time wall_start = absl::Now();
  std::FILE* trace = nullptr;
  if (!f.trace.empty() && (trace = std::fopen(f.trace.c_str(), "w")) == nullptr) {
    std::fprintf(stderr, "kvsim: --trace %s: cannot write it\n", f.trace.c_str());
    return 2;
  }
  kv::sim::Cluster cluster(co);
  cluster.net().set_trace_file(trace);
  kv::sim::NemesisRunner nemesis(
      {.kind = *kv::sim::ParseNemesis(f.nemesis), .max_killed = f.durable ? 2 : 1, .seed = f.seed},
      &cluster);
  kv::sim::Workload workload({.clients = f.clients, .keys = f.keys, .seed = f.seed}, &cluster);
  std::unique_ptr<kv::sim::ChaosWorkload> chaos;
  if (f.workload == "chaos") {
    auto created = kv::sim::ChaosWorkload::Create({.dir = f.history_dir, .seed = f.seed}, &cluster);
    if (!created.ok()) {
      std::fprintf(stderr, "kvsim: %s\n", std::string(created.status().message()).c_str());
      return 1;
    }
    chaos = *std::move(created);
  }

  // Runs the world for `d` in steps of 10 simulated seconds, a progress line
  // after each, so that a long run (10,000 nodes) shows where it is.
  auto run_with_progress = [&](const char* phase, absl::Duration d) {
    for (absl::Duration t = absl::ZeroDuration(); t < d;) {
      const absl::Duration step = std::min(absl::Seconds(10), d - t);
      cluster.RunFor(step);
      t += step;
      std::fprintf(stderr, "kvsim: %s %s of %s, messages=%llu, wall %.0f s\n", phase,
                   absl::FormatDuration(t).c_str(), absl::FormatDuration(d).c_str(),
                   static_cast<unsigned long long>(cluster.net().messages()),
                   absl::ToDoubleSeconds(absl::Now() - wall_start));
    }
  };
  // Joining, then the workload, then the end: heal, settle, read back.
  const absl::Duration settle_join = absl::Seconds(10);
  const absl::Duration settle_end = co.anti_entropy_interval * 2 + absl::Seconds(10);
  run_with_progress("joining", settle_join);
  if (f.workload == "repair") {
    const kv::sim::RepairProbeResult r =
        kv::sim::RunRepairProbe(&cluster, {.keys = f.keys,
                                           .lose_keys = f.lose_keys,
                                           .replicas = f.replicas,
                                           .seed = f.seed,
                                           .interval = co.anti_entropy_interval});
    return ReportRepair(f, r, absl::ToDoubleSeconds(absl::Now() - wall_start));
  }
  chaos ? chaos->Start() : workload.Start();
  nemesis.Start();
  const absl::Time start = cluster.clock().Now();
  // --mass-kill: which nodes, and when.
  std::vector<int> victims;
  std::shared_ptr<kv::sim::SpreadProbe> spread;  // how fast every node hears of them
  const absl::Time kill_at = start + absl::Seconds(10);
  if (f.mass_kill > 0) {
    std::mt19937_64 rng(f.seed ^ 0x6d61737373ull);
    std::vector<int> all(cluster.size());
    std::iota(all.begin(), all.end(), 0);
    std::shuffle(all.begin(), all.end(), rng);
    const int n = std::max(1, static_cast<int>(std::ceil(cluster.size() * f.mass_kill / 100)));
    victims.assign(all.begin(), all.begin() + std::min(n, cluster.size()));
    cluster.executor().After(kill_at - cluster.clock().Now(), [&] {
      absl::flat_hash_set<std::string> addresses;
      for (int i : victims) {
        if (cluster.up(i)) cluster.Crash(i);
        addresses.insert(cluster.contact(i).address);
      }
      cluster.net().WatchRequestCallsTo(std::move(addresses));
      spread = std::make_shared<kv::sim::SpreadProbe>(&cluster, victims, absl::Milliseconds(100),
                                                      absl::Seconds(60));
      spread->Start();
      std::fprintf(stderr, "kvsim: crashed %zu nodes at once: %s\n", victims.size(),
                   absl::StrJoin(victims, " ", [&](std::string* out, int i) {
                     out->append(cluster.contact(i).address);
                   }).c_str());
    });
  }
  for (absl::Duration t = absl::ZeroDuration(); t < duration;) {
    const absl::Duration step = std::min(absl::Seconds(10), duration - t);
    cluster.RunFor(step);
    t += step;
    int up = 0;
    for (int i = 0; i < cluster.size(); ++i) up += cluster.up(i);
    const kv::sim::WorkloadStats& s = workload.stats();
    const uint64_t ops = chaos ? chaos->stats().ops : s.puts + s.gets;
    const uint64_t ok = chaos ? chaos->stats().ok : s.acknowledged;
    const uint64_t failed = chaos ? chaos->stats().fail + chaos->stats().info : s.failed;
    std::fprintf(stderr,
                 "kvsim: t=%s ops=%llu ok=%llu failed=%llu up=%d/%d faults=%llu messages=%llu\n",
                 absl::FormatDuration(cluster.clock().Now() - start).c_str(),
                 static_cast<unsigned long long>(ops), static_cast<unsigned long long>(ok),
                 static_cast<unsigned long long>(failed), up, cluster.size(),
                 static_cast<unsigned long long>(nemesis.faults()),
                 static_cast<unsigned long long>(cluster.net().messages()));
  }
  chaos ? chaos->Stop() : workload.Stop();
  // What the clients' requests still sent to the crashed nodes; the
  // nemesis's Stop then restarts them (empty), with every other down node.
  const uint64_t calls_to_victims = cluster.net().watched_calls();
  const absl::Time last_call_to_victims = cluster.net().last_watched_call();
  if (!victims.empty()) {
    std::fprintf(stderr,
                 "kvsim: client requests sent %llu calls to the %zu crashed nodes; the last "
                 "%s after the crash\n",
                 static_cast<unsigned long long>(calls_to_victims), victims.size(),
                 last_call_to_victims == absl::InfinitePast()
                     ? "never"
                     : absl::FormatDuration(last_call_to_victims - kill_at).c_str());
  }
  // Read now: the restarts below would count as news of the victims.
  const kv::sim::Spread spread_result = spread ? spread->result() : kv::sim::Spread{};
  if (spread) {
    std::fprintf(stderr,
                 "kvsim: every live node saw the crashed ones down: half the pairs after %.1f s, "
                 "99 %% after %.1f s, all after %.1f s (%llu of %llu pairs; -1: never)\n",
                 spread_result.p50_s, spread_result.p99_s, spread_result.all_s,
                 static_cast<unsigned long long>(spread_result.seen),
                 static_cast<unsigned long long>(spread_result.pairs));
  }
  nemesis.Stop();
  for (const std::string& line : nemesis.log())
    std::fprintf(stderr, "kvsim: fault %s\n", line.c_str());
  run_with_progress("settling", settle_end);
  bool checked = false;
  if (chaos) {
    chaos->AfterHeal([&] { checked = true; });
  } else {
    workload.Check([&] { checked = true; });
  }
  cluster.RunUntil([&] { return checked; }, absl::Minutes(60));
  std::optional<kv::sim::Agreement> agreement;
  if (f.agreement_keys > 0) {
    // Shared with the probe's callback, which may outlive this scope if an
    // answer comes only as the cluster shuts down.
    auto answer = std::make_shared<std::optional<kv::sim::Agreement>>();
    kv::sim::MeasureAgreement(&cluster, f.agreement_keys, 5, f.replicas, f.seed,
                              [answer](kv::sim::Agreement a) { *answer = a; });
    cluster.RunUntil([&] { return answer->has_value(); }, absl::Minutes(5));
    agreement = *answer;
    if (agreement) {
      std::fprintf(stderr,
                   "kvsim: replica sets: %llu of %llu located keys named the true owners; "
                   "%llu keys split between coordinators\n",
                   static_cast<unsigned long long>(agreement->agreeing),
                   static_cast<unsigned long long>(agreement->answered),
                   static_cast<unsigned long long>(agreement->keys_split));
    } else {
      std::fprintf(stderr, "kvsim: replica sets: not every Locate answered within 5 minutes\n");
    }
  }
  if (trace != nullptr) {
    cluster.net().set_trace_file(nullptr);
    std::fclose(trace);
  }
  const double wall = absl::ToDoubleSeconds(absl::Now() - wall_start);
  const double simulated = absl::ToDoubleSeconds(settle_join + duration + settle_end);

  // The kv workload checks lost writes itself; the chaos workload's
  // histories are judged by tests/chaos/check_run.py.
  struct Totals {
    uint64_t ops, acknowledged, failed;
    std::optional<uint64_t> lost;
    uint64_t unreadable;
  };
  const kv::sim::WorkloadStats& s = workload.stats();
  const Totals t = chaos ? Totals{chaos->stats().ops, chaos->stats().ok,
                                  chaos->stats().fail + chaos->stats().info, std::nullopt,
                                  chaos->stats().final_unread}
                         : Totals{s.puts + s.gets, s.acknowledged, s.failed, s.lost, s.unreadable};
  // Every peer call but heartbeats, per client op: the ops' own calls plus
  // background work (lookups, repair, hints), which a quiet cluster keeps low.
  const double per_op = t.ops ? static_cast<double>(cluster.peer_calls()) / t.ops : 0;
  const std::string hash = absl::StrFormat("%016x", cluster.net().trace_hash());
  const std::string lost = t.lost ? absl::StrCat(*t.lost) : "(check_run.py)";
  std::printf(
      "| nodes | seed | workload | nemesis | ops | acknowledged | failed | faults | lost | "
      "unreadable | peer calls/op | simulated s | wall s | peak RSS MiB | trace hash |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::printf("%s", absl::StrFormat("| %d | %d | %s | %s | %d | %d | %d | %d | %s | %d | %.1f | "
                                    "%.0f | %.1f | %.0f | %s |\n",
                                    f.nodes, f.seed, f.workload, f.nemesis, t.ops, t.acknowledged,
                                    t.failed, nemesis.faults(), lost, t.unreadable, per_op,
                                    simulated, wall, PeakRssBytes() / 1048576.0, hash)
                        .c_str());
  if (!f.json.empty()) {
    nlohmann::json j = {{"nodes", f.nodes},
                        {"seed", f.seed},
                        {"workload", f.workload},
                        {"nemesis", f.nemesis},
                        {"durable", f.durable},
                        {"ops", t.ops},
                        {"acknowledged", t.acknowledged},
                        {"failed", t.failed},
                        {"faults", nemesis.faults()},
                        {"unreadable", t.unreadable},
                        {"peer_calls", cluster.peer_calls()},
                        {"peer_calls_per_op", per_op},
                        {"heartbeats", cluster.heartbeats()},
                        {"gossip_calls", cluster.gossips()},
                        {"simulated_seconds", simulated},
                        {"wall_seconds", wall},
                        {"peak_rss_bytes", PeakRssBytes()},
                        {"trace_hash", hash}};
    if (t.lost) {
      j["lost"] = *t.lost;
      j["checked_keys"] = s.checked_keys;
      // What one answered request cost (sim::Network::OpCost).
      using kv::sim::Percentile;
      for (auto [name, v] : {std::pair{"peer_rpcs_per_put", &s.put_calls},
                             std::pair{"peer_rpcs_per_get", &s.get_calls},
                             std::pair{"round_trips_per_put", &s.put_round_trips},
                             std::pair{"round_trips_per_get", &s.get_round_trips}}) {
        j[absl::StrCat(name, "_p50")] = Percentile(*v, 50);
        j[absl::StrCat(name, "_p99")] = Percentile(*v, 99);
      }
      // A lookup's hops: the round trips before the replicas' own.
      j["lookup_hops_p50"] = std::max<int64_t>(0, int64_t(Percentile(s.get_round_trips, 50)) - 1);
      j["lookup_hops_p99"] = std::max<int64_t>(0, int64_t(Percentile(s.get_round_trips, 99)) - 1);
    }
    if (!victims.empty()) {
      j["mass_kill_victims"] = victims.size();
      j["request_calls_to_victims"] = calls_to_victims;
      if (spread) {
        j["victims_seen_down_p50_s"] = spread_result.p50_s;
        j["victims_seen_down_p99_s"] = spread_result.p99_s;
        j["victims_seen_down_all_s"] = spread_result.all_s;
      }
      j["last_request_call_to_victims_s"] =
          last_call_to_victims == absl::InfinitePast()
              ? -1.0
              : absl::ToDoubleSeconds(last_call_to_victims - kill_at);
    }
    if (agreement) {
      j["agreement_located"] = agreement->answered;
      j["agreement_asked"] = agreement->asked;
      j["agreement_keys_split"] = agreement->keys_split;
      j["replica_set_agreement"] =
          agreement->answered ? static_cast<double>(agreement->agreeing) / agreement->answered : 0;
    }
    if (chaos) j["history_dir"] = f.history_dir;
    std::ofstream out(f.json);
    out << j.dump() << "\n";
    if (!out) {
      std::fprintf(stderr, "kvsim: could not write %s\n", f.json.c_str());
      return 1;
    }
  }
  return t.lost.value_or(0) == 0 && t.unreadable == 0 ? 0 : 1;
}
