#include "cmd/kvsim/nemesis.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kv::sim {
namespace {

const std::vector<std::pair<std::string, Nemesis>>& Names() {
  static const auto* names = new std::vector<std::pair<std::string, Nemesis>>{
      {"none", Nemesis::kNone},
      {"kill", Nemesis::kKill},
      {"pause", Nemesis::kPause},
      {"partition-one", Nemesis::kPartitionOne},
      {"partition-halves", Nemesis::kPartitionHalves},
      {"partition-bridge", Nemesis::kPartitionBridge},
      {"partition-asym", Nemesis::kPartitionAsym},
      {"clog", Nemesis::kClog},
      {"clock-skew", Nemesis::kClockSkew},
  };
  return *names;
}

}  // namespace

absl::StatusOr<Nemesis> ParseNemesis(const std::string& name) {
  for (const auto& [n, kind] : Names()) {
    if (n == name) return kind;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--nemesis ", name, ": give one of ", absl::StrJoin(NemesisNames(), ", ")));
}

std::string NemesisName(Nemesis kind) {
  for (const auto& [n, k] : Names()) {
    if (k == kind) return n;
  }
  return "?";
}

std::vector<std::string> NemesisNames() {
  std::vector<std::string> out;
  for (const auto& [n, kind] : Names()) out.push_back(n);
  return out;
}

NemesisRunner::NemesisRunner(NemesisOptions options, Cluster* cluster)
    : options_(options), cluster_(cluster), rng_(options.seed * 0x2545f4914f6cdd1dULL + 17) {}

absl::Duration NemesisRunner::Draw(absl::Duration lo, absl::Duration hi) {
  const int64_t a = absl::ToInt64Milliseconds(lo), b = absl::ToInt64Milliseconds(hi);
  return absl::Milliseconds(std::uniform_int_distribution<int64_t>(a, std::max(a, b))(rng_));
}

std::vector<int> NemesisRunner::Pick(size_t n) {
  std::vector<int> up;
  for (int i = 0; i < cluster_->size(); ++i) {
    if (cluster_->up(i)) up.push_back(i);
  }
  std::shuffle(up.begin(), up.end(), rng_);
  up.resize(std::min(n, up.size()));
  return up;
}

void NemesisRunner::Log(const std::string& what) {
  log_.push_back(
      absl::StrCat("t=", absl::FormatDuration(cluster_->clock().Now() - started_), " ", what));
}

void NemesisRunner::Start() {
  if (options_.kind == Nemesis::kNone) return;
  running_ = true;
  started_ = cluster_->clock().Now();
  Quiet();
}

void NemesisRunner::Quiet() {
  if (!running_) return;
  cluster_->executor().After(Draw(options_.quiet_min, options_.quiet_max), [this] { Fault(); });
}

void NemesisRunner::Fault() {
  if (!running_) return;
  ++faults_;
  const int n = cluster_->size();
  Network& net = cluster_->net();
  auto address = [this](int i) { return cluster_->contact(i).address; };
  std::string what = NemesisName(options_.kind);
  switch (options_.kind) {
    case Nemesis::kNone:
      return;
    case Nemesis::kKill:
    case Nemesis::kPause: {
      const int most = options_.kind == Nemesis::kKill ? options_.max_killed : 2;
      victims_ =
          Pick(std::min(n - 1, std::uniform_int_distribution<int>(1, std::max(1, most))(rng_)));
      for (int v : victims_) {
        options_.kind == Nemesis::kKill ? cluster_->Crash(v) : cluster_->Pause(v);
        absl::StrAppend(&what, " ", address(v));
      }
      break;
    }
    case Nemesis::kPartitionOne:
      victims_ = Pick(1);
      for (int v : victims_) {
        net.Isolate(address(v), true);
        absl::StrAppend(&what, " ", address(v));
      }
      break;
    case Nemesis::kPartitionHalves:
    case Nemesis::kPartitionBridge: {
      std::vector<int> all(n);
      for (int i = 0; i < n; ++i) all[i] = i;
      std::shuffle(all.begin(), all.end(), rng_);
      absl::flat_hash_map<std::string, int> groups;
      // With a bridge, all[0] keeps talking to both sides (no group).
      const int first = options_.kind == Nemesis::kPartitionBridge ? 1 : 0;
      const int half = first + (n - first) / 2;
      for (int j = first; j < n; ++j) groups[address(all[j])] = j < half ? 0 : 1;
      net.Partition(std::move(groups));
      absl::StrAppend(&what, " ", half - first, "|", n - half);
      if (first) absl::StrAppend(&what, " bridge ", address(all[0]));
      break;
    }
    case Nemesis::kPartitionAsym: {
      std::vector<int> picked = Pick(1 + std::uniform_int_distribution<int>(1, 4)(rng_));
      if (picked.size() < 2) break;
      victims_ = {picked[0]};
      for (size_t j = 1; j < picked.size(); ++j) net.Cut(address(picked[j]), address(picked[0]));
      absl::StrAppend(&what, " ", address(picked[0]), " deaf to ", picked.size() - 1);
      break;
    }
    case Nemesis::kClog:
    case Nemesis::kClockSkew:
      victims_ = Pick(1);
      break;
  }
  const absl::Duration hold = Draw(options_.hold_min, options_.hold_max);
  if (options_.kind == Nemesis::kClog) {
    const absl::Time until = cluster_->clock().Now() + hold;
    for (int v : victims_) {
      for (int j = 0; j < n; ++j) {
        if (j == v) continue;
        net.Clog(address(v), address(j), until);
        net.Clog(address(j), address(v), until);
      }
      absl::StrAppend(&what, " ", address(v));
    }
  }
  if (options_.kind == Nemesis::kClockSkew) {
    // Log-uniform in 2-240 s, either sign, as the chaos suite draws it.
    const double s =
        std::exp(std::uniform_real_distribution<double>(std::log(2), std::log(240))(rng_));
    const int64_t ms = std::llround(s * 1000);
    const absl::Duration skew =
        absl::Milliseconds(std::bernoulli_distribution(0.5)(rng_) ? ms : -ms);
    for (int v : victims_) {
      cluster_->Crash(v);
      cluster_->Restart(v, skew);
      absl::StrAppend(&what, " ", address(v), " ", absl::FormatDuration(skew));
    }
  }
  Log(absl::StrCat(what, " for ", absl::FormatDuration(hold)));
  cluster_->executor().After(hold, [this, g = ++generation_] {
    if (g != generation_ || !running_) return;
    Heal();
    Quiet();
  });
}

void NemesisRunner::Heal() {
  Network& net = cluster_->net();
  net.HealAll();
  for (int v : victims_) {
    if (options_.kind == Nemesis::kPause) cluster_->Resume(v);
    if (options_.kind == Nemesis::kKill) cluster_->Restart(v);
    if (options_.kind == Nemesis::kClockSkew) {
      // Restarted with the right time (the chaos suite's SIGTERM and start).
      cluster_->Crash(v);
      cluster_->Restart(v);
    }
  }
  victims_.clear();
}

void NemesisRunner::Stop() {
  if (running_) Heal();
  running_ = false;
  ++generation_;
  for (int i = 0; i < cluster_->size(); ++i) {
    cluster_->Resume(i);
    if (cluster_->skew(i) != absl::ZeroDuration()) cluster_->Crash(i);
    cluster_->Restart(i);
  }
}

}  // namespace kv::sim
