#include "src/node/router.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <utility>

#include "src/dht/lookup.h"

namespace kv::node {
namespace {

// One iterative lookup: the dht::Lookup state machine plus the RPCs it asks for.
struct LookupRun : std::enable_shared_from_this<LookupRun> {
  LookupRun(dht::Lookup l, Router::ContactsCallback cb)
      : lookup(std::move(l)), done(std::move(cb)) {}

  absl::Mutex mu;
  dht::Lookup lookup ABSL_GUARDED_BY(mu);
  bool finished ABSL_GUARDED_BY(mu) = false;
  Router::ContactsCallback done;
};

// `learn` is told of every contact that answered; contacts named in
// answers for which `worth_asking` is false are dropped.
using LearnFn = std::function<void(const dht::Contact&)>;
using KeepFn = std::function<bool(const dht::Contact&)>;

void Pump(const std::shared_ptr<LookupRun>& run, const dht::NodeId& target,
          replication::PeerTransport* transport, const LearnFn& learn, const KeepFn& worth_asking) {
  std::vector<dht::Contact> requests;
  std::vector<dht::Contact> result;
  bool finish = false;
  {
    absl::MutexLock l(&run->mu);
    if (run->finished) return;
    requests = run->lookup.NextRequests();
    if (requests.empty() && run->lookup.Done()) {
      run->finished = true;
      finish = true;
      result = run->lookup.Result();
    }
  }
  if (finish) {
    run->done(std::move(result));
    return;
  }
  for (const dht::Contact& to : requests) {
    transport->FindNode(to, target,
                        [run, to, target, transport, learn,
                         worth_asking](absl::StatusOr<std::vector<dht::Contact>> r) {
                          if (r.ok()) {
                            std::erase_if(*r,
                                          [&](const dht::Contact& c) { return !worth_asking(c); });
                          }
                          {
                            absl::MutexLock l(&run->mu);
                            if (r.ok()) {
                              run->lookup.OnResponse(to.id, *r);
                            } else {
                              run->lookup.OnFailure(to.id);
                            }
                          }
                          if (r.ok()) learn(to);
                          Pump(run, target, transport, learn, worth_asking);
                        });
  }
}

}  // namespace

Router::Router(Options options, membership::Membership* membership,
               replication::PeerTransport* transport, util::Executor* executor,
               std::function<bool()> leaving)
    : options_(std::move(options)),
      membership_(membership),
      transport_(transport),
      executor_(executor),
      leaving_(std::move(leaving)) {}

std::vector<dht::Contact> Router::OwnerCandidates() const {
  std::vector<dht::Contact> c = membership_->OwnerCandidates();
  if (leaving_()) {
    std::erase_if(c, [this](const dht::Contact& x) { return x.id == options_.self.id; });
  }
  return c;
}

void Router::Insert(const dht::Contact& c) {
  std::optional<dht::Contact> oldest = membership_->Observe(c);
  if (!oldest) return;
  // Known to be down (by this node's detector or by rumour): the ping
  // would go unanswered; evict at once.
  if (!membership_->IsAlive(oldest->id)) return membership_->OnPingResult(oldest->id, false);
  transport_->Ping(oldest->address, [this, id = oldest->id](absl::StatusOr<dht::Contact> r) {
    membership_->OnPingResult(id, r.ok() && r->id == id);
  });
}

void Router::Learn(const dht::Contact& c) {
  LearnThen(c, [] {});
}

void Router::LearnThen(const dht::Contact& c, std::function<void()> then) {
  if (c.id == options_.self.id || c.address.empty()) return then();
  std::optional<dht::Contact> known = membership_->Find(c.id);
  if (known && known->address == c.address) {
    Insert(c);
    return then();
  }
  if (!membership_->WorthVerifying(c.id)) return then();
  Verify(c, [this, c, then = std::move(then)](bool answered) {
    if (answered) Insert(c);
    then();
  });
}

void Router::LearnAll(std::vector<dht::Contact> contacts, std::function<void()> done) {
  // Hearsay about nodes known to be down is not worth a ping: they come
  // back into view when they talk to this node themselves.
  std::erase_if(contacts, [this](const dht::Contact& c) { return !membership_->IsAlive(c.id); });
  std::function<void()> learned = util::AfterAll(executor_, contacts.size(), std::move(done));
  for (const dht::Contact& c : contacts) LearnThen(c, learned);
}

void Router::Verify(const dht::Contact& c, std::function<void(bool)> done) {
  {
    absl::MutexLock l(&verify_mu_);
    if (verifying_.size() >= kMaxVerifying || !verifying_.insert(c.id).second) {
      return done(false);
    }
  }
  auto finish = [this, id = c.id, done = std::move(done)](bool answered) {
    {
      absl::MutexLock l(&verify_mu_);
      verifying_.erase(id);
    }
    done(answered);
  };
  auto ping_claimed = [this, c, finish](bool known_still_answers) {
    if (known_still_answers) return finish(false);  // the ID keeps its address
    transport_->Ping(c.address, [c, finish](absl::StatusOr<dht::Contact> r) {
      finish(r.ok() && r->id == c.id);
    });
  };
  std::optional<dht::Contact> known = membership_->Find(c.id);
  if (!known) return ping_claimed(false);
  transport_->Ping(known->address, [id = c.id, ping_claimed](absl::StatusOr<dht::Contact> r) {
    ping_claimed(r.ok() && r->id == id);
  });
}

void Router::FindClosest(const dht::NodeId& target, ContactsCallback done) {
  std::vector<dht::Contact> seeds = membership_->ClosestLive(target, options_.k);
  std::erase_if(seeds, [this](const dht::Contact& c) { return c.id == options_.self.id; });
  auto with_self = [this, target, done = std::move(done)](std::vector<dht::Contact> found) {
    found.push_back(options_.self);
    std::sort(found.begin(), found.end(), [&](const dht::Contact& a, const dht::Contact& b) {
      return dht::CloserTo(target, a.id, b.id);
    });
    std::erase_if(found, [this](const dht::Contact& c) { return !membership_->IsAlive(c.id); });
    if (found.size() > options_.k) found.resize(options_.k);
    done(std::move(found));
  };
  auto run = std::make_shared<LookupRun>(
      dht::Lookup(options_.self.id, target, options_.k, options_.alpha, std::move(seeds)),
      std::move(with_self));
  // A contact that answered is verified: the transport checks that the node
  // at its address answered as its ID.
  Pump(
      run, target, transport_,
      [this](const dht::Contact& c) {
        Insert(c);
        membership_->Heard(c.id);
      },
      [this](const dht::Contact& c) { return membership_->IsAlive(c.id); });
}

void Router::Lookup(const dht::NodeId& target, std::function<void()> done) {
  // Whichever comes first, the lookup's end or the deadline, runs `done`.
  struct Once {
    std::atomic<bool> fired{false};
    std::function<void()> done;
  };
  auto once = std::make_shared<Once>();
  once->done = std::move(done);
  auto fire = [this, once] {
    if (!once->fired.exchange(true)) executor_->Schedule(std::move(once->done));
  };
  executor_->After(absl::Seconds(30), fire);
  FindClosest(target, [fire](std::vector<dht::Contact>) { fire(); });
}

replication::PeerTransport::Neighbours Router::AnswerFindNode(const dht::NodeId& target,
                                                              size_t owners) const {
  replication::PeerTransport::Neighbours out{membership_->Closest(target, options_.k), {}};
  if (owners > 0 && !leaving_()) {
    std::optional<std::vector<dht::Contact>> certain =
        membership_->CertainOwners(target, owners, /*with_self=*/true);
    if (certain) out.owners = *std::move(certain);
    for (const dht::Contact& o : out.owners) {
      if (membership_->SeesDown(o.id)) out.down.push_back(o.id);
    }
  }
  return out;
}

// One ResolveReplicas that asks other nodes. Its questions go one at a time,
// so the callbacks that touch it never overlap.
struct Router::OwnerSearch {
  dht::NodeId key;
  size_t want = 0;  // owners asked for: N, plus this node's place when it is leaving
  bool leaving = false;
  ContactsCallback done;
  std::vector<dht::Contact> candidates;  // not asked yet, nearest to key first
  absl::flat_hash_set<dht::NodeId> seen;
  int asked = 0;
};

void Router::ResolveReplicas(const dht::NodeId& key_id, ContactsCallback done) {
  const size_t n = options_.replicas;
  const bool leaving = leaving_();
  std::optional<std::vector<dht::Contact>> certain =
      membership_->CertainOwners(key_id, n, /*with_self=*/!leaving);
  if (certain) return done(*std::move(certain));
  auto search = std::make_shared<OwnerSearch>();
  search->key = key_id;
  search->want = n + (leaving ? 1 : 0);
  search->leaving = leaving;
  search->done = std::move(done);
  search->seen.insert(options_.self.id);
  for (dht::Contact& c : membership_->ClosestLive(key_id, options_.k)) {
    if (search->seen.insert(c.id).second) search->candidates.push_back(std::move(c));
  }
  AskForOwners(std::move(search));
}

void Router::AskForOwners(std::shared_ptr<OwnerSearch> s) {
  if (s->candidates.empty() || s->asked == kMaxOwnerHops) {
    return LookupReplicas(s->key, std::move(s->done));
  }
  const dht::Contact to = s->candidates.front();
  s->candidates.erase(s->candidates.begin());
  ++s->asked;
  transport_->FindOwners(
      to, s->key, s->want,
      [this, s, to](absl::StatusOr<replication::PeerTransport::Neighbours> r) mutable {
        if (!r.ok()) {
          membership_->Unanswered(to.id, r.status());
          return AskForOwners(std::move(s));  // the next nearest
        }
        // The transport checked that the node at to.address answered as to.id.
        Insert(to);
        membership_->Heard(to.id);
        if (!r->owners.empty()) {
          // The answering node watches the owners: its word on which are
          // down spreads their failures to every coordinator that asks.
          for (const dht::Contact& o : r->owners) {
            membership_->Reported(o.id,
                                  std::find(r->down.begin(), r->down.end(), o.id) != r->down.end());
          }
          std::vector<dht::Contact> owners = std::move(r->owners);
          if (s->leaving) {
            std::erase_if(owners,
                          [this](const dht::Contact& c) { return c.id == options_.self.id; });
          }
          if (owners.size() > options_.replicas) owners.resize(options_.replicas);
          return s->done(std::move(owners));
        }
        for (dht::Contact& c : r->closest) {
          if (!membership_->IsAlive(c.id)) continue;  // known down: no answer would come
          if (s->seen.insert(c.id).second) s->candidates.push_back(std::move(c));
        }
        std::sort(s->candidates.begin(), s->candidates.end(),
                  [&](const dht::Contact& a, const dht::Contact& b) {
                    return dht::CloserTo(s->key, a.id, b.id);
                  });
        AskForOwners(std::move(s));
      });
}

void Router::LookupReplicas(const dht::NodeId& key_id, ContactsCallback done) {
  const size_t n = options_.replicas;
  FindClosest(key_id, [this, n, done = std::move(done)](std::vector<dht::Contact> found) {
    if (leaving_()) {
      std::erase_if(found, [this](const dht::Contact& c) { return c.id == options_.self.id; });
    }
    if (found.size() > n) found.resize(n);
    done(std::move(found));
  });
}

}  // namespace kv::node
