#include "cmd/kvbench/flags.h"

#include <algorithm>
#include <limits>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cmd/common/client_tls_flags.h"
#include "src/util/duration.h"

namespace kv::bench {

namespace {

ParsedFlags Exit(int code, std::string message) {
  ParsedFlags p;
  p.exit_now = true;
  p.exit_code = code;
  p.message = std::move(message);
  return p;
}

ParsedFlags BadFlag(const std::string& reason) { return Exit(2, "kvbench: " + reason); }

}  // namespace

std::string TargetName(Target t) { return t == Target::kEtcd ? "etcd" : "kvstore"; }

std::string ConsistencyName(Consistency c) {
  switch (c) {
    case Consistency::kOne:
      return "one";
    case Consistency::kQuorum:
      return "quorum";
    case Consistency::kAll:
      return "all";
    case Consistency::kDefault:
      break;
  }
  return "default";
}

std::string RouteName(Route r) { return r == Route::kOwner ? "owner" : "any"; }

ParsedFlags ParseFlags(int argc, const char* const* argv, int cores) {
  Options o;
  o.threads = std::max(1, cores);
  std::vector<std::string> addrs;
  std::string target = "kvstore", dist = "uniform", consistency, duration, warmup, timeout = "5s",
              route = "any";

  CLI::App app{"kvbench: a load generator for kvstore (and etcd's v3 KV API)", "kvbench"};
  app.add_option("--addr", addrs,
                 "node host:port, repeatable or comma-separated (default 127.0.0.1:50051, "
                 "127.0.0.1:2379 for etcd)");
  app.add_option("--target", target, "kvstore or etcd")
      ->check(CLI::IsMember({"kvstore", "etcd"}))
      ->capture_default_str();
  app.add_option("--clients", o.clients, "requests in flight, over all threads")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--duration", duration, "measured run time, like 10s or 2m (default 10s)");
  app.add_option("--ops", o.ops, "measured requests, instead of --duration")
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "load run first and left out of the results, like 5s");
  app.add_option("--timeout", timeout, "deadline of each request")->capture_default_str();
  app.add_option("--keys", o.keys, "key space")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--key-size", o.key_size, "bytes per key")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  app.add_option("--value-size", o.value_size, "bytes per value")
      ->check(CLI::Range(0, 64 << 20))
      ->capture_default_str();
  app.add_option("--read-ratio", o.read_ratio, "fraction of requests that are reads (0..1)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--dist", dist, "key distribution: uniform or zipf")
      ->check(CLI::IsMember({"uniform", "zipf"}))
      ->capture_default_str();
  app.add_option("--zipf-theta", o.zipf_theta, "zipf skew, 0 < theta < 1")->capture_default_str();
  app.add_option("--consistency", consistency,
                 "one, quorum or all (default: the node's); for etcd, one = serializable reads")
      ->check(CLI::IsMember({"one", "quorum", "all"}));
  app.add_option("--seed", o.seed, "seed of the key and operation choices")->capture_default_str();
  app.add_option("--threads", o.threads, "worker threads, one completion queue each")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--channels", o.channels, "gRPC connections per address")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--batch", o.batch,
                 "operations per request; above 1, kvstore's KV.Batch RPC carries them (all "
                 "reads or all writes per request), like redis-benchmark -P")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--rate", o.rate,
                 "ops/s over all clients, sent at fixed intervals with latency measured from "
                 "each request's due time (open loop); 0 = as fast as --clients allow")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--route", route,
                 "any: spread requests over --addr; owner: ask a node for the member list, "
                 "then send each request to the node closest to its key (its first replica)")
      ->check(CLI::IsMember({"any", "owner"}))
      ->capture_default_str();
  cmd::AddClientTlsFlags(app, &o.tls);
  app.add_option("--json", o.json_path, "also write the results as JSON to this file");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return Exit(0, app.help());
    return BadFlag(e.what());
  }

  o.target = target == "etcd" ? Target::kEtcd : Target::kKvstore;
  if (o.batch > 1 && o.target == Target::kEtcd) {
    return BadFlag("--batch needs --target kvstore: etcd's KV API has no batch of independent ops");
  }
  o.route = route == "owner" ? Route::kOwner : Route::kAny;
  if (o.route == Route::kOwner && o.target == Target::kEtcd) {
    return BadFlag("--route owner needs --target kvstore: etcd members do not own keys");
  }
  if (o.route == Route::kOwner && o.batch > 1) {
    return BadFlag(
        "--route owner needs --batch 1: the keys of one batch have different owners, so a "
        "batch has no single node to go to");
  }
  for (const std::string& a : addrs) {
    for (absl::string_view part : absl::StrSplit(a, ',', absl::SkipEmpty())) {
      if (part.find(':') == absl::string_view::npos) {
        return BadFlag(absl::StrCat("--addr: '", part, "' is not host:port"));
      }
      o.addrs.emplace_back(part);
    }
  }
  if (o.addrs.empty()) {
    o.addrs.push_back(o.target == Target::kEtcd ? "127.0.0.1:2379" : "127.0.0.1:50051");
  }

  if (!duration.empty() && o.ops > 0) return BadFlag("give --duration or --ops, not both");
  if (o.ops == 0) {
    absl::StatusOr<absl::Duration> d =
        kv::util::ParseDurationFlag("--duration", duration.empty() ? "10s" : duration);
    if (!d.ok()) return BadFlag(std::string(d.status().message()));
    o.duration = *d;
  }
  if (!warmup.empty() && warmup != "0" && warmup != "0s") {
    absl::StatusOr<absl::Duration> d = kv::util::ParseDurationFlag("--warmup", warmup);
    if (!d.ok()) return BadFlag(std::string(d.status().message()));
    o.warmup = *d;
  }
  absl::StatusOr<absl::Duration> t = kv::util::ParseDurationFlag("--timeout", timeout);
  if (!t.ok()) return BadFlag(std::string(t.status().message()));
  o.timeout = *t;

  if (!(o.zipf_theta > 0.0 && o.zipf_theta < 1.0)) {
    return BadFlag(absl::StrCat("--zipf-theta ", o.zipf_theta, " is outside (0, 1)"));
  }
  o.dist = dist == "zipf" ? Distribution::kZipf : Distribution::kUniform;
  if (absl::Status s = CheckKeySize(o.keys, o.key_size); !s.ok()) {
    return BadFlag(std::string(s.message()));
  }
  if (consistency == "one") o.consistency = Consistency::kOne;
  if (consistency == "quorum") o.consistency = Consistency::kQuorum;
  if (consistency == "all") o.consistency = Consistency::kAll;
  // A thread without a request in flight would only spin.
  o.threads = std::min(o.threads, o.clients);

  ParsedFlags p;
  p.options = std::move(o);
  return p;
}

}  // namespace kv::bench
