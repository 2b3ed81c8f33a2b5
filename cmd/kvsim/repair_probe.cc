#include "cmd/kvsim/repair_probe.h"

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace kv::sim {

namespace {

RepairCost Totals(Cluster* c) {
  RepairCost t;
  for (int i = 0; i < c->size(); ++i) {
    if (!c->up(i)) continue;
    for (const auto& [k, v] : c->node(i).Stats()) {
      if (k == "anti_entropy_rounds") t.rounds += v;
      if (k == "anti_entropy_scans") t.scans += v;
      if (k == "anti_entropy_tree_requests") t.tree_requests += v;
      if (k == "anti_entropy_bytes_sent" || k == "anti_entropy_bytes_received") t.bytes += v;
      if (k == "anti_entropy_keys_pulled" || k == "anti_entropy_keys_pushed") t.keys_moved += v;
    }
  }
  return t;
}

RepairCost Minus(const RepairCost& a, const RepairCost& b) {
  return {a.rounds - b.rounds, a.scans - b.scans, a.tree_requests - b.tree_requests,
          a.bytes - b.bytes, a.keys_moved - b.keys_moved};
}

std::string KeyName(int k) { return absl::StrCat("key", k); }

}  // namespace

RepairProbeResult RunRepairProbe(Cluster* c, const RepairProbeOptions& o) {
  RepairProbeResult result;
  std::vector<dht::Contact> all;
  absl::flat_hash_map<dht::NodeId, int> index;
  for (int i = 0; i < c->size(); ++i) {
    all.push_back(c->contact(i));
    index[c->contact(i).id] = i;
  }
  // Every record on each of its owners, as if written long ago.
  const absl::Time wall = absl::Now();
  const storage::Version version{.timestamp = static_cast<uint64_t>(c->clock().NowMillis() - 60'000)
                                              << 16,
                                 .node_id = c->contact(0).id.ToHex()};
  std::vector<std::vector<int>> owners_of(o.keys);
  for (int k = 0; k < o.keys; ++k) {
    const std::string key = KeyName(k);
    const storage::Record rec{.value = absl::StrCat("value-", k), .version = version};
    for (const dht::Contact& owner :
         dht::ClosestAmong(all, dht::NodeId::FromKey(key), o.replicas)) {
      const int i = index.at(owner.id);
      owners_of[k].push_back(i);
      if (!c->engine(i).Apply(key, rec).ok()) {
        std::fprintf(stderr, "kvsim: could not load %s\n", key.c_str());
      }
    }
    if ((k + 1) % 200'000 == 0) std::fprintf(stderr, "kvsim: loaded %d keys\n", k + 1);
  }
  result.load_wall_s = absl::ToDoubleSeconds(absl::Now() - wall);
  // Two rounds to settle anything the load left, then rounds on a store
  // where nothing differs.
  c->RunFor(o.interval * 2 + absl::Seconds(1));
  const RepairCost settled = Totals(c);
  c->RunFor(o.interval * 3);
  result.unchanged = Minus(Totals(c), settled);
  std::fprintf(stderr, "kvsim: %llu rounds on the unchanged store: %llu scans, %llu bytes\n",
               static_cast<unsigned long long>(result.unchanged.rounds),
               static_cast<unsigned long long>(result.unchanged.scans),
               static_cast<unsigned long long>(result.unchanged.bytes));
  // Records lost from one owner each.
  std::mt19937_64 rng(o.seed ^ 0x7265706169ull);
  std::vector<std::pair<int, std::string>> lost;
  for (int n = 0; n < o.lose_keys; ++n) {
    const int k = static_cast<int>(rng() % static_cast<uint64_t>(o.keys));
    const int owner = owners_of[k][rng() % owners_of[k].size()];
    c->engine(owner).TEST_Erase(KeyName(k));
    lost.emplace_back(owner, KeyName(k));
  }
  const RepairCost before = Totals(c);
  const absl::Time lost_at = c->clock().Now();
  auto back = [&] {
    int n = 0;
    for (const auto& [owner, key] : lost) {
      absl::StatusOr<std::optional<storage::Record>> r = c->engine(owner).Read(key);
      n += r.ok() && r->has_value();
    }
    return n;
  };
  if (c->RunUntil([&] { return back() == static_cast<int>(lost.size()); }, o.interval * 4)) {
    result.restore_s = absl::ToDoubleSeconds(c->clock().Now() - lost_at);
  }
  // The rest of the round that brought them back.
  c->RunFor(o.interval);
  result.restored = back();
  result.repair = Minus(Totals(c), before);
  return result;
}

}  // namespace kv::sim
