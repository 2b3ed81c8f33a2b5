// dht_bench: a closed-loop put/get benchmark of OpenDHT (Debian's libopendht),
// the peer kvstore's 16-node cluster is compared with in bench/compare.py.
//
// One process runs --nodes DhtRunner nodes, each bound to 127.0.0.1 on a port
// the kernel picks, on a private network id (so they never talk to the public
// OpenDHT network). Node i pings nodes 0..i-1 to join, and the run waits
// (bounded) until every node knows at least min(nodes-1, 8) others. Then two
// phases, each --warmup seconds not counted and --duration seconds measured:
//   put: --clients operations in flight; client c always talks to node
//        c mod --nodes, puts a --value-size value under a uniform random key
//        of the --keys key space (key text as kvbench: 'k' + zero-padded index).
//        A put is done when OpenDHT's done callback fires: the value is stored
//        on the nodes closest to the key (OpenDHT announces to 8 of them).
//   get: the same, reading keys the put phase stored; a get is done at its
//        first value (the value callback returns false, which ends the
//        search) or at the done callback, whichever comes first.
// Latency is measured from issue to done on the steady clock, in the same
// log-linear histogram as kvbench. Failed operations (done(false)) count as
// errors; operations still outstanding --drain seconds after the phase ends
// count as unfinished. Results go to stdout and, with --json, to a file with
// kvbench's field names (ops_per_sec, latency_us.p50, ...).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <opendht.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "cmd/kvbench/histogram.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  int nodes = 16;
  int clients = 50;
  double duration = 10;
  double warmup = 1;
  double drain = 10;
  double join_timeout = 20;
  int keys = 100000;
  int key_size = 16;
  int value_size = 100;
  uint64_t seed = 1;
  std::string json;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "dht_bench: %s\n"
               "usage: dht_bench [--nodes N] [--clients N] [--duration SEC] [--warmup SEC]\n"
               "                 [--drain SEC] [--join-timeout SEC] [--keys N] [--key-size N]\n"
               "                 [--value-size N] [--seed N] [--json PATH]\n",
               why);
  std::exit(2);
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) Usage(("missing value after " + a).c_str());
    const char* v = argv[++i];
    if (a == "--nodes")
      f.nodes = std::atoi(v);
    else if (a == "--clients")
      f.clients = std::atoi(v);
    else if (a == "--duration")
      f.duration = std::atof(v);
    else if (a == "--warmup")
      f.warmup = std::atof(v);
    else if (a == "--drain")
      f.drain = std::atof(v);
    else if (a == "--join-timeout")
      f.join_timeout = std::atof(v);
    else if (a == "--keys")
      f.keys = std::atoi(v);
    else if (a == "--key-size")
      f.key_size = std::atoi(v);
    else if (a == "--value-size")
      f.value_size = std::atoi(v);
    else if (a == "--seed")
      f.seed = std::strtoull(v, nullptr, 10);
    else if (a == "--json")
      f.json = v;
    else
      Usage(("unknown flag " + a).c_str());
  }
  if (f.nodes < 1 || f.clients < 1 || f.duration <= 0 || f.warmup < 0 || f.keys < 1 ||
      f.key_size < 2 || f.value_size < 0)
    Usage("bad flag value");
  return f;
}

std::string KeyText(int index, int size) {
  std::string digits = std::to_string(index);
  if (static_cast<int>(digits.size()) + 1 > size) Usage("--key-size too small for --keys");
  std::string key(static_cast<size_t>(size), '0');
  key[0] = 'k';
  key.replace(key.size() - digits.size(), digits.size(), digits);
  return key;
}

// Per-phase counters, shared by the callbacks of all nodes' threads.
struct PhaseStats {
  std::mutex mu;
  kv::bench::Histogram latency;
  uint64_t ops = 0;     // successful, measured
  uint64_t errors = 0;  // failed, measured
  uint64_t misses = 0;  // gets that completed without a value
  uint64_t unfinished = 0;
  uint64_t completed_any = 0;  // warm-up included, for the progress line
  double elapsed = 0;
};

// One in-flight operation. Callbacks may fire more than once (a value, then
// done); `finished` makes the first one count.
struct Op {
  int client;
  bool measured;
  Clock::time_point start;
  std::atomic<bool> finished{false};
};

class Phase {
 public:
  Phase(std::vector<std::unique_ptr<dht::DhtRunner>>& nodes, const Flags& f, bool is_get,
        std::vector<int> key_pool, PhaseStats& stats)
      : nodes_(nodes),
        f_(f),
        is_get_(is_get),
        pool_(std::move(key_pool)),
        stats_(stats),
        rng_(f.seed + (is_get ? 7 : 3)) {
    value_.resize(f.value_size);
    for (int i = 0; i < f.value_size; ++i) value_[i] = static_cast<uint8_t>('a' + (i * 7 + 3) % 26);
  }

  // Returns the keys that were stored successfully (put phase only).
  std::vector<int> Run() {
    const auto t0 = Clock::now();
    measure_from_ = t0 + ToDur(f_.warmup);
    const auto end = measure_from_ + ToDur(f_.duration);
    for (int c = 0; c < f_.clients; ++c) Issue(c);
    auto next_progress = t0 + std::chrono::seconds(1);
    uint64_t last_completed = 0;
    const bool tty = isatty(2);
    Clock::time_point last_answer = measure_from_;
    {
      std::unique_lock<std::mutex> lk(ready_mu_);
      while (Clock::now() < end) {
        ready_cv_.wait_until(lk, std::min(end, next_progress), [&] { return !ready_.empty(); });
        while (!ready_.empty()) {
          const int c = ready_.front();
          ready_.pop_front();
          lk.unlock();
          if (Clock::now() < end) Issue(c);
          lk.lock();
        }
        if (Clock::now() >= next_progress) {
          uint64_t done;
          {
            std::lock_guard<std::mutex> g(stats_.mu);
            done = stats_.completed_any;
          }
          if (tty) {
            std::fprintf(stderr, "\r  %s %5.1f s  %8.0f ops/s  errors %llu   ",
                         is_get_ ? "get" : "put",
                         std::chrono::duration<double>(Clock::now() - t0).count(),
                         static_cast<double>(done - last_completed),
                         static_cast<unsigned long long>(stats_.errors));
          }
          last_completed = done;
          next_progress += std::chrono::seconds(1);
        }
      }
      stopping_ = true;
    }
    // Measured throughput covers the measured window only.
    last_answer = end;
    // Wait (bounded) for operations still in flight.
    const auto drain_end = Clock::now() + ToDur(f_.drain);
    {
      std::unique_lock<std::mutex> lk(ready_mu_);
      ready_cv_.wait_until(lk, drain_end, [&] { return in_flight_ == 0; });
    }
    if (tty) std::fprintf(stderr, "\r%60s\r", "");
    std::lock_guard<std::mutex> g(stats_.mu);
    {
      std::lock_guard<std::mutex> lk(ready_mu_);
      stats_.unfinished = in_flight_;
    }
    stats_.elapsed = std::chrono::duration<double>(last_answer - measure_from_).count();
    return std::vector<int>(stored_.begin(), stored_.end());
  }

 private:
  static Clock::duration ToDur(double sec) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(sec));
  }

  int PickKey() {
    if (is_get_) return pool_[std::uniform_int_distribution<size_t>(0, pool_.size() - 1)(rng_)];
    return std::uniform_int_distribution<int>(0, f_.keys - 1)(rng_);
  }

  void Issue(int client) {
    const int key = PickKey();
    auto op = std::make_shared<Op>();
    op->client = client;
    op->start = Clock::now();
    op->measured = op->start >= measure_from_;
    {
      std::lock_guard<std::mutex> lk(ready_mu_);
      ++in_flight_;
    }
    dht::DhtRunner& node = *nodes_[client % nodes_.size()];
    const dht::InfoHash hash = dht::InfoHash::get(KeyText(key, f_.key_size));
    if (is_get_) {
      auto got = std::make_shared<std::atomic<bool>>(false);
      node.get(
          hash,
          [this, op, got](const std::vector<std::shared_ptr<dht::Value>>& values) {
            if (values.empty()) return true;
            got->store(true);
            Finish(*op, true, true, -1);
            return false;  // first value is enough: stop the search
          },
          [this, op, got](bool ok) { Finish(*op, ok, got->load(), -1); });
    } else {
      node.put(hash, dht::Value(value_),
               [this, op, key](bool ok) { Finish(*op, ok, true, ok ? key : -1); });
    }
  }

  void Finish(Op& op, bool ok, bool found, int stored_key) {
    if (op.finished.exchange(true)) return;
    const auto now = Clock::now();
    {
      std::lock_guard<std::mutex> g(stats_.mu);
      ++stats_.completed_any;
      if (stored_key >= 0) stored_.insert(stored_key);
      if (op.measured) {
        if (ok) {
          ++stats_.ops;
          if (!found) ++stats_.misses;
          stats_.latency.Record(static_cast<uint64_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(now - op.start).count()));
        } else {
          ++stats_.errors;
        }
      }
    }
    std::lock_guard<std::mutex> lk(ready_mu_);
    --in_flight_;
    if (!stopping_) ready_.push_back(op.client);
    ready_cv_.notify_one();
  }

  std::vector<std::unique_ptr<dht::DhtRunner>>& nodes_;
  const Flags& f_;
  const bool is_get_;
  const std::vector<int> pool_;
  PhaseStats& stats_;
  std::mt19937_64 rng_;
  dht::Blob value_;
  Clock::time_point measure_from_;
  std::unordered_set<int> stored_;  // guarded by stats_.mu

  std::mutex ready_mu_;
  std::condition_variable ready_cv_;
  std::deque<int> ready_;
  uint64_t in_flight_ = 0;
  bool stopping_ = false;
};

std::string OpJson(PhaseStats& s, bool with_misses) {
  const auto& h = s.latency;
  const double rate = s.elapsed > 0 ? static_cast<double>(s.ops) / s.elapsed : 0;
  char buf[768];
  std::snprintf(buf, sizeof buf,
                "{\"ops\": %llu, \"ops_per_sec\": %.1f, \"errors\": %llu, \"unfinished\": %llu%s"
                ", \"latency_us\": {\"p50\": %llu, \"p90\": %llu, \"p99\": %llu, \"p99_9\": %llu, "
                "\"max\": %llu, \"mean\": %.1f}}",
                static_cast<unsigned long long>(s.ops), rate,
                static_cast<unsigned long long>(s.errors),
                static_cast<unsigned long long>(s.unfinished),
                with_misses ? (", \"misses\": " + std::to_string(s.misses)).c_str() : "",
                static_cast<unsigned long long>(h.ValueAtPercentile(50)),
                static_cast<unsigned long long>(h.ValueAtPercentile(90)),
                static_cast<unsigned long long>(h.ValueAtPercentile(99)),
                static_cast<unsigned long long>(h.ValueAtPercentile(99.9)),
                static_cast<unsigned long long>(h.max()), h.mean());
  return buf;
}

void PrintRow(const char* name, PhaseStats& s) {
  const auto& h = s.latency;
  std::printf("%-6s %9llu %10.1f %8.3f %8.3f %8.3f %9.3f %8llu %8llu %10llu\n", name,
              static_cast<unsigned long long>(s.ops), s.elapsed > 0 ? s.ops / s.elapsed : 0.0,
              h.ValueAtPercentile(50) / 1e3, h.ValueAtPercentile(99) / 1e3,
              h.ValueAtPercentile(99.9) / 1e3, h.max() / 1e3,
              static_cast<unsigned long long>(s.misses), static_cast<unsigned long long>(s.errors),
              static_cast<unsigned long long>(s.unfinished));
}

}  // namespace

int main(int argc, char** argv) {
  const Flags f = ParseFlags(argc, argv);
  const dht::NetId network = 0x6b7662;  // private: never the public network (id 0)

  // Start the nodes on 127.0.0.1, ports picked by the kernel.
  std::vector<std::unique_ptr<dht::DhtRunner>> nodes;
  const auto join_start = Clock::now();
  for (int i = 0; i < f.nodes; ++i) {
    auto node = std::make_unique<dht::DhtRunner>();
    dht::DhtRunner::Config config;
    config.threaded = true;
    config.dht_config.node_config.network = network;
    // Every node shares one IP: lift the per-IP and global rate limits, and
    // the search and storage caps, so OpenDHT's own limits do not throttle it.
    config.dht_config.node_config.max_req_per_sec = -1;
    config.dht_config.node_config.max_peer_req_per_sec = -1;
    config.dht_config.node_config.max_searches = -1;
    config.dht_config.node_config.max_store_size = -1;
    config.dht_config.node_config.max_store_keys = -1;
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = 0;
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    config.bind4 = dht::SockAddr(reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
    node->run(config, dht::DhtRunner::Context{});
    nodes.push_back(std::move(node));
  }
  const in_port_t seed_port = nodes[0]->getBoundPort(AF_INET);
  if (seed_port == 0) {
    std::fprintf(stderr, "dht_bench: node 0 did not bind\n");
    return 1;
  }
  // Node i pings nodes 0..i-1 and they learn of it from the ping, so every
  // routing table starts full, as in a network that has run for a while.
  std::vector<dht::SockAddr> known;
  for (int i = 0; i < f.nodes; ++i) {
    if (i > 0) nodes[i]->bootstrap(known);
    known.push_back(nodes[i]->getBound(AF_INET));
  }

  // Wait (bounded) until every node knows min(nodes-1, 8) others (good or
  // dubious: OpenDHT calls a node good only once it answered it directly).
  const unsigned want = static_cast<unsigned>(std::min(f.nodes - 1, 8));
  bool joined = false;
  while (std::chrono::duration<double>(Clock::now() - join_start).count() < f.join_timeout) {
    joined = true;
    for (auto& n : nodes) {
      if (n->getNodesStats(AF_INET).getKnownNodes() < want) {
        joined = false;
        break;
      }
    }
    if (joined) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double join_sec = std::chrono::duration<double>(Clock::now() - join_start).count();
  unsigned min_good = UINT32_MAX, min_known = UINT32_MAX;
  for (auto& n : nodes) {
    const dht::NodeStats s = n->getNodesStats(AF_INET);
    min_good = std::min(min_good, s.good_nodes);
    min_known = std::min(min_known, s.getKnownNodes());
  }
  std::fprintf(stderr,
               "dht_bench: %d nodes on 127.0.0.1 (seed port %u), %s after %.1f s "
               "(each knows >= %u others, >= %u good)\n",
               f.nodes, seed_port, joined ? "joined" : "NOT fully joined", join_sec, min_known,
               min_good);

  // The phases outlive the nodes' threads: a late callback (an operation
  // still running after its phase's drain) must find its Phase alive.
  PhaseStats put_stats, get_stats;
  auto put_phase =
      std::make_unique<Phase>(nodes, f, /*is_get=*/false, std::vector<int>{}, put_stats);
  std::vector<int> stored = put_phase->Run();
  std::unique_ptr<Phase> get_phase;
  if (!stored.empty()) {
    get_phase = std::make_unique<Phase>(nodes, f, /*is_get=*/true, std::move(stored), get_stats);
    get_phase->Run();
  }
  // Stop every node (threads joined): no callback runs after this.
  for (auto& n : nodes) n->shutdown({}, true);
  for (auto& n : nodes) n->join();

  std::printf(
      "dht_bench: OpenDHT %s, %d nodes in one process, %d clients, %d keys, %d-byte values\n",
      dht::version(), f.nodes, f.clients, f.keys, f.value_size);
  std::printf(
      "op           ops      ops/s   p50 ms   p99 ms p99.9 ms    max ms   misses   errors "
      "unfinished\n");
  PrintRow("put", put_stats);
  PrintRow("get", get_stats);

  const uint64_t total = put_stats.ops + get_stats.ops;
  const uint64_t bad =
      put_stats.errors + get_stats.errors + put_stats.unfinished + get_stats.unfinished;
  const double error_rate = total + bad > 0 ? static_cast<double>(bad) / (total + bad) : 1.0;
  const bool failed = total == 0 || error_rate > 0.001;

  if (!f.json.empty()) {
    FILE* out = std::fopen(f.json.c_str(), "w");
    if (!out) {
      std::fprintf(stderr, "dht_bench: cannot write %s\n", f.json.c_str());
      return 1;
    }
    std::fprintf(
        out,
        "{\"tool\": \"dht_bench\", \"opendht_version\": \"%s\",\n"
        " \"config\": {\"nodes\": %d, \"clients\": %d, \"keys\": %d, \"key_size\": %d, "
        "\"value_size\": %d, \"duration_sec\": %g, \"warmup_sec\": %g, \"seed\": %llu},\n"
        " \"join_sec\": %.3f, \"joined\": %s, \"min_known_nodes\": %u, \"min_good_nodes\": %u,\n"
        " \"put\": %s,\n \"get\": %s,\n \"error_rate\": %.6f, \"failed\": %s}\n",
        dht::version(), f.nodes, f.clients, f.keys, f.key_size, f.value_size, f.duration, f.warmup,
        static_cast<unsigned long long>(f.seed), join_sec, joined ? "true" : "false", min_known,
        min_good, OpJson(put_stats, false).c_str(), OpJson(get_stats, true).c_str(), error_rate,
        failed ? "true" : "false");
    std::fclose(out);
  }
  std::printf("%s: %.3f%% of operations failed or did not finish\n", failed ? "FAILED" : "ok",
              100 * error_rate);
  std::fflush(stdout);
  return failed ? 1 : 0;
}
