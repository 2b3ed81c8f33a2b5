// mem_per_key: what one key costs MemoryEngine beyond its key and value
// bytes, measured as growth of this process's resident set (VmRSS), and how
// long Apply and Read take. Not a test: a measurement, run by hand
// (docs/storage-format.md, "Memory engine", shows how and what it gave).
//
// It stores --keys distinct keys of --key-size bytes with --value-size byte
// values, each with an HLC-like version timestamp and the node ID (40 hex
// characters) of one of --writers writer nodes, as a node's engine holds
// them. Keys are generated one at a time, so nothing but the engine grows
// between the two RSS readings. It then reads every key back in a scattered
// order, overwrites each with a newer version, and visits all with ForEach,
// timing each phase in this thread's CPU time.
#include <malloc.h>
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "src/storage/memory_engine.h"
#include "src/storage/record.h"

#ifdef KV_TCMALLOC
#include "gperftools/malloc_extension_c.h"
#endif

namespace {

struct Flags {
  size_t keys = 1'000'000;
  size_t key_size = 16;
  size_t value_size = 100;
  size_t writers = 5;
  size_t shards = 32;
  bool expiry = false;
};

// This process's VmRSS in bytes, from /proc/self/status.
long long RssBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

// Bytes the allocator has handed out and not had back: what the program
// holds, whatever RSS says. tcmalloc reports it as a property; glibc as
// mallinfo2's uordblks plus its mmapped blocks.
long long MallocInUse() {
#ifdef KV_TCMALLOC
  size_t bytes = 0;
  MallocExtension_GetNumericProperty("generic.current_allocated_bytes", &bytes);
  return static_cast<long long>(bytes);
#else
  const struct mallinfo2 mi = mallinfo2();
  return static_cast<long long>(mi.uordblks + mi.hblkhd);
#endif
}

// Returns the allocator's free memory to the system.
void TrimHeap() {
#ifdef KV_TCMALLOC
  MallocExtension_ReleaseFreeMemory();
#else
  malloc_trim(0);
#endif
}

// Key i: "key-" and i in decimal, zero-padded (or cut) to `size` bytes.
void FillKey(size_t i, size_t size, std::string& key) {
  key = absl::StrFormat("key-%0*d", size > 4 ? size - 4 : 0, i);
  key.resize(size, '-');
}

// CPU time this thread has used, in nanoseconds: on a shared machine it
// varies less than wall time does.
int64_t ThreadCpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"mem_per_key: MemoryEngine's memory per key (RSS growth) and Apply/Read speed",
               "mem_per_key"};
  app.add_option("--keys", f.keys, "distinct keys stored")->capture_default_str();
  app.add_option("--key-size", f.key_size, "bytes per key (>= 12)")->capture_default_str();
  app.add_option("--value-size", f.value_size, "bytes per value")->capture_default_str();
  app.add_option("--writers", f.writers, "distinct writer node IDs")->capture_default_str();
  app.add_option("--shards", f.shards, "MemoryEngine shards")->capture_default_str();
  app.add_flag("--expiry", f.expiry, "give every record an expiry (a TTL write)");
  CLI11_PARSE(app, argc, argv);
  if (f.key_size < 12 || f.writers == 0 || f.keys == 0) {
    std::fprintf(stderr, "mem_per_key: --key-size must be >= 12, --writers and --keys >= 1\n");
    return 2;
  }

  std::vector<std::string> writers;
  for (size_t w = 0; w < f.writers; ++w) {
    writers.push_back(absl::StrFormat("%040x", 0x9e3779b97f4a7c15u * (w + 1)));
  }
  // HLC timestamps ((unix ms << 16) | logical) of a load taking ~1000 writes/ms.
  const uint64_t start_ms = 1'700'000'000'000;
  kv::storage::Record rec;
  rec.value.assign(f.value_size, 'v');
  if (f.expiry) rec.expires_at_ms = static_cast<int64_t>(start_ms) + 86'400'000;
  std::string key;
  key.reserve(f.key_size);

  kv::storage::MemoryEngine engine(f.shards);
  TrimHeap();
  const long long rss_before = RssBytes();
  const long long malloc_before = MallocInUse();

  const int64_t put_start = ThreadCpuNanos();
  for (size_t i = 0; i < f.keys; ++i) {
    FillKey(i, f.key_size, key);
    rec.value[i % f.value_size] = static_cast<char>('a' + i % 26);
    rec.version.timestamp = ((start_ms + i / 1000) << 16) | (i % 1000);
    rec.version.node_id = writers[i % writers.size()];
    if (absl::StatusOr<bool> s = engine.Apply(key, rec); !s.ok() || !*s) {
      std::fprintf(stderr, "mem_per_key: Apply of key %zu failed\n", i);
      return 1;
    }
  }
  const int64_t put_nanos = ThreadCpuNanos() - put_start;

  const long long rss_after = RssBytes();
  const long long malloc_after = MallocInUse();
  TrimHeap();
  const long long rss_trimmed = RssBytes();

  // Read every key back, visiting them in a scattered order (i * step mod n,
  // step coprime with n) so that reads do not follow insertion order.
  size_t step = 1'000'003;
  while (std::gcd(step, f.keys) != 1) ++step;
  size_t found = 0;
  const int64_t get_start = ThreadCpuNanos();
  for (size_t i = 0; i < f.keys; ++i) {
    FillKey(i * step % f.keys, f.key_size, key);
    absl::StatusOr<std::optional<kv::storage::Record>> got = engine.Read(key);
    if (got.ok() && got->has_value()) found += (*got)->value.size() == f.value_size;
  }
  const int64_t get_nanos = ThreadCpuNanos() - get_start;
  if (found != f.keys) {
    std::fprintf(stderr, "mem_per_key: read back %zu of %zu keys\n", found, f.keys);
    return 1;
  }

  // Overwrite every key, in the same scattered order, with a newer version
  // and a value of the same size: a Put of an existing key.
  const int64_t overwrite_start = ThreadCpuNanos();
  for (size_t i = 0; i < f.keys; ++i) {
    const size_t k = i * step % f.keys;
    FillKey(k, f.key_size, key);
    rec.version.timestamp = ((start_ms + 3'600'000 + i / 1000) << 16) | (i % 1000);
    rec.version.node_id = writers[(k + 1) % writers.size()];
    if (absl::StatusOr<bool> s = engine.Apply(key, rec); !s.ok() || !*s) {
      std::fprintf(stderr, "mem_per_key: overwrite of key %zu failed\n", k);
      return 1;
    }
  }
  const int64_t overwrite_nanos = ThreadCpuNanos() - overwrite_start;

  size_t visited = 0;
  const int64_t scan_start = ThreadCpuNanos();
  // Looks at the value's bytes, as a real visitor (anti-entropy, handoff) does.
  engine.ForEach([&](std::string_view, const kv::storage::Record& r) {
    visited += r.value.size() == f.value_size && r.value.back() != '\0';
  });
  const int64_t scan_nanos = ThreadCpuNanos() - scan_start;
  if (visited != f.keys) {
    std::fprintf(stderr, "mem_per_key: ForEach saw %zu of %zu keys\n", visited, f.keys);
    return 1;
  }

  const double n = static_cast<double>(f.keys);
  const double payload = static_cast<double>(f.key_size + f.value_size);
  auto per_key = [&](long long bytes) { return static_cast<double>(bytes) / n; };
  std::printf("keys %zu, key %zu B, value %zu B, %zu writers, %zu shards%s\n", f.keys, f.key_size,
              f.value_size, f.writers, f.shards, f.expiry ? ", with expiry" : "");
  std::printf("RSS growth per key:              %7.1f B (overhead %6.1f B)\n",
              per_key(rss_after - rss_before), per_key(rss_after - rss_before) - payload);
  std::printf("RSS growth per key, trimmed:     %7.1f B (overhead %6.1f B)\n",
              per_key(rss_trimmed - rss_before), per_key(rss_trimmed - rss_before) - payload);
  std::printf("malloc in use per key:           %7.1f B (overhead %6.1f B)\n",
              per_key(malloc_after - malloc_before),
              per_key(malloc_after - malloc_before) - payload);
  std::printf("counted for --max-memory-bytes:  %7.1f B (overhead %6.1f B)\n",
              per_key(static_cast<long long>(engine.ApproximateBytes())),
              per_key(static_cast<long long>(engine.ApproximateBytes())) - payload);
  // Apply and Read include making the key (a StrFormat), the same before
  // and after a change of the engine.
  std::printf(
      "CPU time per key: Apply (new key) %.0f ns, Read %.0f ns, Apply (overwrite) %.0f ns, "
      "ForEach %.0f ns\n",
      static_cast<double>(put_nanos) / n, static_cast<double>(get_nanos) / n,
      static_cast<double>(overwrite_nanos) / n, static_cast<double>(scan_nanos) / n);
  return 0;
}
