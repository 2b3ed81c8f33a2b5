// The simulated network of kvsim and the simulation tests: every peer call
// and its answer is a closure on one ManualExecutor, delivered after a
// latency drawn from a seeded generator, or lost. Links can be cut in one
// direction or both (partitions) and nodes taken off the network. Every
// message delivered, and when, feeds a trace hash: the same seed and inputs
// give the same hash.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>

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

  // The node serving `address`; nullptr takes it off the network (a crash).
  void Attach(const std::string& address, node::PeerApi* node);
  // Messages from `from` to `to` are dropped while the link is cut.
  void Cut(const std::string& from, const std::string& to) { cut_.insert({from, to}); }
  void Heal(const std::string& from, const std::string& to) { cut_.erase({from, to}); }
  void HealAll() { cut_.clear(); }
  // Messages to and from `address` are dropped (a node cut off or paused).
  void Isolate(const std::string& address, bool isolated);

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

  util::ManualClock* clock() const { return clock_; }
  util::ManualExecutor* executor() const { return executor_; }
  uint64_t trace_hash() const { return trace_hash_; }
  uint64_t messages() const { return messages_; }

 private:
  bool Reachable(const std::string& from, const std::string& to) const;
  absl::Duration Latency();
  bool Lost();
  void Record(absl::string_view event);

  const Options options_;
  util::ManualExecutor* const executor_;
  util::ManualClock* const clock_;
  std::mt19937_64 rng_;
  std::map<std::string, node::PeerApi*> nodes_;
  std::set<std::pair<std::string, std::string>> cut_;
  std::set<std::string> isolated_;
  uint64_t trace_hash_ = 14695981039346656037ull;  // FNV-1a offset basis
  uint64_t messages_ = 0;
};

}  // namespace kv::sim
