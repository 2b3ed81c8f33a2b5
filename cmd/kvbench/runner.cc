#include "cmd/kvbench/runner.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "cmd/common/client_tls_flags.h"
#include "cmd/kvbench/schedule.h"
#include "cmd/kvbench/targets.h"
#include "cmd/kvbench/workload.h"
#include "src/client/owner_router.h"

namespace kv::bench {

namespace {

using Clock = std::chrono::steady_clock;

// What every worker reads; const during the run except `measured_issued`.
struct Plan {
  const Options& options;
  KeyChooser keys;
  std::string value;
  Clock::time_point start;                   // the load's start: --rate schedules count from it
  Clock::time_point measure_start;           // end of warm-up
  Clock::time_point stop_at;                 // no new requests after this (duration runs)
  std::atomic<uint64_t> measured_issued{0};  // op-count runs: requests started after warm-up
};

// --route owner: which connection serves a key. The stubs of member m are
// stubs[lane * members + m], one per --channels lane.
template <typename T>
struct OwnerRoutes {
  client::OwnerRouter router;
  std::vector<typename T::Stub*> stubs;
  size_t members = 0;

  typename T::Stub* For(std::string_view key, size_t lane) const {
    return stubs[lane * members + router.Pick(key)];
  }
};

// Live counts for the progress line: one writer (its worker), any readers.
struct alignas(64) LiveCounts {
  std::atomic<uint64_t> done{0};
  std::atomic<uint64_t> errors{0};
};

// One thread, one completion queue, a fixed set of calls it keeps in flight.
template <typename T>
class Worker {
 public:
  // `stubs[i]` serves the worker's i-th call, unless `routes` is given
  // (--route owner): then each request of that call goes to its key's owner
  // over connection lane `lanes[i]`. Stubs and routes are owned by the
  // caller and outlive the worker.
  // `schedule` paces a --rate run and is unused otherwise.
  Worker(Plan* plan, std::vector<typename T::Stub*> stubs, std::vector<size_t> lanes,
         const OwnerRoutes<T>* routes, uint64_t seed, LiveCounts* live, Schedule schedule)
      : plan_(plan),
        rng_(seed),
        live_(live),
        schedule_(schedule),
        routes_(routes),
        calls_(stubs.size()) {
    for (size_t i = 0; i < stubs.size(); ++i) {
      Call& c = calls_[i];
      c.stub = stubs[i];
      c.lane = lanes[i];
      T::InitRead(&c.read_req, plan_->options.consistency, plan_->options.batch);
      T::InitWrite(&c.write_req, plan_->value, plan_->options.consistency, plan_->options.batch);
    }
  }

  // The thread body: returns when every call has finished.
  void Run() {
    if (plan_->options.rate > 0) {
      RunOpenLoop();
    } else {
      RunClosedLoop();
    }
    cq_.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  const OpStats& read() const { return read_; }
  const OpStats& write() const { return write_; }
  // When the last measured answer arrived; nullopt if none did.
  std::optional<Clock::time_point> last_answer() const { return last_answer_; }
  // --rate runs: sent ops and send lag, and when the last measured request
  // was sent (nullopt if none was).
  const RateStats& rate() const { return rate_; }
  std::optional<Clock::time_point> last_send() const { return last_send_; }

 private:
  struct Call {
    typename T::Stub* stub = nullptr;
    size_t lane = 0;  // --route owner: which of a member's connections this call uses
    bool is_read = false;
    bool measured = false;      // due after warm-up
    Clock::time_point started;  // latency counts from here: the due time in a --rate run
    std::optional<grpc::ClientContext> ctx;  // a context serves one call only
    grpc::Status status;
    typename T::ReadRequest read_req;
    typename T::ReadResponse read_resp;
    typename T::WriteRequest write_req;
    typename T::WriteResponse write_resp;
    std::unique_ptr<grpc::ClientAsyncResponseReader<typename T::ReadResponse>> read_rpc;
    std::unique_ptr<grpc::ClientAsyncResponseReader<typename T::WriteResponse>> write_rpc;
  };

  // Closed loop: every call starts its next request as soon as it is answered.
  void RunClosedLoop() {
    size_t in_flight = 0;
    for (Call& c : calls_) in_flight += Start(&c, std::nullopt) ? 1 : 0;
    while (in_flight > 0) {
      void* tag = nullptr;
      bool ok = false;
      if (!cq_.Next(&tag, &ok)) break;
      Call* c = static_cast<Call*>(tag);
      Finish(c);
      if (!Start(c, std::nullopt)) --in_flight;
    }
  }

  // Open loop (--rate): requests go out at their due times on an idle call;
  // when every call is busy, due requests wait for one (and that wait counts
  // in their latency). The thread sleeps in the completion queue until the
  // next request is due or an answer arrives.
  void RunOpenLoop() {
    std::vector<Call*> idle;
    for (Call& c : calls_) idle.push_back(&c);
    size_t in_flight = 0;
    uint64_t next = 0;  // this worker's next request in the schedule
    bool sending = true;
    while (true) {
      Clock::time_point due = plan_->start + schedule_.DueAt(next);
      Clock::time_point now = Clock::now();
      while (sending && !idle.empty() && due <= now) {
        if (!Start(idle.back(), due)) {
          sending = false;
          break;
        }
        idle.pop_back();
        ++in_flight;
        due = plan_->start + schedule_.DueAt(++next);
        now = Clock::now();
      }
      if (plan_->options.ops == 0 && due >= plan_->stop_at) sending = false;
      if (!sending && in_flight == 0) break;
      void* tag = nullptr;
      bool ok = false;
      const auto status = sending && !idle.empty()
                              ? WaitUntil(due, &tag, &ok)
                              : cq_.AsyncNext(&tag, &ok, gpr_inf_future(GPR_CLOCK_MONOTONIC));
      if (status == grpc::CompletionQueue::SHUTDOWN) break;
      if (status != grpc::CompletionQueue::GOT_EVENT) continue;  // a request is due
      Call* c = static_cast<Call*>(tag);
      Finish(c);
      idle.push_back(c);
      --in_flight;
    }
  }

  // Waits for an answer, or until about `due`. gRPC's completion queue wakes
  // at whole milliseconds only, which would send requests 0.5 ms late on
  // average; so it sleeps in the queue until 1 ms before `due`, and covers the
  // rest with short sleeps between non-blocking polls (kFineStep bounds how
  // late an answer is noticed there).
  grpc::CompletionQueue::NextStatus WaitUntil(Clock::time_point due, void** tag, bool* ok) {
    constexpr auto kCoarseEarly = std::chrono::milliseconds(1);
    constexpr auto kFineStep = std::chrono::microseconds(100);
    const auto wait = due - Clock::now();
    if (wait > kCoarseEarly) {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait - kCoarseEarly);
      return cq_.AsyncNext(tag, ok,
                           gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                        gpr_time_from_nanos(ns.count(), GPR_TIMESPAN)));
    }
    const auto status = cq_.AsyncNext(tag, ok, gpr_time_0(GPR_CLOCK_MONOTONIC));
    if (status != grpc::CompletionQueue::TIMEOUT) return status;
    if (wait > Clock::duration::zero()) {
      std::this_thread::sleep_for(std::min<Clock::duration>(wait, kFineStep));
    }
    return grpc::CompletionQueue::TIMEOUT;
  }

  // Starts the next request on `c`: now in a closed loop, or the one due at
  // `due` in a --rate run. False when the run has ended.
  bool Start(Call* c, std::optional<Clock::time_point> due) {
    const Options& o = plan_->options;
    const Clock::time_point now = Clock::now();
    c->measured = due.value_or(now) >= plan_->measure_start;
    if (o.ops == 0) {
      if (now >= plan_->stop_at) return false;
    } else if (c->measured &&
               plan_->measured_issued.fetch_add(o.batch, std::memory_order_relaxed) >= o.ops) {
      return false;
    }
    c->is_read = rng_.NextDouble() < o.read_ratio;
    auto next_key = [&](std::string* k) { FormatKey(plan_->keys.Next(rng_), o.key_size, k); };
    c->read_rpc.reset();
    c->write_rpc.reset();
    c->ctx.reset();
    c->ctx.emplace();
    c->ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(o.timeout));
    c->started = due.value_or(now);
    if (due && c->measured) {
      rate_.sent_ops += o.batch;
      const auto lag = std::chrono::duration_cast<std::chrono::microseconds>(now - *due);
      rate_.send_lag_us.Record(static_cast<uint64_t>(lag.count()));
      last_send_ = now;
    }
    if (c->is_read) {
      T::ForEachKey(&c->read_req, next_key);
      PointAtOwner(c, c->read_req);
      c->read_rpc = T::StartRead(c->stub, &*c->ctx, c->read_req, &cq_);
      c->read_rpc->Finish(&c->read_resp, &c->status, c);
    } else {
      T::ForEachKey(&c->write_req, next_key);
      PointAtOwner(c, c->write_req);
      c->write_rpc = T::StartWrite(c->stub, &*c->ctx, c->write_req, &cq_);
      c->write_rpc->Finish(&c->write_resp, &c->status, c);
    }
    return true;
  }

  // --route owner: points `c` at the owner of the request's key. Only
  // targets with one key per request can be routed (flags.cc refuses the rest).
  template <typename Req>
  void PointAtOwner(Call* c, Req& req) {
    if constexpr (requires { T::MutableKey(&req); }) {
      if (routes_) c->stub = routes_->For(*T::MutableKey(&req), c->lane);
    }
  }

  // Counts the answer `c` received: every op it carried (one, or --batch).
  void Finish(Call* c) {
    const Clock::time_point now = Clock::now();
    const bool ok = c->status.ok();
    const uint64_t ops = static_cast<uint64_t>(plan_->options.batch);
    const uint64_t failed_ops =
        !ok ? ops
            : static_cast<uint64_t>(c->is_read ? T::FailedOps(c->read_resp)
                                               : T::FailedOps(c->write_resp));
    done_ += ops;
    errors_ += failed_ops;
    live_->done.store(done_, std::memory_order_relaxed);
    live_->errors.store(errors_, std::memory_order_relaxed);
    if (!c->measured) return;
    last_answer_ = now;
    OpStats& s = c->is_read ? read_ : write_;
    if (!ok) {
      const int code = static_cast<int>(c->status.error_code());
      s.errors[code >= 0 && code < kNumStatusCodes ? code : 2 /* UNKNOWN */] += ops;
      return;
    }
    if (failed_ops > 0) s.errors[2 /* UNKNOWN: an op inside a batch */] += failed_ops;
    s.ok += ops - failed_ops;
    if (c->is_read) s.misses += static_cast<uint64_t>(T::Misses(c->read_resp));
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - c->started);
    s.latency_us.Record(static_cast<uint64_t>(us.count()));
  }

  Plan* const plan_;
  Rng rng_;
  LiveCounts* const live_;
  const Schedule schedule_;
  const OwnerRoutes<T>* const routes_;  // nullptr unless --route owner
  grpc::CompletionQueue cq_;
  std::vector<Call> calls_;
  OpStats read_;
  OpStats write_;
  uint64_t done_ = 0;
  uint64_t errors_ = 0;
  std::optional<Clock::time_point> last_answer_;
  RateStats rate_;  // --rate runs: sent_ops and send_lag_us
  std::optional<Clock::time_point> last_send_;
};

// Channel i * addrs.size() + a is lane i of address a.
std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(const Options& o,
                                                         const std::vector<std::string>& addrs) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  const std::shared_ptr<grpc::ChannelCredentials> credentials =
      cmd::ClientCredentialsOrDie("kvbench", o.tls);
  for (int i = 0; i < o.channels; ++i) {
    for (const std::string& addr : addrs) {
      grpc::ChannelArguments args;
      // Distinct arguments keep gRPC from sharing one connection among channels.
      args.SetInt("grpc.channel_id", i);
      args.SetMaxReceiveMessageSize(-1);
      channels.push_back(grpc::CreateCustomChannel(addr, credentials, args));
    }
  }
  return channels;
}

// The measured window of a --rate run and the ops due in it: the duration
// after warm-up, or for an --ops run the span up to the last measured send
// plus one interval (so a run that kept up shows exactly the target rate).
void SetRateWindow(const Options& o, const Plan& plan, Clock::time_point last_send,
                   RateStats* rate) {
  rate->target_ops_per_sec = o.rate;
  if (o.ops > 0) {
    rate->due_ops = o.ops;
    const double interval = o.batch / o.rate;
    rate->window_sec =
        std::chrono::duration<double>(last_send - plan.measure_start).count() + interval;
    return;
  }
  rate->window_sec = absl::ToDoubleSeconds(o.duration);
  const auto from = plan.measure_start - plan.start;
  const auto to = plan.stop_at - plan.start;
  for (int t = 0; t < o.threads; ++t) {
    rate->due_ops += Schedule(o.rate / o.batch, o.threads, t).DueIn(from, to) * o.batch;
  }
}

template <typename T>
RunResult Run(const Options& o, const std::vector<dht::Contact>& members,
              const std::function<void(const Progress&)>& on_progress) {
  std::vector<std::string> addrs = o.addrs;
  std::optional<OwnerRoutes<T>> routes;
  if (o.route == Route::kOwner) {
    std::vector<dht::NodeId> ids;
    addrs.clear();
    for (const dht::Contact& m : members) {
      ids.push_back(m.id);
      addrs.push_back(m.address);
    }
    routes.emplace(
        OwnerRoutes<T>{.router = client::OwnerRouter(std::move(ids)), .members = members.size()});
  }
  std::vector<std::unique_ptr<typename T::Stub>> stubs;
  for (auto& channel : MakeChannels(o, addrs)) stubs.push_back(T::NewStub(channel));
  if (routes) {
    for (const auto& stub : stubs) routes->stubs.push_back(stub.get());
  }

  Plan plan{.options = o,
            .keys = KeyChooser(o.dist, o.keys, o.zipf_theta),
            .value = MakeValue(o.value_size, o.seed)};
  const Clock::time_point start = Clock::now();
  plan.start = start;
  plan.measure_start = start + absl::ToChronoNanoseconds(o.warmup);
  plan.stop_at = o.ops == 0 ? plan.measure_start + absl::ToChronoNanoseconds(o.duration)
                            : Clock::time_point::max();

  // Call g (over all workers) uses connection g % connections, so every
  // connection carries an equal share whatever the thread count.
  std::vector<LiveCounts> live(static_cast<size_t>(o.threads));
  std::vector<std::unique_ptr<Worker<T>>> workers;
  int next_call = 0;
  for (int t = 0; t < o.threads; ++t) {
    const int calls = o.clients / o.threads + (t < o.clients % o.threads ? 1 : 0);
    std::vector<typename T::Stub*> mine;
    std::vector<size_t> lanes;
    for (int i = 0; i < calls; ++i, ++next_call) {
      mine.push_back(stubs[static_cast<size_t>(next_call) % stubs.size()].get());
      lanes.push_back(static_cast<size_t>(next_call % o.channels));
    }
    const uint64_t seed = Rng(o.seed + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(t)).Next();
    // A --rate schedule counts requests: each carries --batch ops.
    const Schedule schedule(o.rate > 0 ? o.rate / o.batch : 1, o.threads, t);
    workers.push_back(std::make_unique<Worker<T>>(&plan, std::move(mine), std::move(lanes),
                                                  routes ? &*routes : nullptr, seed, &live[t],
                                                  schedule));
  }

  absl::Mutex mu;
  int finished = 0;  // guarded by mu
  std::vector<std::thread> threads;
  for (auto& w : workers) {
    threads.emplace_back([&mu, &finished, worker = w.get()] {
      worker->Run();
      absl::MutexLock lock(&mu);
      ++finished;
    });
  }
  const auto all_finished = [&] { return finished == o.threads; };
  while (true) {
    bool done = false;
    {
      absl::MutexLock lock(&mu);
      done = mu.AwaitWithTimeout(absl::Condition(&all_finished), absl::Seconds(1));
    }
    if (done) break;
    const Clock::time_point now = Clock::now();
    Progress p{.elapsed = absl::FromChrono(now - start), .warming_up = now < plan.measure_start};
    for (const LiveCounts& l : live) {
      p.done += l.done.load(std::memory_order_relaxed);
      p.errors += l.errors.load(std::memory_order_relaxed);
    }
    on_progress(p);
  }
  for (std::thread& t : threads) t.join();

  RunResult r;
  Clock::time_point last = plan.measure_start;
  Clock::time_point last_send = plan.measure_start;
  for (const auto& w : workers) {
    r.read.Merge(w->read());
    r.write.Merge(w->write());
    if (w->last_answer() && *w->last_answer() > last) last = *w->last_answer();
    if (w->last_send() && *w->last_send() > last_send) last_send = *w->last_send();
    r.rate.sent_ops += w->rate().sent_ops;
    r.rate.send_lag_us.Merge(w->rate().send_lag_us);
  }
  r.elapsed_sec = std::chrono::duration<double>(last - plan.measure_start).count();
  if (o.rate > 0) SetRateWindow(o, plan, last_send, &r.rate);
  return r;
}

}  // namespace

RunResult RunLoad(const Options& options, const std::vector<dht::Contact>& members,
                  const std::function<void(const Progress&)>& on_progress) {
  if (options.target == Target::kEtcd) return Run<EtcdTarget>(options, members, on_progress);
  if (options.batch > 1) return Run<KvstoreBatchTarget>(options, members, on_progress);
  return Run<KvstoreTarget>(options, members, on_progress);
}

}  // namespace kv::bench
