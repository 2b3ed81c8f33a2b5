#include "src/node/maintenance.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/synchronization/notification.h"
#include "spdlog/spdlog.h"

namespace kv::node {

Maintenance::Maintenance(Options options, Parts parts)
    : options_(std::move(options)), parts_(parts), rng_(options_.rng_seed) {
  joined_ = alone();
}

Maintenance::~Maintenance() { Stop(); }

bool Maintenance::joined() const {
  absl::MutexLock l(&mu_);
  return joined_;
}

bool Maintenance::stopping() const {
  absl::MutexLock l(&mu_);
  return stopping_;
}

void Maintenance::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Maintenance::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) {
    thread_.join();
    SaveContactsIfChanged();
  }
}

void Maintenance::SaveContactsIfChanged() {
  if (!options_.save_contacts) return;
  std::vector<dht::Contact> contacts;
  for (const auto& p : parts_.membership->Peers()) contacts.push_back(p.contact);
  if (contacts == saved_contacts_) return;
  options_.save_contacts(contacts);
  saved_contacts_ = std::move(contacts);
}

void Maintenance::LogTransitions() {
  for (const auto& t : parts_.membership->Sweep()) {
    if (t.dead) {
      spdlog::warn(
          "peer {} is {}; its keys move to the next-closest nodes", t.id.ShortHex(),
          t.left ? "leaving" : "dead (down for " + absl::FormatDuration(options_.dead_after) + ")");
      repair_soon_ = true;
      continue;
    }
    switch (t.state) {
      case membership::PeerState::kDown:
        spdlog::warn("peer {} is down (heartbeats stopped)", t.id.ShortHex());
        break;
      case membership::PeerState::kSuspect:
        spdlog::info("peer {} is suspect (heartbeats late)", t.id.ShortHex());
        break;
      case membership::PeerState::kAlive:
        spdlog::info("peer {} is alive", t.id.ShortHex());
        break;
    }
  }
}

std::vector<dht::NodeId> Maintenance::RefreshTargets(absl::Duration idle) {
  absl::MutexLock l(&mu_);
  return parts_.membership->BucketsToRefresh(idle, rng_);
}

std::vector<std::string> Maintenance::Seeds() const {
  std::vector<std::string> seeds = options_.seeds;
  if (options_.discover_seeds) {
    for (std::string& s : options_.discover_seeds()) {
      if (std::find(seeds.begin(), seeds.end(), s) == seeds.end()) seeds.push_back(std::move(s));
    }
  }
  return seeds;
}

bool Maintenance::JoinSeeds() {
  bool any = false;
  const std::vector<std::string> seeds = Seeds();
  const dht::NodeId& self = options_.self.id;
  using JoinAnswer = replication::PeerTransport::JoinAnswer;
  for (const std::string& seed : seeds) {
    auto done = std::make_shared<absl::Notification>();
    auto result = std::make_shared<absl::StatusOr<JoinAnswer>>();
    const absl::Time sent = parts_.clock->Now();
    parts_.transport->Join(seed, [done, result](absl::StatusOr<JoinAnswer> r) {
      *result = std::move(r);
      done->Notify();
    });
    done->WaitForNotification();
    const absl::Time answered = parts_.clock->Now();
    if (!result->ok()) {
      spdlog::warn("join via {} failed: {}", seed, result->status().ToString());
      continue;
    }
    // The seed answered this call itself; the peers it suggests are its word
    // only, and are pinged before they enter the table.
    const std::vector<dht::Contact>& contacts = (*result)->contacts;
    if (!contacts.empty() && contacts[0].id != self) {
      parts_.router->Insert(contacts[0]);
      parts_.membership->Heard(contacts[0].id);
      // The call is this node's first measurement of a peer's clock: the
      // seed read its clock once, between `sent` and `answered`.
      if (const std::optional<absl::Time>& t = (*result)->seed_clock) {
        parts_.membership->RecordClock(
            contacts[0].id, membership::ClockSample::FromExchange(sent, *t, *t, answered));
        parts_.fence->Update();
      }
      any = true;
      spdlog::info("joined via {} ({}); it suggested {} peers", seed, contacts[0].id.ShortHex(),
                   contacts.size() - 1);
    }
    std::vector<dht::Contact> suggested;
    for (size_t i = 1; i < contacts.size(); ++i) {
      if (contacts[i].id != self) suggested.push_back(contacts[i]);
    }
    parts_.router->LearnBlocking(suggested);
    any = any || !suggested.empty();
  }
  if (!any) return false;
  // Kademlia join: look up our own ID so the nodes near us learn of us, then
  // refresh the buckets farther away.
  parts_.router->LookupBlocking(self);
  for (const dht::NodeId& t : RefreshTargets(absl::ZeroDuration())) {
    parts_.router->LookupBlocking(t);
  }
  // Introduce ourselves to every contact, not only the seeds: a node that
  // left and now comes back under the same ID is then taken back by all.
  for (const auto& p : parts_.membership->Peers()) {
    if (std::find(seeds.begin(), seeds.end(), p.contact.address) != seeds.end()) continue;
    parts_.transport->Join(p.contact.address, [](absl::StatusOr<JoinAnswer>) {});
  }
  spdlog::info("routing table holds {} peers after join", parts_.membership->KnownNodes() - 1);
  return true;
}

void Maintenance::Loop() {
  const util::Clock* clock = parts_.clock;
  absl::Duration join_backoff = absl::Milliseconds(500);
  absl::Time next_join = absl::InfinitePast();
  absl::Time next_refresh = clock->Now() + absl::Minutes(1);
  absl::Time next_repair = clock->Now() + options_.anti_entropy_interval;
  size_t known_nodes = parts_.membership->KnownNodes();
  // Settling lookups of this node's own ID, 1, 2, 4, 8 and 16 s after it
  // joined: contacts enter routing tables only once verified (Router::Learn),
  // so nodes that joined at about the same time may not have been in their
  // seed's table yet; each lookup introduces this node to its closest nodes
  // again and learns the ones that were verified meanwhile.
  absl::Duration settle_step = absl::Seconds(1);
  absl::Time next_settle = absl::InfiniteFuture();
  auto is_stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  while (true) {
    const absl::Time now = clock->Now();
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
      parts_.router->LookupBlocking(options_.self.id);
      settle_step *= 2;
      next_settle = settle_step <= absl::Seconds(16) ? now + settle_step : absl::InfiniteFuture();
    }
    LogTransitions();
    parts_.fence->Update();
    SaveContactsIfChanged();
    parts_.hints->Replay();
    // A node that joined or died moves keys: repair soon rather than at the
    // next interval.
    if (const size_t known = parts_.membership->KnownNodes(); known != known_nodes) {
      known_nodes = known;
      repair_soon_ = true;
    }
    if (repair_soon_.exchange(false)) {
      next_repair =
          std::min(next_repair, now + std::min(absl::Seconds(1), options_.anti_entropy_interval));
    }
    if (clock->Now() >= next_repair && joined()) {
      parts_.repairer->Round();
      next_repair = clock->Now() + options_.anti_entropy_interval;
    }
    if (now >= next_refresh) {
      next_refresh = now + absl::Minutes(1);
      for (const dht::NodeId& t : RefreshTargets(options_.bucket_refresh)) {
        parts_.router->LookupBlocking(t);
      }
    }
    absl::MutexLock l(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&is_stopping), options_.interval)) return;
  }
}

}  // namespace kv::node
