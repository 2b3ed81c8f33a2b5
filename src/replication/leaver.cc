#include "src/replication/leaver.h"

#include <algorithm>
#include <memory>

#include "absl/container/flat_hash_map.h"
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

Leaver::Leaver(storage::Engine* engine, PeerTransport* transport, util::Executor* executor,
               const membership::Membership* membership, const util::Clock* clock,
               const OwnerPush* push, CandidatesFn owner_candidates, std::function<void()> on_left)
    : engine_(engine),
      transport_(transport),
      executor_(executor),
      membership_(membership),
      clock_(clock),
      push_(push),
      owner_candidates_(std::move(owner_candidates)),
      on_left_(std::move(on_left)) {}

Leaver::~Leaver() { Stop(); }

struct Leaver::Run {
  bool force;
  ProgressFn progress;
  LeaveProgress p;
  // Every record moved, at the version moved.
  absl::flat_hash_map<std::string, storage::Version> moved;
};

absl::Status Leaver::Start(bool force, ProgressFn progress) {
  {
    absl::MutexLock l(&mu_);
    if (stopping_) return absl::FailedPreconditionError("this node is stopping");
    // An earlier leave that ended incomplete may still be saying so.
    if (running_ || leaving_.exchange(true)) {
      return absl::FailedPreconditionError("this node is already leaving the cluster");
    }
    running_ = true;
  }
  auto run = std::make_shared<Run>(Run{.force = force, .progress = std::move(progress)});
  executor_->Schedule([this, run] {
    run->p.phase = LeavePhase::kAnnouncing;
    run->progress(run->p);
    Announce([this, run] {
      run->p.phase = LeavePhase::kHandoff;
      run->p.pass = 0;
      NextPass(run);
    });
  });
  return absl::OkStatus();
}

void Leaver::Cancel() {
  absl::MutexLock l(&mu_);
  stopping_ = true;
}

void Leaver::Abandon() {
  absl::MutexLock l(&mu_);
  stopping_ = true;
  running_ = false;
}

void Leaver::Stop() {
  absl::MutexLock l(&mu_);
  stopping_ = true;
  auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !running_; };
  mu_.Await(absl::Condition(&ended));
}

void Leaver::Ended() {
  absl::MutexLock l(&mu_);
  running_ = false;
}

void Leaver::Announce(std::function<void()> done) {
  std::vector<membership::Membership::PeerView> peers = membership_->Peers();
  spdlog::info("leaving: telling {} peers; then handing off keys", peers.size());
  std::function<void()> told = util::AfterAll(executor_, peers.size(), std::move(done));
  for (const auto& peer : peers) {
    transport_->Leaving(peer.contact, [told](absl::Status) { told(); });
  }
}

void Leaver::NextPass(std::shared_ptr<Run> run) {
  // Pass after pass, push every record whose version was not yet moved, until
  // a pass finds nothing new: writes that were in flight when the peers
  // learned of the leave are caught by the next pass. A new owner that is
  // down gets a hint instead; a record counts as moved once every live new
  // owner acknowledged it.
  LeaveProgress& p = run->p;
  if (stopping_ || p.pass >= kMaxPasses) return Finish(run);
  ++p.pass;
  auto todo = std::make_shared<std::vector<std::string>>();
  engine_->ForEach([&](std::string_view key, const storage::Record& rec) {
    auto it = run->moved.find(absl::string_view(key.data(), key.size()));
    if (it == run->moved.end() || it->second != rec.version) todo->emplace_back(key);
  });
  p.keys_total = p.keys_moved + todo->size();
  p.keys_failed = 0;  // counts this pass only: a later pass retries
  run->progress(p);
  if (todo->empty()) return Finish(run);
  auto candidates = std::make_shared<const std::vector<dht::Contact>>(owner_candidates_());
  auto last_report = std::make_shared<absl::Time>(clock_->Now());
  const size_t batches = (todo->size() + kBatch - 1) / kBatch;
  util::Sequentially(
      executor_, batches,
      [this, run, todo, candidates, last_report](size_t b, std::function<void(bool)> next) {
        if (stopping_) return next(false);
        const size_t start = b * kBatch;
        const size_t end = std::min(todo->size(), start + kBatch);
        auto batch =
            std::make_shared<std::vector<std::string>>(todo->begin() + start, todo->begin() + end);
        push_->Push(*batch, *candidates, nullptr,
                    [this, run, batch, last_report,
                     next = std::move(next)](std::vector<OwnerPush::Pushed> pushed) {
                      LeaveProgress& p = run->p;
                      for (const OwnerPush::Pushed& one : pushed) {
                        if (!one.acked) {
                          ++p.keys_failed;
                          continue;
                        }
                        const std::string& key = (*batch)[one.index];
                        run->moved[key] = one.record.version;
                        ++p.keys_moved;
                        const size_t bytes = key.size() + one.record.value.size();
                        p.bytes_moved += bytes;
                        keys_moved_.fetch_add(1, std::memory_order_relaxed);
                        bytes_moved_.fetch_add(bytes, std::memory_order_relaxed);
                      }
                      if (clock_->Now() - *last_report >= absl::Seconds(1)) {
                        *last_report = clock_->Now();
                        spdlog::info("leaving: pass {}: moved {} keys ({} bytes), {} failed",
                                     p.pass, p.keys_moved, p.bytes_moved, p.keys_failed);
                        run->progress(p);
                      }
                      next(true);
                    });
      },
      [this, run] { NextPass(run); });
}

void Leaver::Finish(std::shared_ptr<Run> run) {
  LeaveProgress& p = run->p;
  if (stopping_) {
    p.phase = LeavePhase::kStopped;
    spdlog::warn("leaving: stopped before the handoff was done; moved {} keys ({} bytes)",
                 p.keys_moved, p.bytes_moved);
    run->progress(p);
    return Ended();
  }
  if (p.keys_failed > 0 && !run->force) {
    // Leaving now would drop the only copies some owners lack: stay.
    leaving_ = false;
    return Unleave([this, run] {
      LeaveProgress& p = run->p;
      p.phase = LeavePhase::kIncomplete;
      spdlog::warn(
          "leave incomplete: {} keys were not handed off to every new owner after {} passes; "
          "the node stays in the cluster and keeps serving (kvctl leave --force leaves anyway)",
          p.keys_failed, p.pass);
      run->progress(p);
      Ended();
    });
  }
  p.phase = p.keys_failed == 0 ? LeavePhase::kDone : LeavePhase::kForced;
  spdlog::info("leaving: {}; moved {} keys ({} bytes) in {} passes, {} not acknowledged",
               LeavePhaseName(p.phase), p.keys_moved, p.bytes_moved, p.pass, p.keys_failed);
  run->progress(p);
  Ended();
  if (on_left_) on_left_();
}

void Leaver::Unleave(std::function<void()> done) {
  std::vector<membership::Membership::PeerView> peers = membership_->Peers();
  spdlog::info("telling {} peers this node stays in the cluster", peers.size());
  std::function<void()> told = util::AfterAll(executor_, peers.size(), std::move(done));
  for (const auto& peer : peers) {
    transport_->Join(peer.contact.address,
                     [told](absl::StatusOr<PeerTransport::JoinAnswer>) { told(); });
  }
}

void Leaver::AppendStats(std::vector<std::pair<std::string, uint64_t>>* out) const {
  out->insert(out->end(), {{"leave_bytes_moved", bytes_moved_.load(std::memory_order_relaxed)},
                           {"leave_keys_moved", keys_moved_.load(std::memory_order_relaxed)}});
}

}  // namespace kv::replication
