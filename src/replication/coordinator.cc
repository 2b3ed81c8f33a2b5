#include "src/replication/coordinator.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace kv::replication {

int RequiredAcks(Consistency c, int replicas) {
  switch (c) {
    case Consistency::kOne:
      return 1;
    case Consistency::kAll:
      return replicas;
    case Consistency::kQuorum:
      break;
  }
  return replicas / 2 + 1;
}

absl::string_view ConsistencyName(Consistency c) {
  switch (c) {
    case Consistency::kOne:
      return "ONE";
    case Consistency::kAll:
      return "ALL";
    case Consistency::kQuorum:
      break;
  }
  return "QUORUM";
}

namespace {

absl::Status QuorumError(absl::string_view op, int answered, int total, int needed, Consistency c,
                         const absl::Status& last_error) {
  return absl::UnavailableError(absl::StrCat(op, " quorum not reachable: ", answered, " of ", total,
                                             " replicas answered; ", ConsistencyName(c), " needs ",
                                             needed,
                                             ". Retry when more replicas are up, or use a lower "
                                             "consistency. Last replica error: ",
                                             last_error.ToString()));
}

// A write whose every failed replica refused it for lack of room (a full
// memory engine or disk): retrying when more replicas are up would not help,
// so the client gets the replica's own RESOURCE_EXHAUSTED message, which
// says what to do, with the counts.
absl::Status RefusedError(int acks, int refused, int total, int needed, Consistency c,
                          const absl::Status& last_error) {
  return absl::ResourceExhaustedError(absl::StrCat(
      last_error.message(), " (write refused by ", refused, " of ", total, " replicas, ", acks,
      " acknowledged; ", ConsistencyName(c), " needs ", needed, ")"));
}

// Shared by the callbacks of one write.
struct WriteState {
  WriteState(int total, int needed, Consistency c, storage::Version v,
             Coordinator::WriteCallback cb)
      : total(total), needed(needed), consistency(c), version(std::move(v)), done(std::move(cb)) {}

  // Records one replica's answer; returns the callback to run (outside the lock), if any.
  std::function<void()> OnAnswer(const absl::Status& s) {
    absl::MutexLock l(&mu);
    if (s.ok()) {
      ++acks;
    } else {
      ++failures;
      if (s.code() == absl::StatusCode::kResourceExhausted) ++refused;
      last_error = s;
    }
    if (answered) return nullptr;
    if (acks >= needed) {
      answered = true;
      return
          [cb = std::move(done), r = WriteResult{version, static_cast<uint32_t>(acks)}] { cb(r); };
    }
    if (failures > total - needed) {
      answered = true;
      absl::Status e = refused == failures
                           ? RefusedError(acks, refused, total, needed, consistency, last_error)
                           : QuorumError("write", acks, total, needed, consistency, last_error);
      return [cb = std::move(done), e = std::move(e)] { cb(e); };
    }
    return nullptr;
  }

  const int total;
  const int needed;
  const Consistency consistency;
  const storage::Version version;

  absl::Mutex mu;
  Coordinator::WriteCallback done ABSL_GUARDED_BY(mu);
  int acks ABSL_GUARDED_BY(mu) = 0;
  int failures ABSL_GUARDED_BY(mu) = 0;
  int refused ABSL_GUARDED_BY(mu) = 0;  // failures that were RESOURCE_EXHAUSTED
  bool answered ABSL_GUARDED_BY(mu) = false;
  absl::Status last_error ABSL_GUARDED_BY(mu);
};

}  // namespace

Coordinator::Coordinator(Options options, storage::Engine* local, PeerTransport* transport)
    : options_(std::move(options)), local_(local), transport_(transport) {}

void Coordinator::OnStorage(std::function<void()> fn) {
  if (options_.storage_pool) {
    options_.storage_pool->Schedule(std::move(fn));
  } else {
    fn();
  }
}

void Coordinator::Write(const std::string& key, const storage::Record& rec,
                        const std::vector<dht::Contact>& replicas, int n, Consistency c,
                        WriteCallback done) {
  done = [this, c, done = std::move(done)](absl::StatusOr<WriteResult> r) {
    CountOutcome(Op::kWrite, c, r.status());
    done(std::move(r));
  };
  auto state = std::make_shared<WriteState>(n, RequiredAcks(c, n), c, rec.version, std::move(done));
  // One shared copy of the write for the hints of peer replicas that fail.
  std::shared_ptr<const std::pair<std::string, storage::Record>> for_hints;
  if (options_.replica_failed) {
    for_hints = std::make_shared<const std::pair<std::string, storage::Record>>(key, rec);
  }
  for (const dht::Contact& replica : replicas) {
    if (replica.id == options_.self) {
      auto answer = [state](const absl::StatusOr<bool>& applied) {
        if (auto cb = state->OnAnswer(applied.status())) cb();
      };
      if (options_.group_commit) {
        options_.group_commit->Apply(key, rec, std::move(answer));
      } else {
        OnStorage([this, key, rec, answer] { answer(local_->Apply(key, rec)); });
      }
      continue;
    }
    transport_->Store(replica, key, rec, [this, state, replica, for_hints](absl::Status s) {
      if (!s.ok() && for_hints && s.code() != absl::StatusCode::kResourceExhausted &&
          s.code() != absl::StatusCode::kInvalidArgument) {
        options_.replica_failed(replica, for_hints->first, for_hints->second, s);
      }
      if (auto cb = state->OnAnswer(s)) cb();
    });
  }
  // Replica slots no live node could fill count as failed.
  for (size_t missing = replicas.size(); missing < static_cast<size_t>(n); ++missing) {
    absl::Status down = absl::UnavailableError("replica is down (no live node to take its place)");
    if (auto cb = state->OnAnswer(down)) cb();
  }
}

struct Coordinator::ReadState {
  ReadState(std::string k, std::vector<dht::Contact> r, int n, Consistency c, ReadCallback cb)
      : key(std::move(k)),
        replicas(std::move(r)),
        total(n),
        needed(RequiredAcks(c, n)),
        consistency(c),
        done(std::move(cb)),
        answers(replicas.size()),
        failures(n - static_cast<int>(replicas.size())) {}

  struct Answer {
    bool answered = false;  // the replica responded (with or without a record)
    std::optional<storage::Record> record;
  };

  const std::string key;
  const std::vector<dht::Contact> replicas;  // in the order they are asked
  const int total;  // replicas.size() plus the missing ones, which count as failed
  const int needed;
  const Consistency consistency;

  absl::Mutex mu;
  ReadCallback done ABSL_GUARDED_BY(mu);
  std::vector<Answer> answers ABSL_GUARDED_BY(mu);
  size_t asked ABSL_GUARDED_BY(mu) = 0;    // replicas[0, asked) were asked
  size_t pending ABSL_GUARDED_BY(mu) = 0;  // asked and not yet answered
  int responses ABSL_GUARDED_BY(mu) = 0;
  int failures ABSL_GUARDED_BY(mu);
  bool answered ABSL_GUARDED_BY(mu) = false;
  absl::Status last_error ABSL_GUARDED_BY(mu) =
      absl::UnavailableError("replica is down (no live node to take its place)");

  // Index of the answer with the newest record; nullopt if none holds one.
  std::optional<size_t> NewestIndexLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::optional<size_t> newest;
    for (size_t i = 0; i < answers.size(); ++i) {
      const Answer& a = answers[i];
      if (a.record && (!newest || answers[*newest].record->version < a.record->version)) newest = i;
    }
    return newest;
  }

  // A copy of the newest record; with `take`, moved out instead (nothing
  // reads the answers after that).
  std::optional<storage::Record> NewestLocked(bool take) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::optional<size_t> i = NewestIndexLocked();
    if (!i) return std::nullopt;
    if (take) return std::move(answers[*i].record);
    return answers[*i].record;
  }

  // The next replica to ask, if any is left and the read is still open
  // (marked as asked).
  std::optional<size_t> NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (answered || asked == replicas.size()) return std::nullopt;
    ++pending;
    return asked++;
  }

  // Once every asked replica has answered: those that answered with an older
  // record or none go into `stale`, and the newest record is returned for
  // them (nullopt when there is nothing to repair).
  std::optional<storage::Record> RepairsLocked(std::vector<dht::Contact>& stale) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::optional<size_t> newest = NewestIndexLocked();
    if (!newest) return std::nullopt;
    const storage::Version& version = answers[*newest].record->version;
    for (size_t i = 0; i < answers.size(); ++i) {
      const Answer& a = answers[i];
      if (a.answered && (!a.record || a.record->version < version)) stale.push_back(replicas[i]);
    }
    if (stale.empty()) return std::nullopt;
    return answers[*newest].record;
  }
};

void Coordinator::Read(std::string key, std::vector<dht::Contact> replicas, int n, Consistency c,
                       ReadCallback done) {
  done = [this, c, done = std::move(done)](absl::StatusOr<ReadResult> r) {
    CountOutcome(Op::kRead, c, r.status());
    done(std::move(r));
  };
  // This node's copy first: reading it costs no network call.
  std::stable_partition(replicas.begin(), replicas.end(),
                        [this](const dht::Contact& r) { return r.id == options_.self; });
  auto state =
      std::make_shared<ReadState>(std::move(key), std::move(replicas), n, c, std::move(done));
  if (state->replicas.empty()) {
    ReadCallback cb;
    absl::Status e;
    {
      absl::MutexLock l(&state->mu);
      state->answered = true;
      e = QuorumError("read", 0, n, state->needed, c, state->last_error);
      cb = std::move(state->done);
    }
    cb(e);
    return;
  }
  // Only as many replicas as the consistency needs; Ask adds one for each
  // that fails, and the timer one more if the answers are late.
  std::vector<size_t> first;
  {
    absl::MutexLock l(&state->mu);
    while (first.size() < static_cast<size_t>(state->needed)) {
      std::optional<size_t> i = state->NextLocked();
      if (!i) break;
      first.push_back(*i);
    }
  }
  for (size_t i : first) Ask(state, i);
  if (options_.timer == nullptr) return;
  {
    absl::MutexLock l(&state->mu);
    if (state->answered || state->asked == state->replicas.size()) return;
  }
  options_.timer->After(options_.speculate_after, [this, state] {
    std::optional<size_t> next;
    {
      absl::MutexLock l(&state->mu);
      next = state->NextLocked();
    }
    if (next) {
      speculative_reads_.fetch_add(1, std::memory_order_relaxed);
      Ask(state, *next);
    }
  });
}

void Coordinator::Ask(const std::shared_ptr<ReadState>& state, size_t i) {
  auto on_answer = [this, state, i](absl::StatusOr<std::optional<storage::Record>> r) {
    ReadCallback done;  // set when this answer decides the read
    absl::StatusOr<ReadResult> result;
    std::vector<dht::Contact> stale;
    std::optional<storage::Record> repair;
    std::optional<size_t> next;  // the replica asked in place of a failed one
    {
      absl::MutexLock l(&state->mu);
      --state->pending;
      if (r.ok()) {
        state->answers[i].answered = true;
        state->answers[i].record = *std::move(r);
        ++state->responses;
      } else {
        ++state->failures;
        state->last_error = r.status();
        next = state->NextLocked();
      }
      const int total = state->total;
      // Read repair is decided once every asked replica has answered, before
      // the newest record may be moved out for the caller below. (With none
      // pending and none asked in place of a failure, no more will be asked:
      // the read has its answer, or every replica was asked.)
      const bool all_in = state->pending == 0;
      if (all_in) repair = state->RepairsLocked(stale);
      if (!state->answered && state->responses >= state->needed) {
        state->answered = true;
        done = std::move(state->done);
        result = ReadResult{state->NewestLocked(/*take=*/all_in),
                            static_cast<uint32_t>(state->responses)};
      } else if (!state->answered && state->failures > total - state->needed) {
        state->answered = true;
        done = std::move(state->done);
        result = QuorumError("read", state->responses, total, state->needed, state->consistency,
                             state->last_error);
      }
    }
    if (done) done(std::move(result));
    if (repair) Repair(state->key, *repair, stale);
    if (next) Ask(state, *next);
  };
  if (state->replicas[i].id == options_.self) {
    if (options_.local_reads) {
      if (absl::Status s = options_.local_reads(); !s.ok()) return on_answer(s);
    }
    on_answer(local_->Read(state->key));
  } else {
    transport_->Fetch(state->replicas[i], state->key,
                      [this, on_answer = std::move(on_answer)](
                          absl::StatusOr<std::optional<storage::Record>> r) mutable {
                        // A forged version must not win the read, nor be
                        // repaired onto the other replicas.
                        if (options_.hlc != nullptr && r.ok() && *r) {
                          if (absl::Status s = options_.hlc->Admit((*r)->version); !s.ok()) r = s;
                        }
                        on_answer(std::move(r));
                      });
  }
}

void Coordinator::Repair(const std::string& key, const storage::Record& newest,
                         const std::vector<dht::Contact>& stale) {
  for (const dht::Contact& replica : stale) {
    read_repairs_.fetch_add(1, std::memory_order_relaxed);
    if (replica.id == options_.self) {
      OnStorage([this, key, newest] { (void)local_->Apply(key, newest); });
    } else {
      transport_->Store(replica, key, newest, [](absl::Status) {});
    }
  }
}

namespace {

size_t OutcomeSlot(Coordinator::Op op, Consistency c, Coordinator::Outcome outcome) {
  return (static_cast<size_t>(op) * 3 + static_cast<size_t>(c)) * 4 + static_cast<size_t>(outcome);
}

}  // namespace

void Coordinator::CountOutcome(Op op, Consistency c, const absl::Status& s) {
  Outcome outcome = Outcome::kError;
  if (s.ok()) {
    outcome = Outcome::kOk;
  } else if (s.code() == absl::StatusCode::kUnavailable) {
    outcome = Outcome::kUnavailable;
  } else if (s.code() == absl::StatusCode::kResourceExhausted) {
    outcome = Outcome::kRefused;
  }
  outcomes_[OutcomeSlot(op, c, outcome)].fetch_add(1, std::memory_order_relaxed);
}

std::vector<Coordinator::OutcomeCount> Coordinator::Outcomes() const {
  std::vector<OutcomeCount> out;
  for (Op op : {Op::kWrite, Op::kRead}) {
    for (Consistency c : {Consistency::kOne, Consistency::kQuorum, Consistency::kAll}) {
      for (Outcome o : {Outcome::kOk, Outcome::kUnavailable, Outcome::kRefused, Outcome::kError}) {
        out.push_back({op, c, o, outcomes_[OutcomeSlot(op, c, o)].load(std::memory_order_relaxed)});
      }
    }
  }
  return out;
}

uint64_t Coordinator::read_repairs() const { return read_repairs_.load(std::memory_order_relaxed); }

uint64_t Coordinator::speculative_reads() const {
  return speculative_reads_.load(std::memory_order_relaxed);
}

}  // namespace kv::replication
