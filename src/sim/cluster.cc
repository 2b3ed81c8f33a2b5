#include "src/sim/cluster.h"

#include "absl/strings/str_cat.h"

namespace kv::sim {

Cluster::Cluster(Options options)
    : options_(std::move(options)),
      executor_(&clock_),
      net_(options_.network, &executor_, &clock_) {
  for (int i = 0; i < options_.nodes; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->contact = {dht::NodeId::FromKey(absl::StrCat("sim-node-", i)),
                     absl::StrCat("10.0.", i / 250, ".", i % 250 + 1, ":50051")};
    slots_.push_back(std::move(slot));
  }
  for (int i = 0; i < size(); ++i) Boot(i, absl::ZeroDuration());
  Beats();
}

Cluster::~Cluster() {
  stopping_ = true;
  for (int i = 0; i < size(); ++i) Resume(i);  // a paused node could not stop
  for (auto& s : slots_) {
    if (s->up) s->node->Cancel();
  }
  executor_.RunFor(absl::Minutes(1));  // every background step ends
  for (auto& s : slots_) {
    if (s->up) s->node->Stop();
  }
}

void Cluster::Boot(int i, absl::Duration skew) {
  Slot& s = *slots_[i];
  ++s.incarnation;
  s.executor = std::make_unique<NodeExecutor>(&executor_);
  s.clock = std::make_unique<SkewedClock>(&clock_);
  s.clock->set_skew(skew);
  if (s.engine == nullptr) s.engine = std::make_unique<storage::MemoryEngine>();
  s.transport = std::make_unique<Transport>(&net_, s.contact, s.incarnation);
  node::NodeOptions o;
  o.self = s.contact;
  o.incarnation = s.incarnation;
  // Every node but the first joins through the first; a restarted first
  // node joins through the second.
  const int seed = i == 0 ? 1 : 0;
  if (i != 0 || s.incarnation > 1) o.seeds = {slots_[seed]->contact.address};
  o.replicas = options_.replicas;
  o.k = options_.k;
  o.failure_timeout = options_.failure_timeout;
  o.anti_entropy_interval = options_.anti_entropy_interval;
  o.speculative_read_after = absl::ZeroDuration();  // its timer is a thread
  o.rng_seed = options_.seed * 1000003 + static_cast<uint64_t>(i) * 7919 + s.incarnation;
  s.node = std::make_unique<node::Node>(o, s.engine.get(), s.transport.get(), s.clock.get(),
                                        nullptr, s.executor.get());
  net_.Attach(s.contact.address, s.node.get(), s.clock.get());
  s.up = true;
  s.node->Start();
}

void Cluster::Crash(int i) {
  Slot& s = *slots_[i];
  if (!s.up) return;
  net_.Attach(s.contact.address, nullptr);
  net_.Pause(s.contact.address, false);  // what waited for it is lost with it
  s.executor->Kill();
  s.transport->Kill();
  s.node->Abandon();
  crashed_calls_ += s.transport->calls();
  crashed_beats_ += s.transport->beats();
  crashed_gossips_ += s.transport->gossips();
  auto dead = std::make_unique<Slot>();
  dead->executor = std::move(s.executor);
  dead->clock = std::move(s.clock);
  // A durable engine outlives the process; none of the dead process's
  // code runs again (its executor and transport are killed).
  if (!options_.durable) dead->engine = std::move(s.engine);
  dead->transport = std::move(s.transport);
  dead->node = std::move(s.node);
  graveyard_.push_back(std::move(dead));
  s.up = false;
}

void Cluster::Restart(int i, absl::Duration skew) {
  if (slots_[i]->up) return;
  Boot(i, skew);
}

void Cluster::Pause(int i) {
  Slot& s = *slots_[i];
  if (!s.up) return;
  s.executor->Pause();
  net_.Pause(s.contact.address, true);
}

void Cluster::Resume(int i) {
  Slot& s = *slots_[i];
  if (!s.up) return;
  net_.Pause(s.contact.address, false);
  s.executor->Resume();
}

void Cluster::Submit(int i, std::function<void(node::Node&)> call, std::function<void()> down) {
  Slot& s = *slots_[i];
  if (!s.up) return executor_.Schedule(std::move(down));
  s.executor->Schedule([node = s.node.get(), call = std::move(call)] { call(*node); });
}

uint64_t Cluster::Total(uint64_t crashed, uint64_t (Transport::*count)() const) const {
  uint64_t n = crashed;
  for (const auto& s : slots_) {
    if (s->up) n += ((*s->transport).*count)();
  }
  return n;
}

uint64_t Cluster::peer_calls() const { return Total(crashed_calls_, &Transport::calls); }
uint64_t Cluster::heartbeats() const { return Total(crashed_beats_, &Transport::beats); }
uint64_t Cluster::gossips() const { return Total(crashed_gossips_, &Transport::gossips); }

bool Cluster::RunUntil(const std::function<bool()>& done, absl::Duration limit) {
  const absl::Time end = clock_.Now() + limit;
  while (!done() && clock_.Now() < end) executor_.RunFor(absl::Milliseconds(1));
  return done();
}

void Cluster::Beats() {
  if (stopping_) return;
  for (auto& s : slots_) {
    if (!s->up || s->executor->paused()) continue;
    for (const dht::Contact& c : s->node->HeartbeatTargets(options_.k)) {
      s->transport->Beat(c, s->node->epoch());
    }
  }
  executor_.After(options_.heartbeat, [this] { Beats(); });
}

}  // namespace kv::sim
