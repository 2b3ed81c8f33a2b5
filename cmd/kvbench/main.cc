// kvbench: a load generator for kvstore and etcd's v3 KV API (docs/kvbench.md).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "cmd/common/client_tls_flags.h"
#include "cmd/kvbench/discover.h"
#include "cmd/kvbench/flags.h"
#include "cmd/kvbench/report.h"
#include "cmd/kvbench/runner.h"

namespace {

using kv::bench::Options;

kv::bench::RunInfo Info(const Options& o) {
  kv::bench::RunInfo i;
  i.target = kv::bench::TargetName(o.target);
  i.addrs = o.addrs;
  i.clients = o.clients;
  i.threads = o.threads;
  i.channels = o.channels;
  i.keys = o.keys;
  i.key_size = o.key_size;
  i.value_size = o.value_size;
  i.read_ratio = o.read_ratio;
  i.dist = o.dist == kv::bench::Distribution::kZipf ? "zipf" : "uniform";
  i.zipf_theta = o.zipf_theta;
  i.consistency = kv::bench::ConsistencyName(o.consistency);
  i.duration_sec = o.ops == 0 ? absl::ToDoubleSeconds(o.duration) : 0;
  i.ops = o.ops;
  i.warmup_sec = absl::ToDoubleSeconds(o.warmup);
  i.timeout_sec = absl::ToDoubleSeconds(o.timeout);
  i.seed = o.seed;
  i.rate = o.rate;
  i.route = kv::bench::RouteName(o.route);
  return i;
}

// One line, rewritten in place: "  12s  48210 ops/s  errors 0".
void ShowProgress(const kv::bench::Progress& p, uint64_t* last_done, absl::Duration* last_at) {
  const double sec = absl::ToDoubleSeconds(p.elapsed - *last_at);
  const double rate = sec > 0 ? static_cast<double>(p.done - *last_done) / sec : 0;
  *last_done = p.done;
  *last_at = p.elapsed;
  std::fprintf(stderr, "\r\033[K%6.1fs %s %10.0f ops/s  errors %llu",
               absl::ToDoubleSeconds(p.elapsed), p.warming_up ? "warm-up " : "", rate,
               static_cast<unsigned long long>(p.errors));
  std::fflush(stderr);
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's abseil is built with mutex deadlock detection on, and gRPC's
  // locks are absl::Mutex: without this, every call pays for cycle tracking
  // (about 3% of kvbench's CPU in perf).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  kv::bench::ParsedFlags flags = kv::bench::ParseFlags(argc, argv, cores);
  if (flags.exit_now) {
    std::fprintf(flags.exit_code == 0 ? stdout : stderr, "%s\n", flags.message.c_str());
    return flags.exit_code;
  }
  const Options& o = flags.options;

  std::vector<kv::dht::Contact> members;
  if (o.route == kv::bench::Route::kOwner) {
    absl::StatusOr<std::vector<kv::dht::Contact>> m = kv::bench::DiscoverMembers(
        o.addrs, o.timeout, kv::cmd::ClientCredentialsOrDie("kvbench", o.tls));
    if (!m.ok()) {
      std::fprintf(stderr, "kvbench: %s\n", std::string(m.status().message()).c_str());
      return 1;
    }
    members = *std::move(m);
  }

  const bool live = isatty(STDERR_FILENO) == 1;
  uint64_t last_done = 0;
  absl::Duration last_at = absl::ZeroDuration();
  kv::bench::RunResult result = kv::bench::RunLoad(o, members, [&](const kv::bench::Progress& p) {
    if (live) ShowProgress(p, &last_done, &last_at);
  });
  if (live) std::fprintf(stderr, "\r\033[K");

  std::fprintf(
      stdout, "kvbench: %s at %s, %d clients, %d threads, %d channels, read ratio %g%s%s\n",
      kv::bench::TargetName(o.target).c_str(), absl::StrJoin(o.addrs, ",").c_str(), o.clients,
      o.threads, o.channels, o.read_ratio,
      o.rate > 0 ? absl::StrFormat(", rate %g ops/s", o.rate).c_str() : "",
      members.empty()
          ? ""
          : absl::StrFormat(", routed to key owners among %d members", members.size()).c_str());
  std::fputs(kv::bench::FormatTable(result).c_str(), stdout);
  int code = kv::bench::Failed(result) ? 1 : 0;
  if (!o.json_path.empty()) {
    std::ofstream out(o.json_path, std::ios::trunc);
    out << kv::bench::FormatJson(Info(o), result);
    out.close();
    if (!out) {
      std::fprintf(stdout, "cannot write %s\n", o.json_path.c_str());
      code = 1;
    }
  }
  std::fprintf(stdout, "%s\n", kv::bench::Verdict(result).c_str());
  return code;
}
