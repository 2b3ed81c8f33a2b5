#include "src/replication/leaver.h"

#include <algorithm>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/blocking_counter.h"
#include "spdlog/spdlog.h"

namespace kv::replication {

namespace {
constexpr uint32_t kMaxPasses = 8;
constexpr size_t kBatch = 256;
}  // namespace

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

Leaver::Leaver(storage::Engine* engine, PeerTransport* transport,
               const membership::Membership* membership, const util::Clock* clock,
               const OwnerPush* push, CandidatesFn owner_candidates, std::function<void()> on_left)
    : engine_(engine),
      transport_(transport),
      membership_(membership),
      clock_(clock),
      push_(push),
      owner_candidates_(std::move(owner_candidates)),
      on_left_(std::move(on_left)) {}

Leaver::~Leaver() { Stop(); }

absl::Status Leaver::Start(bool force, ProgressFn progress) {
  absl::MutexLock l(&mu_);
  if (stopping_) return absl::FailedPreconditionError("this node is stopping");
  if (leaving_.exchange(true)) {
    return absl::FailedPreconditionError("this node is already leaving the cluster");
  }
  // An earlier leave that ended incomplete has returned or is returning.
  if (thread_.joinable()) thread_.join();
  thread_ = std::thread([this, force, progress = std::move(progress)] { Run(force, progress); });
  return absl::OkStatus();
}

void Leaver::Stop() {
  absl::MutexLock l(&mu_);
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void Leaver::Announce() {
  std::vector<membership::Membership::PeerView> peers = membership_->Peers();
  auto told = std::make_shared<absl::BlockingCounter>(static_cast<int>(peers.size()));
  for (const auto& peer : peers) {
    transport_->Leaving(peer.contact, [told](absl::Status) { told->DecrementCount(); });
  }
  told->Wait();
  spdlog::info("leaving: told {} peers; handing off keys", peers.size());
}

void Leaver::Run(bool force, const ProgressFn& progress) {
  LeaveProgress p{.phase = LeavePhase::kAnnouncing};
  progress(p);
  Announce();
  // Pass after pass, push every record whose version was not yet moved, until
  // a pass finds nothing new: writes that were in flight when the peers
  // learned of the leave are caught by the next pass. A new owner that is
  // down gets a hint instead; a record counts as moved once every live new
  // owner acknowledged it.
  absl::flat_hash_map<std::string, storage::Version> moved;
  p.phase = LeavePhase::kHandoff;
  for (p.pass = 1; p.pass <= kMaxPasses && !stopping_; ++p.pass) {
    if (!Pass(p, moved, progress)) break;
  }
  if (stopping_) {
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
  if (on_left_) on_left_();
}

bool Leaver::Pass(LeaveProgress& p, absl::flat_hash_map<std::string, storage::Version>& moved,
                  const ProgressFn& progress) {
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
  if (todo.empty()) return false;
  const std::vector<dht::Contact> candidates = owner_candidates_();
  absl::Time last_report = clock_->Now();
  for (size_t start = 0; start < todo.size() && !stopping_; start += kBatch) {
    const size_t end = std::min(todo.size(), start + kBatch);
    std::vector<std::string> batch;
    for (size_t i = start; i < end; ++i) batch.push_back(todo[i].first);
    for (const OwnerPush::Pushed& pushed : push_->Push(batch, candidates, nullptr)) {
      if (!pushed.acked) {
        ++p.keys_failed;
        continue;
      }
      const std::string& key = batch[pushed.index];
      moved[key] = pushed.record.version;
      ++p.keys_moved;
      const size_t bytes = key.size() + pushed.record.value.size();
      p.bytes_moved += bytes;
      keys_moved_.fetch_add(1, std::memory_order_relaxed);
      bytes_moved_.fetch_add(bytes, std::memory_order_relaxed);
    }
    if (clock_->Now() - last_report >= absl::Seconds(1)) {
      last_report = clock_->Now();
      spdlog::info("leaving: pass {}: moved {} keys ({} bytes), {} failed", p.pass, p.keys_moved,
                   p.bytes_moved, p.keys_failed);
      progress(p);
    }
  }
  return true;
}

void Leaver::Unleave() {
  std::vector<membership::Membership::PeerView> peers = membership_->Peers();
  auto told = std::make_shared<absl::BlockingCounter>(static_cast<int>(peers.size()));
  for (const auto& peer : peers) {
    transport_->Join(peer.contact.address,
                     [told](absl::StatusOr<PeerTransport::JoinAnswer>) { told->DecrementCount(); });
  }
  told->Wait();
  spdlog::info("told {} peers this node stays in the cluster", peers.size());
}

void Leaver::AppendStats(std::vector<std::pair<std::string, uint64_t>>* out) const {
  out->insert(out->end(), {{"leave_bytes_moved", bytes_moved_.load(std::memory_order_relaxed)},
                           {"leave_keys_moved", keys_moved_.load(std::memory_order_relaxed)}});
}

}  // namespace kv::replication
