// N whole kvstore nodes (node::Node, memory engine) on one simulated world:
// a ManualClock, a ManualExecutor and a Network. Heartbeats go every
// `heartbeat` of simulated time from each node to its heartbeat targets, as
// src/rpc/heartbeat.cc sends them in the real binary. Nodes crash (their
// memory and pending work are gone) and restart empty under the same ID.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "src/node/node.h"
#include "src/sim/network.h"
#include "src/sim/transport.h"
#include "src/storage/memory_engine.h"
#include "src/util/clock.h"
#include "src/util/executor.h"

namespace kv::sim {

// An executor for one node: runs its closures on the world's executor until
// Kill(), after which they are dropped (the node crashed). While paused, the
// closures that come due wait, and run in order on Resume (a stopped
// process's timers).
class NodeExecutor final : public util::Executor {
 public:
  explicit NodeExecutor(util::Executor* world) : world_(world), state_(std::make_shared<State>()) {}
  void Schedule(std::function<void()> fn) override { After(absl::ZeroDuration(), std::move(fn)); }
  void After(absl::Duration delay, std::function<void()> fn) override {
    world_->After(delay, [state = state_, fn = std::move(fn)]() mutable {
      if (!state->alive) return;
      if (state->paused) return state->parked.push_back(std::move(fn));
      fn();
    });
  }
  void Kill() { state_->alive = false; }
  void Pause() { state_->paused = true; }
  void Resume() {
    state_->paused = false;
    std::vector<std::function<void()>> parked = std::move(state_->parked);
    state_->parked.clear();
    for (auto& fn : parked) Schedule(std::move(fn));
  }
  bool paused() const { return state_->paused; }

 private:
  struct State {
    bool alive = true;
    bool paused = false;
    std::vector<std::function<void()>> parked;
  };
  util::Executor* const world_;
  std::shared_ptr<State> state_;
};

// One node's wall clock: the world's, plus a skew that can be changed.
class SkewedClock final : public util::Clock {
 public:
  explicit SkewedClock(const util::Clock* world) : world_(world) {}
  absl::Time Now() const override { return world_->Now() + skew_; }
  void set_skew(absl::Duration skew) { skew_ = skew; }
  absl::Duration skew() const { return skew_; }

 private:
  const util::Clock* const world_;
  absl::Duration skew_;  // only the simulation's one thread touches it
};

// Not thread-safe: one thread drives it.
class Cluster {
 public:
  struct Options {
    int nodes = 3;
    int replicas = 3;
    size_t k = 20;
    absl::Duration heartbeat = absl::Milliseconds(500);  // kvstore's default
    absl::Duration failure_timeout = absl::Seconds(3);
    absl::Duration anti_entropy_interval = absl::Minutes(1);
    Network::Options network;
    uint64_t seed = 1;  // node RNGs (the network has its own)
    // A crashed node keeps its engine, as RocksDB with sync=always keeps
    // every acknowledged write; otherwise it restarts empty.
    bool durable = false;
  };

  explicit Cluster(Options options);
  ~Cluster();

  int size() const { return static_cast<int>(slots_.size()); }
  node::Node& node(int i) { return *slots_[i]->node; }
  storage::MemoryEngine& engine(int i) { return *slots_[i]->engine; }
  const dht::Contact& contact(int i) const { return slots_[i]->contact; }
  bool up(int i) const { return slots_[i]->up; }
  bool paused(int i) const { return slots_[i]->up && slots_[i]->executor->paused(); }
  Network& net() { return net_; }
  util::ManualClock& clock() { return clock_; }
  // The world's executor, for clients and nemeses of a simulation.
  util::ManualExecutor& executor() { return executor_; }
  // Peer calls (Store, Fetch, FindNode, Ping, Join, repair, ...) and
  // heartbeats sent by every node so far, crashed processes included.
  uint64_t peer_calls() const;
  uint64_t heartbeats() const;
  // Of peer_calls(), the gossip exchanges (node/gossiper.h).
  uint64_t gossips() const;

  void RunFor(absl::Duration d) { executor_.RunFor(d); }
  // Runs in steps of 1 ms until `done()` or `limit` of simulated time.
  bool RunUntil(const std::function<bool()>& done, absl::Duration limit = absl::Seconds(30));

  // The node loses its memory and its work in progress, and leaves the
  // network; Restart brings a new process up under the same ID and address,
  // with an empty engine and the next incarnation.
  void Crash(int i);
  // `skew`: the new process's wall clock is this far ahead (or behind).
  void Restart(int i, absl::Duration skew = absl::ZeroDuration());
  // Node `i`'s skew; zero while it is down (its clock went with it).
  absl::Duration skew(int i) const {
    return slots_[i]->up ? slots_[i]->clock->skew() : absl::ZeroDuration();
  }

  // The process stops (SIGSTOP): its timers, and the calls and answers that
  // reach it, wait until Resume (SIGCONT); it sends nothing meanwhile.
  void Pause(int i);
  void Resume(int i);

  // A client's request to node `i`, as a client would send it: `call` runs
  // on the node's executor (so it waits while the node is paused); if the
  // node is down, `down` runs instead. Neither may run if the node crashes
  // with the request queued: the client needs its own deadline.
  void Submit(int i, std::function<void(node::Node&)> call, std::function<void()> down);

 private:
  struct Slot {
    dht::Contact contact;
    uint64_t incarnation = 0;
    bool up = false;
    std::unique_ptr<SkewedClock> clock;
    std::unique_ptr<NodeExecutor> executor;
    std::unique_ptr<storage::MemoryEngine> engine;
    std::unique_ptr<Transport> transport;
    std::unique_ptr<node::Node> node;
  };
  void Boot(int i, absl::Duration skew);
  void Beats();
  // `crashed` plus `count` over the transports of the nodes that are up.
  uint64_t Total(uint64_t crashed, uint64_t (Transport::*count)() const) const;

  const Options options_;
  util::ManualClock clock_;
  util::ManualExecutor executor_;
  Network net_;
  std::vector<std::unique_ptr<Slot>> slots_;
  // Crashed processes: kept until the end, as closures may still name them.
  std::vector<std::unique_ptr<Slot>> graveyard_;
  uint64_t crashed_calls_ = 0;
  uint64_t crashed_beats_ = 0;
  uint64_t crashed_gossips_ = 0;
  bool stopping_ = false;
};

}  // namespace kv::sim
