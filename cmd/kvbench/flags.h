// kvbench's command line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cmd/kvbench/workload.h"
#include "src/security/tls.h"

namespace kv::bench {

enum class Target { kKvstore, kEtcd };
enum class Consistency { kDefault, kOne, kQuorum, kAll };
// Where each request goes: spread over --addr, or to the node closest to its key.
enum class Route { kAny, kOwner };

struct Options {
  Target target = Target::kKvstore;
  std::vector<std::string> addrs;                // host:port, at least one
  int clients = 50;                              // requests in flight, over all threads
  absl::Duration duration = absl::Seconds(10);   // measured time; unused when ops > 0
  uint64_t ops = 0;                              // measured requests; 0 when duration is set
  absl::Duration warmup = absl::ZeroDuration();  // run first, not counted
  absl::Duration timeout = absl::Seconds(5);     // deadline of every call
  uint64_t keys = 100000;
  int key_size = 16;
  int value_size = 100;
  double read_ratio = 0.5;
  Distribution dist = Distribution::kUniform;
  double zipf_theta = 0.99;
  Consistency consistency = Consistency::kDefault;
  uint64_t seed = 1;
  int threads = 1;   // worker threads, each with its own completion queue
  int channels = 4;  // distinct connections per address
  int batch = 1;     // ops per request: > 1 sends kvstore's KV.Batch (the pipelined path)
  double rate = 0;   // ops/s over all clients, sent on a fixed schedule; 0: closed loop
  Route route = Route::kAny;
  std::string json_path;
  security::ClientTlsOptions tls;  // --cacert --cert --key --token
};

// What ParseFlags decided: run with `options`, or exit now with `exit_code`
// after printing `message` (help text on stdout for 0, a one-line reason on
// stderr for 2).
struct ParsedFlags {
  Options options;
  bool exit_now = false;
  int exit_code = 0;
  std::string message;
};

// Parses and checks argv. `cores` is the default for --threads.
ParsedFlags ParseFlags(int argc, const char* const* argv, int cores);

std::string TargetName(Target t);
std::string ConsistencyName(Consistency c);
std::string RouteName(Route r);

}  // namespace kv::bench
