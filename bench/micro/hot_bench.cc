// Google Benchmark of kvstore's hot internals: what every client operation
// runs besides gRPC. Built by `make bench` (not a test); run as
//   build/bin/hot_bench [--benchmark_filter=Routing]
// docs/benchmarks.md, "Hot internals", has figures and how to read them.
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "src/dht/node_id.h"
#include "src/dht/routing_table.h"
#include "src/storage/memory_engine.h"
#include "src/storage/record.h"
#include "src/storage/record_codec.h"

namespace kv {
namespace {

// Keys like kvbench's: "key:" and 12 digits, 16 bytes.
std::string KeyFor(int64_t i) { return absl::StrFormat("key:%012d", i); }

std::vector<std::string> Keys(int64_t n) {
  std::vector<std::string> keys;
  keys.reserve(n);
  for (int64_t i = 0; i < n; ++i) keys.push_back(KeyFor(i));
  return keys;
}

storage::Record RecordOf(size_t value_bytes, uint64_t timestamp) {
  return storage::Record{.value = std::string(value_bytes, 'v'),
                         .version = {timestamp, std::string(40, 'a')}};
}

// Placement: the SHA-1 of a key, once per operation.
void BM_NodeIdFromKey(benchmark::State& state) {
  const std::vector<std::string> keys = Keys(1024);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(dht::NodeId::FromKey(keys[i++ & 1023]));
  }
}
BENCHMARK(BM_NodeIdFromKey);

// A routing table holding `range(0)` random contacts.
dht::RoutingTable TableWith(int64_t contacts) {
  std::mt19937_64 rng(7);
  dht::RoutingTable table(dht::NodeId::Random(rng), {});
  for (int64_t i = 0; i < contacts; ++i) {
    (void)table.Update(
        {dht::NodeId::Random(rng), absl::StrFormat("10.0.%d.%d:50051", i / 250, i % 250)},
        absl::UnixEpoch());
  }
  return table;
}

// Replica resolution: the 3 closest contacts to a key.
void BM_RoutingTableClosest3(benchmark::State& state) {
  const dht::RoutingTable table = TableWith(state.range(0));
  const dht::NodeId target = dht::NodeId::FromKey("key:000000000042");
  for (auto _ : state) benchmark::DoNotOptimize(table.Closest(target, 3));
  state.counters["contacts"] = static_cast<double>(table.size());
}
BENCHMARK(BM_RoutingTableClosest3)->Arg(0)->Arg(2)->Arg(15)->Arg(200);

// The owner-candidate snapshot (Membership::OwnerCandidates) copies every contact.
void BM_RoutingTableAll(benchmark::State& state) {
  const dht::RoutingTable table = TableWith(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(table.All());
  state.counters["contacts"] = static_cast<double>(table.size());
}
BENCHMARK(BM_RoutingTableAll)->Arg(0)->Arg(2)->Arg(15)->Arg(200);

// Last-writer-wins: two versions with the same timestamp, so the compare
// goes on to the 40-character node IDs (the slower case).
void BM_VersionCompare(benchmark::State& state) {
  const storage::Version a{1000, std::string(40, 'a')};
  const storage::Version b{1000, std::string(39, 'a') + "b"};
  for (auto _ : state) {
    benchmark::DoNotOptimize(a < b);
    benchmark::DoNotOptimize(b < a);
  }
}
BENCHMARK(BM_VersionCompare);

// The memory engine with `range(0)` keys of 16 bytes and 100-byte values.
class MemoryEngineFixture : public benchmark::Fixture {
 public:
  void SetUp(const benchmark::State& state) override {
    keys_ = Keys(state.range(0));
    for (const std::string& k : keys_) (void)engine_.Apply(k, RecordOf(100, 1));
  }
  void TearDown(const benchmark::State&) override {
    for (const std::string& k : keys_) engine_.TEST_Erase(k);
    keys_.clear();
  }

 protected:
  storage::MemoryEngine engine_;
  std::vector<std::string> keys_;
};

// A read of a stored key, in an order that defeats the cache.
BENCHMARK_DEFINE_F(MemoryEngineFixture, Read)(benchmark::State& state) {
  std::mt19937_64 rng(3);
  const size_t n = keys_.size();
  for (auto _ : state) benchmark::DoNotOptimize(engine_.Read(keys_[rng() % n]));
}
BENCHMARK_REGISTER_F(MemoryEngineFixture, Read)->Arg(1000)->Arg(100000);

// A newer version of a stored key, same value size (rewritten in place).
BENCHMARK_DEFINE_F(MemoryEngineFixture, Overwrite)(benchmark::State& state) {
  std::mt19937_64 rng(3);
  const size_t n = keys_.size();
  storage::Record rec = RecordOf(100, 2);
  for (auto _ : state) {
    ++rec.version.timestamp;
    benchmark::DoNotOptimize(engine_.Apply(keys_[rng() % n], rec));
  }
}
BENCHMARK_REGISTER_F(MemoryEngineFixture, Overwrite)->Arg(1000)->Arg(100000);

// The RocksDB engine's on-disk record format, both ways.
void BM_RecordEncode(benchmark::State& state) {
  const storage::Record rec = RecordOf(state.range(0), 12345);
  for (auto _ : state) benchmark::DoNotOptimize(storage::EncodeRecord(rec));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_RecordEncode)->Arg(100)->Arg(4096);

void BM_RecordDecode(benchmark::State& state) {
  const std::string bytes = storage::EncodeRecord(RecordOf(state.range(0), 12345));
  for (auto _ : state) benchmark::DoNotOptimize(storage::DecodeRecord(bytes));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_RecordDecode)->Arg(100)->Arg(4096);

}  // namespace
}  // namespace kv

BENCHMARK_MAIN();
