#include "src/node/node.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "spdlog/spdlog.h"

namespace kv::node {

using replication::Consistency;

namespace {

// The hint store a node uses: the given one, or a memory-only one it owns.
replication::HintStore* HintStoreOf(const NodeOptions& o,
                                    std::unique_ptr<replication::HintStore>& owned) {
  if (o.hints != nullptr) return o.hints;
  // A memory-only store cannot fail to open.
  owned = *replication::HintStore::Open({.max_bytes = o.max_hints_bytes});
  return owned.get();
}

util::Executor* ExecutorOf(util::Executor* given, std::unique_ptr<util::ThreadExecutor>& owned) {
  if (given != nullptr) return given;
  owned = std::make_unique<util::ThreadExecutor>(1);
  return owned.get();
}

uint64_t SeedOf(const NodeOptions& o) {
  return o.rng_seed != 0 ? o.rng_seed : std::random_device{}();
}

}  // namespace

Node::Node(NodeOptions options, storage::Engine* engine, replication::PeerTransport* transport,
           const util::Clock* clock, util::ThreadPool* storage_pool, util::Executor* executor)
    : options_(std::move(options)),
      engine_(engine),
      transport_(transport),
      clock_(clock),
      storage_pool_(storage_pool),
      executor_(ExecutorOf(executor, owned_executor_)),
      hlc_(clock, options_.max_clock_offset, options_.hlc_persistence),
      membership_({.self = options_.self,
                   .k = options_.k,
                   .failure_timeout = options_.failure_timeout,
                   .dead_after = options_.dead_after},
                  clock),
      gossiper_({.rng_seed = SeedOf(options_) + 1}, &membership_, transport, executor_, clock),
      router_({.self = options_.self,
               .replicas = static_cast<size_t>(options_.replicas),
               .k = options_.k,
               .alpha = options_.alpha},
              &membership_, transport, executor_, [this] { return leaver_.leaving(); }),
      hints_({.self = options_.self.id,
              .replicas = static_cast<size_t>(options_.replicas),
              .max_hints_bytes = options_.max_hints_bytes,
              .tombstone_grace = options_.tombstone_grace},
             HintStoreOf(options_, owned_hints_), transport, executor_, &membership_, clock,
             storage_pool, [this] { return router_.OwnerCandidates(); }),
      push_(static_cast<size_t>(options_.replicas), engine, transport, executor_, &membership_,
            &hints_),
      leaver_(
          engine, transport, executor_, &membership_, clock, &push_,
          [this] { return router_.OwnerCandidates(); }, options_.on_left),
      repairer_(
          {.self = options_.self.id,
           .replicas = static_cast<size_t>(options_.replicas),
           .tombstone_grace = options_.tombstone_grace},
          engine, transport, executor_, &membership_, clock, &push_,
          [this] { return router_.OwnerCandidates(); },
          [this](const dht::Contact& from, const storage::Version& v) { return Admit(from, v); }),
      fence_(&membership_, options_.max_clock_offset,
             /*wait_for_peers=*/!options_.seeds.empty() || options_.discover_seeds != nullptr,
             options_.on_clock_fence),
      maintenance_({.self = options_.self,
                    .seeds = options_.seeds,
                    .discover_seeds = options_.discover_seeds,
                    .interval = options_.maintenance_interval,
                    .anti_entropy_interval = options_.anti_entropy_interval,
                    .bucket_refresh = options_.bucket_refresh,
                    .dead_after = options_.dead_after,
                    .save_contacts = options_.save_contacts,
                    .rng_seed = SeedOf(options_),
                    .awaiting_data = [this] { return !ServesReads().ok(); }},
                   {.membership = &membership_,
                    .router = &router_,
                    .transport = transport,
                    .clock = clock,
                    .executor = executor_,
                    .fence = &fence_,
                    .hints = &hints_,
                    .repairer = &repairer_,
                    .gossiper = &gossiper_}),
      // A quarter of the delay: a speculative read goes out within 1.25x of
      // it, and the timer wakes at most every 5 ms at the default 20 ms.
      read_timer_(options_.speculative_read_after > absl::ZeroDuration()
                      ? std::make_unique<util::TimerThread>(
                            std::max(absl::Milliseconds(1), options_.speculative_read_after / 4))
                      : nullptr),
      coordinator_({.self = options_.self.id,
                    .storage_pool = storage_pool,
                    .group_commit = options_.group_commit,
                    .hlc = &hlc_,
                    .timer = read_timer_.get(),
                    .speculate_after = options_.speculative_read_after,
                    .replica_failed =
                        [this](const dht::Contact& replica, const std::string& key,
                               const storage::Record& rec, const absl::Status& why) {
                          membership_.Unanswered(replica.id, why);
                          hints_.Send(replica, key, rec);
                        },
                    .local_reads = [this] { return ServesReads(); }},
                   engine, transport) {
  // Versions issued before a restart stay below every new one, whatever the
  // clock now says.
  hlc_.Restore(options_.hlc_floor);
}

Node::~Node() {
  Stop();
  read_timer_.reset();
  owned_executor_.reset();
}

void Node::Start() { maintenance_.Start(); }

void Node::Cancel() {
  gossiper_.Cancel();
  leaver_.Cancel();
  repairer_.Stop();
  maintenance_.Cancel();
}

void Node::Abandon() {
  abandoned_ = true;
  gossiper_.Cancel();
  leaver_.Abandon();
  repairer_.Stop();
  maintenance_.Abandon();
}

void Node::Stop() {
  gossiper_.Cancel();
  leaver_.Stop();
  repairer_.Stop();
  maintenance_.Stop();
  // Peers' anti-entropy requests queued before the stop are answered while
  // the server still runs; later ones are answered on the caller's thread.
  if (!abandoned_) repairer_.Drain();
}

void Node::OnStorage(std::function<void()> fn) {
  if (storage_pool_) {
    storage_pool_->Schedule(std::move(fn));
  } else {
    fn();
  }
}

namespace {

// The offset of the first byte of `s` that is not part of well-formed UTF-8
// (no overlongs, surrogates or code points above U+10FFFF); npos if none.
size_t FirstNonUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return i;
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return i;
    }
    i += n + 1;
  }
  return std::string_view::npos;
}

}  // namespace

absl::Status Node::ValidateKey(const std::string& key) const {
  if (key.empty()) {
    return absl::InvalidArgumentError("key is empty; give a key of 1 to " +
                                      std::to_string(options_.max_key_bytes) + " bytes");
  }
  if (key.size() > options_.max_key_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("key is ", key.size(), " bytes; the limit is ",
                                                   options_.max_key_bytes, " (--max-key-bytes)"));
  }
  // Keys travel between nodes as protobuf strings, which must be UTF-8.
  if (const size_t bad = FirstNonUtf8(key); bad != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("key is not valid UTF-8 (byte ", bad,
                     "); kvstore keys are UTF-8 text: encode binary keys, e.g. in hex or base64"));
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
  if (args.ttl > absl::ZeroDuration()) {
    rec.expires_at_ms = clock_->NowMillis() + absl::ToInt64Milliseconds(args.ttl);
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
  if (fence_.fenced()) {
    return done(absl::UnavailableError(
        absl::StrCat(clock_status().description,
                     "; this node refuses writes until its clock agrees with its peers' (check "
                     "NTP); send writes to another node")));
  }
  rec.version = storage::Version{hlc_.Now(), options_.self.id.ToHex()};
  const Consistency consistency = c.value_or(options_.default_consistency);
  router_.ResolveReplicas(dht::NodeId::FromKey(key),
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
                                hints_.Send(o, key, rec);
                              }
                            }
                            coordinator_.Write(key, rec, live, n, consistency, std::move(done));
                          });
}

void Node::Get(std::string key, std::optional<Consistency> c, GetCallback done) {
  if (absl::Status s = ValidateKey(key); !s.ok()) return done(s);
  const Consistency consistency = c.value_or(options_.default_consistency);
  const dht::NodeId key_id = dht::NodeId::FromKey(key);
  router_.ResolveReplicas(key_id, [this, key = std::move(key), consistency, done = std::move(done)](
                                      std::vector<dht::Contact> replicas) mutable {
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
                          reply.expires_at_ms = r->record->expires_at_ms;
                        }
                        done(std::move(reply));
                      });
  });
}

}  // namespace kv::node
