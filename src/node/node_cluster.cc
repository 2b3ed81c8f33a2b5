// The Node's cluster work: Kademlia lookups, joining, background maintenance.
#include <algorithm>
#include <functional>
#include <memory>
#include <utility>

#include "absl/synchronization/notification.h"
#include "spdlog/spdlog.h"
#include "src/dht/lookup.h"
#include "src/node/node.h"

namespace kv::node {
namespace {

// One iterative lookup: the dht::Lookup state machine plus the RPCs it asks for.
struct LookupRun : std::enable_shared_from_this<LookupRun> {
  LookupRun(dht::Lookup l, Node::ContactsCallback cb) : lookup(std::move(l)), done(std::move(cb)) {}

  absl::Mutex mu;
  dht::Lookup lookup ABSL_GUARDED_BY(mu);
  bool finished ABSL_GUARDED_BY(mu) = false;
  Node::ContactsCallback done;
};

// `learn` is told of every contact that answered.
using LearnFn = std::function<void(const dht::Contact&)>;

void Pump(const std::shared_ptr<LookupRun>& run, const dht::NodeId& target,
          replication::PeerTransport* transport, const LearnFn& learn) {
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
    transport->FindNode(
        to, target,
        [run, to, target, transport, learn](absl::StatusOr<std::vector<dht::Contact>> r) {
          {
            absl::MutexLock l(&run->mu);
            if (r.ok()) {
              run->lookup.OnResponse(to.id, *r);
            } else {
              run->lookup.OnFailure(to.id);
            }
          }
          if (r.ok()) learn(to);
          Pump(run, target, transport, learn);
        });
  }
}

}  // namespace

void Node::FindClosest(const dht::NodeId& target, ContactsCallback done) {
  std::vector<dht::Contact> seeds = membership_.ClosestLive(target, options_.k);
  std::erase_if(seeds, [this](const dht::Contact& c) { return c.id == options_.self.id; });
  auto with_self = [this, target, done = std::move(done)](std::vector<dht::Contact> found) {
    found.push_back(options_.self);
    std::sort(found.begin(), found.end(), [&](const dht::Contact& a, const dht::Contact& b) {
      return dht::CloserTo(target, a.id, b.id);
    });
    std::erase_if(found, [this](const dht::Contact& c) { return !membership_.IsAlive(c.id); });
    if (found.size() > options_.k) found.resize(options_.k);
    done(std::move(found));
  };
  auto run = std::make_shared<LookupRun>(
      dht::Lookup(options_.self.id, target, options_.k, options_.alpha, std::move(seeds)),
      std::move(with_self));
  // A contact that answered is verified: the transport checks that the node
  // at its address answered as its ID.
  Pump(run, target, transport_, [this](const dht::Contact& c) {
    Insert(c);
    membership_.Heard(c.id);
  });
}

void Node::ResolveReplicas(const dht::NodeId& key_id, ContactsCallback done) {
  const size_t n = static_cast<size_t>(options_.replicas);
  // A table with room in it has seen every node the cluster told it about:
  // the replica set needs no network hop.
  if (membership_.KnownNodes() <= options_.k) {
    std::vector<dht::Contact> owners = dht::ClosestAmong(OwnerCandidates(), key_id, n);
    return done(std::move(owners));
  }
  FindClosest(key_id, [this, n, done = std::move(done)](std::vector<dht::Contact> found) {
    if (leaving_.load()) {
      std::erase_if(found, [this](const dht::Contact& c) { return c.id == options_.self.id; });
    }
    if (found.size() > n) found.resize(n);
    done(std::move(found));
  });
}

void Node::Start() {
  maintenance_ = std::thread([this] { MaintenanceLoop(); });
}

void Node::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  {
    absl::MutexLock l(&leave_mu_);
    if (leave_thread_.joinable()) leave_thread_.join();
  }
  if (maintenance_.joinable()) {
    maintenance_.join();
    SaveContactsIfChanged();
  }
  repair_pool_->Shutdown();
}

void Node::SaveContactsIfChanged() {
  if (!options_.save_contacts) return;
  std::vector<dht::Contact> contacts;
  for (const auto& p : membership_.Peers()) contacts.push_back(p.contact);
  if (contacts == saved_contacts_) return;
  options_.save_contacts(contacts);
  saved_contacts_ = std::move(contacts);
}

void Node::LookupBlocking(const dht::NodeId& target) {
  auto done = std::make_shared<absl::Notification>();
  FindClosest(target, [done](std::vector<dht::Contact>) { done->Notify(); });
  done->WaitForNotificationWithTimeout(absl::Seconds(30));
}

bool Node::JoinSeeds() {
  bool any = false;
  std::vector<std::string> seeds = options_.seeds;
  if (options_.discover_seeds) {
    for (std::string& s : options_.discover_seeds()) {
      if (std::find(seeds.begin(), seeds.end(), s) == seeds.end()) seeds.push_back(std::move(s));
    }
  }
  using JoinAnswer = replication::PeerTransport::JoinAnswer;
  for (const std::string& seed : seeds) {
    auto done = std::make_shared<absl::Notification>();
    auto result = std::make_shared<absl::StatusOr<JoinAnswer>>();
    const absl::Time sent = clock_->Now();
    transport_->Join(seed, [done, result](absl::StatusOr<JoinAnswer> r) {
      *result = std::move(r);
      done->Notify();
    });
    done->WaitForNotification();
    const absl::Time answered = clock_->Now();
    if (!result->ok()) {
      spdlog::warn("join via {} failed: {}", seed, result->status().ToString());
      continue;
    }
    // The seed answered this call itself; the peers it suggests are its word
    // only, and are pinged before they enter the table.
    const std::vector<dht::Contact>& contacts = (*result)->contacts;
    if (!contacts.empty() && contacts[0].id != options_.self.id) {
      Insert(contacts[0]);
      membership_.Heard(contacts[0].id);
      // The call is this node's first measurement of a peer's clock: the
      // seed read its clock once, between `sent` and `answered`.
      if (const std::optional<absl::Time>& t = (*result)->seed_clock) {
        membership_.RecordClock(contacts[0].id,
                                membership::ClockSample::FromExchange(sent, *t, *t, answered));
        UpdateClockFence();
      }
      any = true;
      spdlog::info("joined via {} ({}); it suggested {} peers", seed, contacts[0].id.ShortHex(),
                   contacts.size() - 1);
    }
    std::vector<dht::Contact> suggested;
    for (size_t i = 1; i < contacts.size(); ++i) {
      if (contacts[i].id != options_.self.id) suggested.push_back(contacts[i]);
    }
    LearnBlocking(suggested);
    any = any || !suggested.empty();
  }
  if (!any) return false;
  // Kademlia join: look up our own ID so the nodes near us learn of us, then
  // refresh the buckets farther away.
  LookupBlocking(options_.self.id);
  std::vector<dht::NodeId> targets;
  {
    absl::MutexLock l(&mu_);
    targets = membership_.BucketsToRefresh(absl::ZeroDuration(), rng_);
  }
  for (const dht::NodeId& t : targets) LookupBlocking(t);
  // Introduce ourselves to every contact, not only the seeds: a node that
  // left and now comes back under the same ID is then taken back by all.
  for (const auto& p : membership_.Peers()) {
    if (std::find(seeds.begin(), seeds.end(), p.contact.address) != seeds.end()) continue;
    transport_->Join(p.contact.address, [](absl::StatusOr<JoinAnswer>) {});
  }
  spdlog::info("routing table holds {} peers after join", membership_.KnownNodes() - 1);
  return true;
}

void Node::MaintenanceLoop() {
  absl::Duration join_backoff = absl::Milliseconds(500);
  absl::Time next_join = absl::InfinitePast();
  absl::Time next_refresh = clock_->Now() + absl::Minutes(1);
  absl::Time next_repair = clock_->Now() + options_.anti_entropy_interval;
  size_t known_nodes = membership_.KnownNodes();
  // Settling lookups of this node's own ID, 1, 2, 4, 8 and 16 s after it
  // joined: contacts enter routing tables only once verified (Node::Learn),
  // so nodes that joined at about the same time may not have been in their
  // seed's table yet; each lookup introduces this node to its closest nodes
  // again and learns the ones that were verified meanwhile.
  absl::Duration settle_step = absl::Seconds(1);
  absl::Time next_settle = absl::InfiniteFuture();
  auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  while (true) {
    const absl::Time now = clock_->Now();
    if (!joined() && now >= next_join) {
      if (JoinSeeds()) {
        absl::MutexLock l(&mu_);
        joined_ = true;
        next_settle = now + settle_step;
      } else {
        spdlog::warn("no seed peer answered; retrying in {}", absl::FormatDuration(join_backoff));
        next_join = now + join_backoff;
        join_backoff = std::min(join_backoff * 2, absl::Seconds(30));
      }
    }
    if (now >= next_settle) {
      LookupBlocking(options_.self.id);
      settle_step *= 2;
      next_settle = settle_step <= absl::Seconds(16) ? now + settle_step : absl::InfiniteFuture();
    }
    LogTransitions();
    UpdateClockFence();
    SaveContactsIfChanged();
    ReplayHints();
    // A node that joined or died moves keys: repair soon rather than at the
    // next interval.
    if (const size_t known = membership_.KnownNodes(); known != known_nodes) {
      known_nodes = known;
      repair_soon_ = true;
    }
    if (repair_soon_.exchange(false)) {
      next_repair =
          std::min(next_repair, now + std::min(absl::Seconds(1), options_.anti_entropy_interval));
    }
    if (clock_->Now() >= next_repair && joined()) {
      RepairRound();
      next_repair = clock_->Now() + options_.anti_entropy_interval;
    }
    if (now >= next_refresh) {
      next_refresh = now + absl::Minutes(1);
      std::vector<dht::NodeId> targets;
      {
        absl::MutexLock l(&mu_);
        targets = membership_.BucketsToRefresh(options_.bucket_refresh, rng_);
      }
      for (const dht::NodeId& t : targets) LookupBlocking(t);
    }
    absl::MutexLock l(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.maintenance_interval)) return;
  }
}

}  // namespace kv::node
