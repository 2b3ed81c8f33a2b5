// Planned leave, the operator's counters and test hooks.
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/blocking_counter.h"
#include "spdlog/spdlog.h"
#include "src/node/node.h"

namespace kv::node {

void Node::LogTransitions() {
  for (const auto& t : membership_.Sweep()) {
    if (t.dead) {
      spdlog::warn(
          "peer {} is {}; its keys move to the next-closest nodes", t.id.ShortHex(),
          t.left ? "leaving" : "dead (down for " + absl::FormatDuration(options_.dead_after) + ")");
      repair_soon_ = true;
      continue;
    }
    switch (t.state) {
      case membership::PeerState::kDown:
        spdlog::warn("peer {} is down (heartbeats stopped)", t.id.ShortHex());
        break;
      case membership::PeerState::kSuspect:
        spdlog::info("peer {} is suspect (heartbeats late)", t.id.ShortHex());
        break;
      case membership::PeerState::kAlive:
        spdlog::info("peer {} is alive", t.id.ShortHex());
        break;
    }
  }
}

void Node::HandleLeaving(const dht::Contact& from, uint64_t incarnation) {
  spdlog::info("peer {} ({}) announced it is leaving", from.id.ShortHex(), from.address);
  membership_.MarkLeft(from.id, incarnation);
  repair_soon_ = true;
}

const char* LeavePhaseName(LeavePhase p) {
  switch (p) {
    case LeavePhase::kAnnouncing:
      return "announcing";
    case LeavePhase::kHandoff:
      return "handoff";
    case LeavePhase::kDone:
      return "done";
    case LeavePhase::kIncomplete:
      return "incomplete";
    case LeavePhase::kForced:
      return "forced";
    case LeavePhase::kStopped:
      break;
  }
  return "stopped";
}

absl::Status Node::Leave(bool force, std::function<void(const LeaveProgress&)> progress) {
  absl::MutexLock l(&leave_mu_);
  {
    absl::MutexLock s(&mu_);
    if (stopping_) return absl::FailedPreconditionError("this node is stopping");
  }
  if (leaving_.exchange(true)) {
    return absl::FailedPreconditionError("this node is already leaving the cluster");
  }
  // An earlier leave that ended incomplete has returned or is returning.
  if (leave_thread_.joinable()) leave_thread_.join();
  leave_thread_ =
      std::thread([this, force, progress = std::move(progress)] { LeaveLoop(force, progress); });
  return absl::OkStatus();
}

void Node::LeaveLoop(bool force, std::function<void(const LeaveProgress&)> progress) {
  LeaveProgress p{.phase = LeavePhase::kAnnouncing};
  progress(p);
  // Tell every contact, so coordinators stop choosing this node.
  std::vector<membership::Membership::PeerView> peers = membership_.Peers();
  {
    auto told = std::make_shared<absl::BlockingCounter>(static_cast<int>(peers.size()));
    for (const auto& peer : peers) {
      transport_->Leaving(peer.contact, [told](absl::Status) { told->DecrementCount(); });
    }
    told->Wait();
  }
  spdlog::info("leaving: told {} peers; handing off keys", peers.size());

  // Pass after pass, push every record whose version was not yet moved, until
  // a pass finds nothing new: writes that were in flight when the peers
  // learned of the leave are caught by the next pass. A new owner that is
  // down gets a hint instead; a record counts as moved once every live new
  // owner acknowledged it.
  absl::flat_hash_map<std::string, storage::Version> moved;
  constexpr uint32_t kMaxPasses = 8;
  auto stopping = [this] {
    absl::MutexLock l(&mu_);
    return stopping_;
  };
  p.phase = LeavePhase::kHandoff;
  for (p.pass = 1; p.pass <= kMaxPasses && !stopping(); ++p.pass) {
    std::vector<std::pair<std::string, storage::Version>> todo;
    engine_->ForEach([&](std::string_view key, const storage::Record& rec) {
      auto it = moved.find(absl::string_view(key.data(), key.size()));
      if (it == moved.end() || it->second != rec.version) {
        todo.push_back({std::string(key), rec.version});
      }
    });
    p.keys_total = p.keys_moved + todo.size();
    p.keys_failed = 0;  // counts this pass only: a later pass retries
    progress(p);
    if (todo.empty()) break;
    const std::vector<dht::Contact> candidates = OwnerCandidates();
    constexpr size_t kBatch = 256;
    absl::Time last_report = clock_->Now();
    for (size_t start = 0; start < todo.size() && !stopping(); start += kBatch) {
      const size_t end = std::min(todo.size(), start + kBatch);
      std::vector<std::string> batch;
      for (size_t i = start; i < end; ++i) batch.push_back(todo[i].first);
      for (const Pushed& pushed : PushToOwners(batch, candidates, nullptr)) {
        if (!pushed.acked) {
          ++p.keys_failed;
          continue;
        }
        const std::string& key = batch[pushed.index];
        moved[key] = pushed.record.version;
        ++p.keys_moved;
        const size_t bytes = key.size() + pushed.record.value.size();
        p.bytes_moved += bytes;
        counters_.leave_keys_moved.fetch_add(1, std::memory_order_relaxed);
        counters_.leave_bytes_moved.fetch_add(bytes, std::memory_order_relaxed);
      }
      if (clock_->Now() - last_report >= absl::Seconds(1)) {
        last_report = clock_->Now();
        spdlog::info("leaving: pass {}: moved {} keys ({} bytes), {} failed", p.pass, p.keys_moved,
                     p.bytes_moved, p.keys_failed);
        progress(p);
      }
    }
  }
  if (stopping()) {
    p.phase = LeavePhase::kStopped;
    spdlog::warn("leaving: stopped before the handoff was done; moved {} keys ({} bytes)",
                 p.keys_moved, p.bytes_moved);
    progress(p);
    return;
  }
  if (p.keys_failed > 0 && !force) {
    // Leaving now would drop the only copies some owners lack: stay.
    leaving_ = false;
    Unleave();
    p.phase = LeavePhase::kIncomplete;
    spdlog::warn(
        "leave incomplete: {} keys were not handed off to every new owner after {} passes; the "
        "node stays in the cluster and keeps serving (kvctl leave --force leaves anyway)",
        p.keys_failed, p.pass);
    progress(p);
    return;
  }
  p.phase = p.keys_failed == 0 ? LeavePhase::kDone : LeavePhase::kForced;
  spdlog::info("leaving: {}; moved {} keys ({} bytes) in {} passes, {} not acknowledged",
               LeavePhaseName(p.phase), p.keys_moved, p.bytes_moved, p.pass, p.keys_failed);
  progress(p);
  if (options_.on_left) options_.on_left();
}

void Node::Unleave() {
  std::vector<membership::Membership::PeerView> peers = membership_.Peers();
  auto told = std::make_shared<absl::BlockingCounter>(static_cast<int>(peers.size()));
  for (const auto& peer : peers) {
    transport_->Join(
        peer.contact.address,
        [told](absl::StatusOr<replication::PeerTransport::JoinAnswer>) { told->DecrementCount(); });
  }
  told->Wait();
  spdlog::info("told {} peers this node stays in the cluster", peers.size());
}

absl::StatusOr<uint64_t> Node::DropKeys(const std::string& prefix, uint32_t limit) {
  if (!options_.test_hooks) {
    return absl::FailedPreconditionError(
        "DropKeys is a test hook; start the node with --enable-test-hooks to use it");
  }
  std::vector<std::string> keys;
  engine_->ForEach([&](std::string_view key, const storage::Record&) {
    if ((limit == 0 || keys.size() < limit) && key.substr(0, prefix.size()) == prefix) {
      keys.emplace_back(key);
    }
  });
  for (const std::string& k : keys) engine_->TEST_Erase(k);
  spdlog::warn("test hook: dropped {} keys with prefix '{}'", keys.size(), prefix);
  return keys.size();
}

std::vector<std::pair<std::string, uint64_t>> Node::Stats() const {
  auto v = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  const replication::HintStore::Stats h = hints_->stats();
  const Counters& c = counters_;
  return {
      {"anti_entropy_buckets_differing", v(c.ae_buckets_differing)},
      {"anti_entropy_bytes_received", v(c.ae_bytes_received)},
      {"anti_entropy_bytes_sent", v(c.ae_bytes_sent)},
      {"anti_entropy_exchanges", v(c.ae_exchanges)},
      {"anti_entropy_keys_pulled", v(c.ae_keys_pulled)},
      {"anti_entropy_keys_pushed", v(c.ae_keys_pushed)},
      {"anti_entropy_keys_served", v(c.ae_keys_served)},
      {"anti_entropy_rounds", v(c.ae_rounds)},
      {"handoff_bytes", v(c.handoff_bytes)},
      {"handoff_keys_dropped", v(c.handoff_keys_dropped)},
      {"handoff_keys_pushed", v(c.handoff_keys_pushed)},
      {"hints_bytes", h.bytes},
      {"hints_dropped", v(c.hints_dropped) + h.evicted},
      {"hints_kept", v(c.hints_kept)},
      {"hints_pending", h.hints},
      {"hints_replayed", v(c.hints_replayed)},
      {"hints_sent", v(c.hints_sent)},
      {"keys", engine_->Size()},
      {"leave_bytes_moved", v(c.leave_bytes_moved)},
      {"leave_keys_moved", v(c.leave_keys_moved)},
      {"purged_expired", v(c.purged_expired)},
      {"purged_tombstones", v(c.purged_tombstones)},
      {"read_repairs", coordinator_.read_repairs()},
      {"speculative_reads", coordinator_.speculative_reads()},
  };
}

}  // namespace kv::node
