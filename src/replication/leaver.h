// A planned leave: the node tells its peers it is leaving, hands every
// record to its new owners, pass after pass, and then either leaves or, when
// some record could not be handed off, takes the leave back.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "src/membership/membership.h"
#include "src/replication/owner_push.h"
#include "src/replication/peer_transport.h"
#include "src/storage/engine.h"
#include "src/util/clock.h"
#include "src/util/executor.h"

namespace kv::replication {

// The phases of a planned leave, in order; the last four end it.
enum class LeavePhase {
  kAnnouncing,  // telling the peers
  kHandoff,     // pushing every record to its new owners
  kDone,        // every record handed off; the node leaves
  // Some records were not acknowledged by every new owner after the last
  // pass: the node takes the leave back and stays in the cluster, serving.
  kIncomplete,
  kForced,   // as kIncomplete, but the caller forced the leave: it leaves
  kStopped,  // the node was stopped first
};
// "announcing", "handoff", "done", "incomplete", "forced", "stopped".
const char* LeavePhaseName(LeavePhase p);
// True for the phases that end a leave.
inline bool IsFinal(LeavePhase p) { return p >= LeavePhase::kDone; }

// Progress of a planned leave.
struct LeaveProgress {
  LeavePhase phase = LeavePhase::kAnnouncing;
  uint32_t pass = 0;
  uint64_t keys_total = 0;
  uint64_t keys_moved = 0;
  uint64_t bytes_moved = 0;
  uint64_t keys_failed = 0;
};

// Thread-safe. Every pointer given to the constructor is not owned and must
// outlive the object.
class Leaver {
 public:
  using CandidatesFn = std::function<std::vector<dht::Contact>()>;
  using ProgressFn = std::function<void(const LeaveProgress&)>;

  // `on_left` (optional) runs once, on the executor, after kDone or
  // kForced: the process should shut down.
  Leaver(storage::Engine* engine, PeerTransport* transport, util::Executor* executor,
         const membership::Membership* membership, const util::Clock* clock, const OwnerPush* push,
         CandidatesFn owner_candidates, std::function<void()> on_left);
  ~Leaver();

  // True from Start() until the leave ends incomplete (then the node is
  // back): while true this node owns no keys.
  bool leaving() const { return leaving_.load(); }

  // Starts a leave on the executor, reporting to `progress` (on the
  // executor); the last report has a final phase. After kIncomplete (some key
  // not handed off, and not `force`) the node tells its peers it is back and
  // Start may be called again. FAILED_PRECONDITION if already leaving or
  // stopped.
  [[nodiscard]] absl::Status Start(bool force, ProgressFn progress);

  // Cuts a running leave short (kStopped) at its next step, without
  // waiting. Idempotent; Start fails afterwards.
  void Cancel();
  // Cancel, then waits until the leave has ended. Never call it from the
  // executor.
  void Stop();
  // For simulators, after the executor dropped this node's closures: a leave
  // in progress will never end; Stop() must not wait for it.
  void Abandon();

  // leave_keys_moved, leave_bytes_moved.
  void AppendStats(std::vector<std::pair<std::string, uint64_t>>* out) const;

 private:
  // One leave, shared by its steps.
  struct Run;
  // Tells every contact, so coordinators stop choosing this node; then
  // `done`, once all answered.
  void Announce(std::function<void()> done);
  // The next handoff pass, or the end once a pass found nothing to move,
  // the last pass ran, or Stop() was called.
  void NextPass(std::shared_ptr<Run> run);
  // The end of a leave: kStopped, kIncomplete (and Unleave), kDone or kForced.
  void Finish(std::shared_ptr<Run> run);
  // Tells every contact this node is back after an incomplete leave (a
  // Join, which clears "left" on the receiver); then `done`.
  void Unleave(std::function<void()> done);
  // Marks the leave over and wakes Stop().
  void Ended();

  storage::Engine* const engine_;
  PeerTransport* const transport_;
  util::Executor* const executor_;
  const membership::Membership* const membership_;
  const util::Clock* const clock_;
  const OwnerPush* const push_;
  const CandidatesFn owner_candidates_;
  const std::function<void()> on_left_;

  std::atomic<bool> leaving_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> keys_moved_{0}, bytes_moved_{0};
  absl::Mutex mu_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;  // a leave has not ended yet
};

}  // namespace kv::replication
