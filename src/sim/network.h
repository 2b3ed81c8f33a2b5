// The simulated network of kvsim and the simulation tests: every peer call
// and its answer is a closure on one ManualExecutor, delivered after a
// latency drawn from a seeded generator, or lost. Links can be cut in one
// direction or both (partitions), clogged (a link that stalls: what is sent
// arrives when it unclogs), and nodes taken off the network or paused (what
// reaches a paused node waits until it resumes). Every message sent, and
// when, feeds a trace hash: the same seed and inputs give the same hash.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/node/api.h"
#include "src/util/clock.h"
#include "src/util/executor.h"

namespace kv::sim {

// Not thread-safe: everything runs on the executor's one thread.
class Network {
 public:
  struct Options {
    // One way, uniform in [min, max].
    absl::Duration latency_min = absl::Microseconds(200);
    absl::Duration latency_max = absl::Milliseconds(2);
    double loss = 0;  // probability that a message (call or answer) is lost
    uint64_t seed = 1;
  };

  // `executor` and `clock` are not owned and must outlive the network.
  Network(Options options, util::ManualExecutor* executor, util::ManualClock* clock);

  // The node serving `address`, and the clock it reads (nullptr: the
  // world's); a null node takes it off the network (a crash).
  void Attach(const std::string& address, node::PeerApi* node,
              const util::Clock* node_clock = nullptr);
  // The time on the clock of the node at `address` (the world's if none).
  absl::Time NowAt(const std::string& address) const;
  // Messages from `from` to `to` are dropped while the link is cut.
  void Cut(const std::string& from, const std::string& to) { cut_.insert({from, to}); }
  void Heal(const std::string& from, const std::string& to) { cut_.erase({from, to}); }
  // Heals every cut, partition, isolation and clog (not pauses).
  void HealAll() {
    cut_.clear();
    groups_.clear();
    isolated_.clear();
    clogged_.clear();
  }
  // Splits the network: a message between two addresses of different
  // groups is dropped; an address without a group (a bridge) reaches every
  // group. Replaces the previous partition; an empty map heals it.
  void Partition(absl::flat_hash_map<std::string, int> groups) { groups_ = std::move(groups); }
  // Messages to and from `address` are dropped (a node cut off).
  void Isolate(const std::string& address, bool isolated);
  // The node at `address` runs the previous release: it neither answers nor
  // sends calls that release lacks (Peer.SyncTree), as a rolling upgrade
  // would leave it.
  void SetPreviousRelease(const std::string& address, bool previous) {
    if (previous) {
      previous_release_.insert(address);
    } else {
      previous_release_.erase(address);
    }
  }
  bool previous_release(const std::string& address) const {
    return previous_release_.contains(address);
  }
  // Messages sent from `from` to `to` before `until` arrive no earlier than
  // `until` (FoundationDB's "clogging"); nothing is lost.
  void Clog(const std::string& from, const std::string& to, absl::Time until);
  // While paused, calls and answers that reach `address` wait; they are
  // delivered, in order, when it resumes (a stopped process's socket
  // buffers). Resuming delivers them at once.
  void Pause(const std::string& address, bool paused);

  // A call from `from` to `to`: after a latency, `call` runs with the node
  // at `to`, or `fail` runs if the message is lost, the link is cut, or no
  // node serves `to` (a lost call fails after the caller's timeout, as a
  // real one would: `fail` then runs `timeout` after the send).
  void Call(const std::string& from, const std::string& to, absl::string_view what,
            std::function<void(node::PeerApi*)> call, std::function<void()> fail,
            absl::Duration timeout = absl::Seconds(2));
  // An answer from `from` back to `to`: `answer` runs after a latency, or
  // `fail` after `timeout` if it is lost.
  void Answer(const std::string& from, const std::string& to, std::function<void()> answer,
              std::function<void()> fail, absl::Duration timeout = absl::Seconds(2));

  // What one client request cost: the peer calls it caused (heartbeats
  // apart) and the longest chain of messages that followed one another
  // (a call and its answer are two; so a request's sequential round trips
  // are depth / 2, rounded up). Counted for the executor tag's op between
  // BeginOp and EndOp.
  struct OpCost {
    uint64_t calls = 0;
    uint32_t depth = 0;
  };
  void BeginOp(uint64_t op) { ops_[op] = OpCost{}; }
  OpCost EndOp(uint64_t op);

  // Calls a client request caused (executor tag set; heartbeats apart) to
  // any of `addresses` are counted from now on, with the time of the last
  // one: kvsim's measure of how soon coordinators stop sending to crashed
  // nodes. Replaces the previous set.
  void WatchRequestCallsTo(absl::flat_hash_set<std::string> addresses) {
    watched_ = std::move(addresses);
    watched_calls_ = 0;
    last_watched_call_ = absl::InfinitePast();
  }
  uint64_t watched_calls() const { return watched_calls_; }
  absl::Time last_watched_call() const { return last_watched_call_; }

  util::ManualClock* clock() const { return clock_; }
  util::ManualExecutor* executor() const { return executor_; }
  uint64_t trace_hash() const { return trace_hash_; }
  // Every event the trace hash covers is also written here, one per line
  // (to find where two runs part); null: none. Not owned.
  void set_trace_file(std::FILE* f) { trace_file_ = f; }
  uint64_t messages() const { return messages_; }

 private:
  bool Reachable(const std::string& from, const std::string& to) const;
  // The latency of one message on the link, clogging included.
  absl::Duration Delay(const std::string& from, const std::string& to);
  // Schedules `fn` after `delay` as the next message of the current tag's
  // chain (depth + 1), counting it for its op.
  void Send(absl::Duration delay, bool counted, std::function<void()> fn);
  // Runs `deliver` now, or parks it while `to` is paused.
  void Deliver(const std::string& to, std::function<void()> deliver);
  absl::Duration Latency();
  bool Lost();
  // Hashes (and with a trace file, writes) "<micros> <from><arrow><to> <what>".
  void Record(absl::string_view from, absl::string_view arrow, absl::string_view to,
              absl::string_view what);

  const Options options_;
  util::ManualExecutor* const executor_;
  util::ManualClock* const clock_;
  std::mt19937_64 rng_;
  // Looked up per message, never iterated: hash order cannot leak into a run.
  absl::flat_hash_map<std::string, node::PeerApi*> nodes_;
  absl::flat_hash_map<std::string, const util::Clock*> clocks_;
  absl::flat_hash_set<std::pair<std::string, std::string>> cut_;
  absl::flat_hash_map<std::pair<std::string, std::string>, absl::Time> clogged_;
  absl::flat_hash_set<std::string> isolated_;
  absl::flat_hash_set<std::string> previous_release_;
  absl::flat_hash_map<std::string, int> groups_;
  absl::flat_hash_map<uint64_t, OpCost> ops_;  // requests between BeginOp and EndOp
  absl::flat_hash_set<std::string> watched_;   // WatchRequestCallsTo
  uint64_t watched_calls_ = 0;
  absl::Time last_watched_call_ = absl::InfinitePast();
  absl::flat_hash_map<std::string, std::vector<std::function<void()>>>
      parked_;                                     // by paused address
  uint64_t trace_hash_ = 14695981039346656037ull;  // FNV-1a offset basis
  std::FILE* trace_file_ = nullptr;
  uint64_t messages_ = 0;
};

}  // namespace kv::sim
