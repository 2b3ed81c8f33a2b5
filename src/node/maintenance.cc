#include "src/node/maintenance.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "spdlog/spdlog.h"

namespace kv::node {

Maintenance::Maintenance(Options options, Parts parts)
    : options_(std::move(options)), parts_(parts), rng_(options_.rng_seed) {
  joined_ = alone();
  if (joined_) joined_at_ = absl::InfinitePast();
}

Maintenance::~Maintenance() { Stop(); }

bool Maintenance::joined() const {
  absl::MutexLock l(&mu_);
  return joined_;
}

absl::Time Maintenance::joined_at() const {
  absl::MutexLock l(&mu_);
  return joined_at_;
}

size_t Maintenance::nodes_named_at_join() const {
  absl::MutexLock l(&mu_);
  return nodes_named_at_join_;
}

bool Maintenance::stopping() const {
  absl::MutexLock l(&mu_);
  return stopping_;
}

void Maintenance::Start() {
  const absl::Time now = parts_.clock->Now();
  next_refresh_ = now + absl::Minutes(1);
  next_repair_ = now + options_.anti_entropy_interval;
  known_nodes_ = parts_.membership->KnownNodes();
  {
    absl::MutexLock l(&mu_);
    if (stopping_) return;
    ticking_ = true;
    started_ = true;
  }
  parts_.executor->Schedule([this] { Tick(); });
}

void Maintenance::Cancel() {
  absl::MutexLock l(&mu_);
  stopping_ = true;
}

void Maintenance::Abandon() {
  absl::MutexLock l(&mu_);
  stopping_ = true;
  ticking_ = false;
  started_ = false;
}

void Maintenance::Stop() {
  bool started;
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !ticking_; };
    mu_.Await(absl::Condition(&idle));
    started = started_;
    started_ = false;
  }
  if (started) SaveContactsIfChanged();
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

void Maintenance::JoinSeeds(std::function<void(bool)> done) {
  auto seeds = std::make_shared<const std::vector<std::string>>(Seeds());
  auto any = std::make_shared<bool>(false);  // touched only by the steps, in turn
  util::Executor* ex = parts_.executor;
  using JoinAnswer = replication::PeerTransport::JoinAnswer;
  util::Sequentially(
      ex, seeds->size(),
      [this, seeds, any, ex](size_t i, std::function<void(bool)> next) {
        const std::string& seed = (*seeds)[i];
        const absl::Time sent = parts_.clock->Now();
        auto answered = [this, seed, sent, any,
                         next = std::move(next)](absl::StatusOr<JoinAnswer> r) {
          const absl::Time at = parts_.clock->Now();
          if (!r.ok()) {
            spdlog::warn("join via {} failed: {}", seed, r.status().ToString());
            return next(true);
          }
          const dht::NodeId& self = options_.self.id;
          // The seed answered this call itself; the peers it suggests are its
          // word only, and are pinged before they enter the table.
          const std::vector<dht::Contact>& contacts = r->contacts;
          if (!contacts.empty() && contacts[0].id != self) {
            parts_.router->Insert(contacts[0]);
            parts_.membership->Heard(contacts[0].id);
            // The call is this node's first measurement of a peer's clock:
            // the seed read its clock once, between `sent` and `at`.
            if (const std::optional<absl::Time>& t = r->seed_clock) {
              parts_.membership->RecordClock(
                  contacts[0].id, membership::ClockSample::FromExchange(sent, *t, *t, at));
              parts_.fence->Update();
            }
            *any = true;
            spdlog::info("joined via {} ({}); it suggested {} peers", seed,
                         contacts[0].id.ShortHex(), contacts.size() - 1);
          }
          {
            absl::MutexLock l(&mu_);
            nodes_named_at_join_ = std::max(nodes_named_at_join_, contacts.size());
          }
          std::vector<dht::Contact> suggested;
          for (size_t i = 1; i < contacts.size(); ++i) {
            if (contacts[i].id != self) suggested.push_back(contacts[i]);
          }
          if (!suggested.empty()) *any = true;
          parts_.router->LearnAll(suggested, [next] { next(true); });
        };
        parts_.transport->Join(seed, util::On<absl::StatusOr<JoinAnswer>>(ex, std::move(answered)));
      },
      [this, seeds, any, done = std::move(done)]() mutable {
        if (!*any) return done(false);
        AfterJoin(seeds, std::move(done));
      });
}

void Maintenance::AfterJoin(std::shared_ptr<const std::vector<std::string>> seeds,
                            std::function<void(bool)> done) {
  // Kademlia join: look up our own ID so the nodes near us learn of us, then
  // refresh the buckets farther away.
  parts_.router->Lookup(options_.self.id, [this, seeds, done = std::move(done)]() mutable {
    LookupAll(RefreshTargets(absl::ZeroDuration()), [this, seeds, done = std::move(done)] {
      // Introduce ourselves to every contact, not only the seeds: a node
      // that left and now comes back under the same ID is then taken back
      // by all.
      using JoinAnswer = replication::PeerTransport::JoinAnswer;
      for (const auto& p : parts_.membership->Peers()) {
        if (std::find(seeds->begin(), seeds->end(), p.contact.address) != seeds->end()) continue;
        parts_.transport->Join(p.contact.address, [](absl::StatusOr<JoinAnswer>) {});
      }
      spdlog::info("routing table holds {} peers after join", parts_.membership->KnownNodes() - 1);
      done(true);
    });
  });
}

void Maintenance::LookupAll(std::vector<dht::NodeId> targets, std::function<void()> done) {
  auto all = std::make_shared<const std::vector<dht::NodeId>>(std::move(targets));
  util::Sequentially(
      parts_.executor, all->size(),
      [this, all](size_t i, std::function<void(bool)> next) {
        parts_.router->Lookup((*all)[i], [next = std::move(next)] { next(true); });
      },
      std::move(done));
}

void Maintenance::Tick() {
  if (stopping()) return TickEnded();
  tick_start_ = parts_.clock->Now();
  JoinStep();
}

void Maintenance::JoinStep() {
  if (joined() || tick_start_ < next_join_) return SettleStep();
  JoinSeeds([this](bool ok) {
    if (ok) {
      {
        absl::MutexLock l(&mu_);
        joined_ = true;
        joined_at_ = tick_start_;
      }
      next_settle_ = tick_start_ + settle_step_;
    } else {
      spdlog::warn("no seed peer answered; retrying in {}", absl::FormatDuration(join_backoff_));
      next_join_ = tick_start_ + join_backoff_;
      join_backoff_ = std::min(join_backoff_ * 2, absl::Seconds(30));
    }
    SettleStep();
  });
}

void Maintenance::SettleStep() {
  if (stopping()) return TickEnded();
  if (tick_start_ < next_settle_) return SweepStep();
  parts_.router->Lookup(options_.self.id, [this] {
    settle_step_ *= 2;
    next_settle_ =
        settle_step_ <= absl::Seconds(16) ? tick_start_ + settle_step_ : absl::InfiniteFuture();
    SweepStep();
  });
}

void Maintenance::SweepStep() {
  LogTransitions();
  parts_.gossiper->Tick();  // after the sweep: its verdicts are news
  parts_.fence->Update();
  SaveContactsIfChanged();
  parts_.hints->Replay([this] { RepairStep(); });
}

void Maintenance::RepairStep() {
  if (stopping()) return TickEnded();
  // A node that joined or died moves keys: repair soon rather than at the
  // next interval.
  if (const size_t known = parts_.membership->KnownNodes(); known != known_nodes_) {
    known_nodes_ = known;
    repair_soon_ = true;
  }
  // A node that waits for its data repairs on every tick until it has it.
  if (options_.awaiting_data && options_.awaiting_data()) next_repair_ = tick_start_;
  if (repair_soon_.exchange(false)) {
    next_repair_ = std::min(
        next_repair_, tick_start_ + std::min(absl::Seconds(1), options_.anti_entropy_interval));
  }
  if (parts_.clock->Now() < next_repair_ || !joined()) return RefreshStep();
  parts_.repairer->Round([this] {
    next_repair_ = parts_.clock->Now() + options_.anti_entropy_interval;
    RefreshStep();
  });
}

void Maintenance::RefreshStep() {
  if (stopping() || tick_start_ < next_refresh_) return TickEnded();
  next_refresh_ = tick_start_ + absl::Minutes(1);
  LookupAll(RefreshTargets(options_.bucket_refresh), [this] { TickEnded(); });
}

void Maintenance::TickEnded() {
  {
    absl::MutexLock l(&mu_);
    ticking_ = false;
    if (stopping_) return;
  }
  parts_.executor->After(options_.interval, [this] {
    {
      absl::MutexLock l(&mu_);
      if (stopping_ || ticking_) return;
      ticking_ = true;
    }
    Tick();
  });
}

}  // namespace kv::node
