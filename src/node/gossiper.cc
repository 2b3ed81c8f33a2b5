#include "src/node/gossiper.h"

#include <algorithm>
#include <utility>

namespace kv::node {

Gossiper::Gossiper(Options options, membership::Membership* membership,
                   replication::PeerTransport* transport, util::Executor* executor,
                   const util::Clock* clock)
    : options_(options),
      membership_(membership),
      transport_(transport),
      executor_(executor),
      clock_(clock),
      rng_(options.rng_seed) {}

void Gossiper::Tick() {
  if (cancelled_) return;
  if (membership_->PendingRumours() > 0) return Flush();
  const absl::Time now = clock_->Now();
  std::vector<dht::Contact> to;
  std::vector<membership::Rumour> stale;
  {
    absl::MutexLock l(&mu_);
    if (now < next_pull_) return;
    next_pull_ = now + options_.pull_interval;
    to = membership_->RandomLive(1, rng_);
    // Old news of deaths go along: a node that missed word of a subject
    // alive again (a rumour's sends are a budget, and the spread is
    // random) is corrected by the first peer that heard it.
    if (!to.empty()) stale = membership_->SettledDown(kSettledPerPull, rng_);
  }
  for (const dht::Contact& c : to) Exchange(c, std::move(stale));
}

void Gossiper::Soon() {
  if (cancelled_ || flush_scheduled_.exchange(true)) return;
  executor_->After(options_.flush_delay, [this] {
    flush_scheduled_ = false;
    Flush();
  });
}

void Gossiper::Flush() {
  if (cancelled_ || membership_->PendingRumours() == 0) return;
  std::vector<dht::Contact> to;
  {
    absl::MutexLock l(&mu_);
    to = membership_->RandomLive(options_.fanout, rng_);
    next_pull_ = clock_->Now() + options_.pull_interval;
  }
  for (const dht::Contact& c : to) Exchange(c, membership_->RumoursToSend(options_.max_rumours));
}

void Gossiper::Tell(const dht::Contact& to, const membership::Rumour& rumour) {
  if (cancelled_) return;
  std::vector<membership::Rumour> rumours =
      membership_->RumoursToSend(options_.max_rumours > 0 ? options_.max_rumours - 1 : 0);
  rumours.push_back(rumour);
  Exchange(to, std::move(rumours));
}

void Gossiper::Exchange(const dht::Contact& to, std::vector<membership::Rumour> rumours) {
  transport_->Gossip(to, GossipMessage{membership_->epoch(), std::move(rumours)},
                     [this, to](absl::StatusOr<GossipMessage> answer) {
                       if (!answer.ok()) return membership_->Unanswered(to.id, answer.status());
                       if (std::optional<membership::Rumour> tell = Heard(to, *answer)) {
                         Tell(to, *tell);
                       }
                     });
}

std::optional<membership::Rumour> Gossiper::Heard(const dht::Contact& from, const GossipMessage& m,
                                                  std::vector<membership::Rumour>* newer) {
  std::optional<membership::Rumour> tell = membership_->HeardEpoch(from.id, m.epoch);
  if (membership_->Hear(m.rumours, newer) > 0) Soon();
  return tell;
}

Gossiper::GossipMessage Gossiper::Answer(const dht::Contact& from, const GossipMessage& in) {
  std::vector<membership::Rumour> newer;
  std::optional<membership::Rumour> tell = Heard(from, in, &newer);
  GossipMessage out{membership_->epoch(), membership_->RumoursToSend(options_.max_rumours)};
  // What the sender has older word of, in the room left.
  for (const membership::Rumour& r : newer) {
    if (out.rumours.size() >= options_.max_rumours) break;
    if (std::none_of(out.rumours.begin(), out.rumours.end(),
                     [&](const membership::Rumour& o) { return o.subject == r.subject; })) {
      out.rumours.push_back(r);
    }
  }
  if (tell && std::none_of(out.rumours.begin(), out.rumours.end(),
                           [&](const membership::Rumour& r) { return r.subject == from.id; })) {
    out.rumours.push_back(*tell);
  }
  return out;
}

}  // namespace kv::node
