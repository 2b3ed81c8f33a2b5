#include "src/node/node.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "spdlog/spdlog.h"

namespace kv::node {

using replication::Consistency;

Node::Node(NodeOptions options, storage::Engine* engine, replication::PeerTransport* transport,
           const util::Clock* clock, util::ThreadPool* storage_pool)
    : options_(std::move(options)),
      engine_(engine),
      transport_(transport),
      clock_(clock),
      storage_pool_(storage_pool),
      hlc_(clock, options_.max_clock_offset, options_.hlc_persistence),
      membership_({.self = options_.self,
                   .k = options_.k,
                   .failure_timeout = options_.failure_timeout,
                   .dead_after = options_.dead_after},
                  clock),
      coordinator_(options_.self.id, engine, transport, storage_pool, &hlc_),
      rng_(std::random_device{}()),
      hints_(options_.hints),
      repair_pool_(std::make_unique<util::ThreadPool>(1)) {
  // Versions issued before a restart stay below every new one, whatever the
  // clock now says.
  hlc_.Restore(options_.hlc_floor);
  joined_ = SeedsEmpty();
  clock_fenced_ = !SeedsEmpty();  // until a peer's clock is measured (UpdateClockFence)
  if (!hints_) {
    // A memory-only store cannot fail to open.
    owned_hints_ = *replication::HintStore::Open({.max_bytes = options_.max_hints_bytes});
    hints_ = owned_hints_.get();
  }
  if (options_.speculative_read_after > absl::ZeroDuration()) {
    // A quarter of the delay: a speculative read goes out within 1.25x of
    // it, and the timer wakes at most every 5 ms at the default 20 ms.
    read_timer_ = std::make_unique<util::TimerThread>(
        std::max(absl::Milliseconds(1), options_.speculative_read_after / 4));
    coordinator_.EnableSpeculativeReads(read_timer_.get(), options_.speculative_read_after);
  }
  coordinator_.SetReplicaFailedHandler(
      [this](const dht::Contact& replica, const std::string& key, const storage::Record& rec) {
        SendHint(replica, key, rec);
      });
}

Node::~Node() { Stop(); }

absl::Status Node::ValidateKey(const std::string& key) const {
  if (key.empty()) {
    return absl::InvalidArgumentError("key is empty; give a key of 1 to " +
                                      std::to_string(options_.max_key_bytes) + " bytes");
  }
  if (key.size() > options_.max_key_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("key is ", key.size(), " bytes; the limit is ",
                                                   options_.max_key_bytes, " (--max-key-bytes)"));
  }
  return absl::OkStatus();
}

absl::Status Node::ValidateValue(const std::string& value) const {
  if (value.size() > options_.max_value_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("value is ", value.size(), " bytes; the limit is ", options_.max_value_bytes,
                     " (--max-value-bytes)"));
  }
  return absl::OkStatus();
}

int Node::EffectiveReplicas(size_t resolved) const {
  const size_t known =
      std::min<size_t>(static_cast<size_t>(options_.replicas), membership_.KnownNodes());
  // The table may have grown since the replicas were resolved.
  return static_cast<int>(std::max(known, resolved));
}

void Node::Put(PutArgs args, WriteCallback done) {
  if (absl::Status s = ValidateKey(args.key); !s.ok()) return done(s);
  if (absl::Status s = ValidateValue(args.value); !s.ok()) return done(s);
  storage::Record rec;
  rec.value = std::move(args.value);
  if (args.ttl_seconds > 0) {
    rec.expires_at_ms = clock_->NowMillis() + int64_t{args.ttl_seconds} * 1000;
  }
  Write(args.key, std::move(rec), args.consistency, std::move(done));
}

void Node::Delete(std::string key, std::optional<Consistency> c, WriteCallback done) {
  if (absl::Status s = ValidateKey(key); !s.ok()) return done(s);
  storage::Record rec;
  rec.tombstone = true;
  Write(key, std::move(rec), c, std::move(done));
}

void Node::Write(const std::string& key, storage::Record rec, std::optional<Consistency> c,
                 WriteCallback done) {
  if (clock_fenced_.load(std::memory_order_relaxed)) {
    return done(absl::UnavailableError(
        absl::StrCat(clock_status().description,
                     "; this node refuses writes until its clock agrees with its peers' (check "
                     "NTP); send writes to another node")));
  }
  rec.version = storage::Version{hlc_.Now(), options_.self.id.ToHex()};
  const Consistency consistency = c.value_or(options_.default_consistency);
  ResolveReplicas(dht::NodeId::FromKey(key),
                  [this, key, rec = std::move(rec), consistency,
                   done = std::move(done)](std::vector<dht::Contact> owners) mutable {
                    const int n = EffectiveReplicas(owners.size());
                    // Down owners get a hint now; they count as failed for
                    // the quorum (hints never count toward W).
                    std::vector<dht::Contact> live;
                    for (dht::Contact& o : owners) {
                      if (o.id == options_.self.id || membership_.IsAlive(o.id)) {
                        live.push_back(std::move(o));
                      } else {
                        SendHint(o, key, rec);
                      }
                    }
                    coordinator_.Write(key, rec, live, n, consistency, std::move(done));
                  });
}

void Node::Get(std::string key, std::optional<Consistency> c, GetCallback done) {
  if (absl::Status s = ValidateKey(key); !s.ok()) return done(s);
  const Consistency consistency = c.value_or(options_.default_consistency);
  const dht::NodeId key_id = dht::NodeId::FromKey(key);
  ResolveReplicas(key_id, [this, key = std::move(key), consistency,
                           done = std::move(done)](std::vector<dht::Contact> replicas) mutable {
    const int n = EffectiveReplicas(replicas.size());
    std::erase_if(replicas, [this](const dht::Contact& c) {
      return c.id != options_.self.id && !membership_.IsAlive(c.id);
    });
    coordinator_.Read(std::move(key), std::move(replicas), n, consistency,
                      [this, done = std::move(done)](absl::StatusOr<replication::ReadResult> r) {
                        if (!r.ok()) return done(r.status());
                        GetReply reply;
                        if (r->record && r->record->LiveAt(clock_->NowMillis())) {
                          reply.found = true;
                          reply.value = std::move(r->record->value);
                          reply.version = std::move(r->record->version);
                        }
                        done(std::move(reply));
                      });
  });
}

namespace {

// Joins the per-replica probes of one Locate call.
struct LocateState {
  absl::Mutex mu;
  LocateReply reply ABSL_GUARDED_BY(mu);
  size_t pending ABSL_GUARDED_BY(mu) = 0;
  Node::LocateCallback done;

  void Answer(size_t i, absl::StatusOr<std::optional<storage::Record>> r, int64_t now_ms) {
    bool last;
    {
      absl::MutexLock l(&mu);
      ReplicaLocation& loc = reply.replicas[i];
      loc.reachable = r.ok();
      if (!r.ok()) {
        loc.error = r.status().ToString();
      } else if (*r) {
        loc.version = (*r)->version;
        loc.holds = (*r)->LiveAt(now_ms);
      }
      last = --pending == 0;
    }
    if (last) {
      LocateReply out;
      {
        absl::MutexLock l(&mu);
        out = std::move(reply);
      }
      done(std::move(out));
    }
  }
};

}  // namespace

void Node::Locate(std::string key, LocateCallback done) {
  if (absl::Status s = ValidateKey(key); !s.ok()) return done(s);
  const dht::NodeId key_id = dht::NodeId::FromKey(key);
  ResolveReplicas(key_id, [this, key, key_id,
                           done = std::move(done)](std::vector<dht::Contact> replicas) mutable {
    auto state = std::make_shared<LocateState>();
    state->done = std::move(done);
    {
      absl::MutexLock l(&state->mu);
      state->reply.key_id = key_id;
      for (const dht::Contact& c : replicas) state->reply.replicas.push_back({.node = c});
      state->pending = replicas.size();
    }
    if (replicas.empty()) return state->done(LocateReply{.key_id = key_id});
    for (size_t i = 0; i < replicas.size(); ++i) {
      if (replicas[i].id == options_.self.id) {
        state->Answer(i, engine_->Read(key), clock_->NowMillis());
      } else {
        transport_->Fetch(replicas[i], key,
                          [this, state, i](absl::StatusOr<std::optional<storage::Record>> r) {
                            state->Answer(i, std::move(r), clock_->NowMillis());
                          });
      }
    }
  });
}

namespace {

// OK when `name` is one plain path component: 1-255 of [A-Za-z0-9._-], and
// neither "." nor anything with "..".
absl::Status ValidateSnapshotName(const std::string& name) {
  const bool plain =
      !name.empty() && name.size() <= 255 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
      });
  if (plain && name != "." && name.find("..") == std::string::npos) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "snapshot name '", absl::CHexEscape(name.substr(0, 64)),
      "' must be a plain name of 1 to 255 letters, digits, '.', '_' or '-' (no '/', no '..'); "
      "the snapshot is written under the node's backup directory"));
}

}  // namespace

void Node::Snapshot(std::string name, std::function<void(absl::StatusOr<std::string>)> done) {
  if (absl::Status s = ValidateSnapshotName(name); !s.ok()) return done(s);
  if (!options_.snapshot) {
    return done(absl::FailedPreconditionError(
        "this node keeps its data in memory; snapshots need a node started with --data-dir "
        "and --backup-dir"));
  }
  auto run = [this, name = std::move(name), done = std::move(done)] {
    absl::StatusOr<std::string> path = options_.snapshot(name);
    if (path.ok()) {
      spdlog::info("wrote a snapshot to {}", *path);
    } else {
      spdlog::warn("snapshot '{}' failed (writes are not affected): {}", name,
                   path.status().ToString());
    }
    done(std::move(path));
  };
  if (storage_pool_) {
    storage_pool_->Schedule(std::move(run));
  } else {
    run();
  }
}

void Node::Insert(const dht::Contact& c) {
  std::optional<dht::Contact> oldest = membership_.Observe(c);
  if (!oldest) return;
  transport_->Ping(oldest->address, [this, id = oldest->id](absl::StatusOr<dht::Contact> r) {
    membership_.OnPingResult(id, r.ok() && r->id == id);
  });
}

void Node::Learn(const dht::Contact& c) {
  LearnThen(c, [] {});
}

void Node::LearnThen(const dht::Contact& c, std::function<void()> then) {
  if (c.id == options_.self.id || c.address.empty()) return then();
  std::optional<dht::Contact> known = membership_.Find(c.id);
  if (known && known->address == c.address) {
    Insert(c);
    return then();
  }
  Verify(c, [this, c, then = std::move(then)](bool answered) {
    if (answered) Insert(c);
    then();
  });
}

void Node::LearnBlocking(const std::vector<dht::Contact>& contacts) {
  auto pending = std::make_shared<absl::BlockingCounter>(static_cast<int>(contacts.size()));
  for (const dht::Contact& c : contacts) LearnThen(c, [pending] { pending->DecrementCount(); });
  pending->Wait();
}

void Node::Verify(const dht::Contact& c, std::function<void(bool)> done) {
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
  std::optional<dht::Contact> known = membership_.Find(c.id);
  if (!known) return ping_claimed(false);
  transport_->Ping(known->address, [id = c.id, ping_claimed](absl::StatusOr<dht::Contact> r) {
    ping_claimed(r.ok() && r->id == id);
  });
}

std::vector<dht::Contact> Node::HandleJoin(const dht::Contact& from) {
  membership_.Rejoined(from.id);
  Learn(from);
  membership_.Heard(from.id);
  std::vector<dht::Contact> out{options_.self};
  for (dht::Contact& c : membership_.Closest(from.id, options_.k)) {
    if (c.id != from.id) out.push_back(std::move(c));
  }
  return out;
}

void Node::HandlePing(const std::optional<dht::Contact>& from) {
  if (from) Learn(*from);
}

void Node::HandleHeartbeat(const dht::Contact& from, std::optional<membership::ClockSample> clock,
                           uint64_t incarnation) {
  membership_.HeardIncarnation(from.id, incarnation);
  Learn(from);
  membership_.Heard(from.id);
  if (clock) {
    membership_.RecordClock(from.id, *clock);
    // The first measurement may lift the start-up fence at once.
    if (!clock_measured_.load(std::memory_order_relaxed)) UpdateClockFence();
  }
}

Node::ClockStatus Node::clock_status() const {
  absl::MutexLock l(&clock_mu_);
  return {.fenced = clock_fenced_.load(), .description = clock_description_};
}

void Node::UpdateClockFence() {
  const membership::ClockOffsets::Verdict v = membership_.JudgeClock(options_.max_clock_offset);
  absl::MutexLock l(&clock_mu_);
  const bool first = v.peers > 0 && !clock_measured_.exchange(true);
  // A node started with seeds coordinates no write until it has measured a
  // peer's clock: a node restarted with its clock far off would otherwise
  // stamp versions in the future (or the past) before anyone could tell.
  const bool waiting = !clock_measured_.load() && !SeedsEmpty();
  clock_description_ =
      waiting ? "clock not measured yet: no peer's clock measured since start (a heartbeat "
                "exchange measures one)"
              : v.Describe(options_.max_clock_offset);
  const bool fenced = waiting || v.fenced();
  const bool was_fenced = clock_fenced_.exchange(fenced);
  if (first && fenced && !waiting) {
    // Fenced from the start, and now for its clock: say so once.
    spdlog::error("{}: refusing writes until this node's clock agrees with its peers' (check NTP)",
                  clock_description_);
  }
  if (was_fenced == fenced) return;
  if (fenced) {
    spdlog::error("{}: refusing writes until this node's clock agrees with its peers' (check NTP)",
                  clock_description_);
  } else if (first) {
    spdlog::info("{}: accepting writes", clock_description_);
  } else {
    spdlog::warn("{}: accepting writes again", clock_description_);
  }
  if (options_.on_clock_fence) options_.on_clock_fence({fenced, clock_description_});
}

std::vector<dht::Contact> Node::HandleFindNode(const dht::Contact& from,
                                               const dht::NodeId& target) {
  Learn(from);
  return membership_.Closest(target, options_.k);
}

void Node::HandleStore(const dht::Contact& from, const std::string& key, storage::Record rec,
                       std::function<void(absl::StatusOr<bool>)> done) {
  if (absl::Status s = hlc_.Admit(rec.version); !s.ok()) {
    WarnRefused(from, s);
    return done(s);
  }
  Learn(from);
  auto apply = [this, key, rec = std::move(rec), done = std::move(done)] {
    done(engine_->Apply(key, rec));
  };
  if (storage_pool_) {
    storage_pool_->Schedule(std::move(apply));
  } else {
    apply();
  }
}

void Node::WarnRefused(const dht::Contact& from, const absl::Status& why) {
  const int64_t now = clock_->NowMillis();
  int64_t last = refused_warned_ms_.load(std::memory_order_relaxed);
  if (now - last < 10'000 ||
      !refused_warned_ms_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    refused_warnings_held_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  spdlog::warn("refused a record from {}: {} ({} more refused in the last 10 s were not logged)",
               from.address, std::string(why.message()),
               refused_warnings_held_.exchange(0, std::memory_order_relaxed));
}

absl::StatusOr<std::optional<storage::Record>> Node::HandleFetch(const std::string& key) const {
  return engine_->Read(key);
}

bool Node::joined() const {
  absl::MutexLock l(&mu_);
  return joined_;
}

}  // namespace kv::node
