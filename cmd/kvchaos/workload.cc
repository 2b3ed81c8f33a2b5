#include "cmd/kvchaos/workload.h"

#include <deque>
#include <functional>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kv::chaos {

namespace {

// One client thread: a sequential process issuing one operation at a time.
class Client {
 public:
  Client(int index, const RunOptions& options, Nodes& nodes, HistoryWriter& history)
      : index_(index),
        options_(options),
        nodes_(nodes),
        history_(history),
        rng_(options.seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(index)) {}

  int64_t Run(absl::Time end, const std::atomic<bool>& stop) {
    const absl::Duration interval = absl::Seconds(1.0 / options_.rate);
    absl::Time next = absl::Now();
    int64_t done = 0;
    while (!stop.load() && absl::Now() < end) {
      Step();
      ++done;
      // Pacing, not waiting for an outcome: at most `rate` ops per second.
      next = std::max(next + interval, absl::Now());
      absl::SleepFor(std::min(next, end) - absl::Now());
    }
    return done;
  }

 private:
  std::string process() const { return absl::StrCat(index_ + options_.clients * generation_); }
  std::string NextValue() { return absl::StrCat(process(), "-", seq_++); }

  // Records the invocation, runs `call` on a random node, records how it ended.
  Outcome Do(const std::string& f, const std::string& key, std::optional<std::string> value,
             const std::function<Outcome(kvstore::v1::KV::Stub&)>& call) {
    const size_t node = std::uniform_int_distribution<size_t>(0, nodes_.size() - 1)(rng_);
    Event e{.process = process(), .type = "invoke", .f = f, .key = key, .value = value};
    e.node = nodes_.address(node);
    e.time_ns = MonotonicNanos();
    history_.Write(e);
    Outcome o = call(nodes_.kv(node));
    e.time_ns = MonotonicNanos();
    e.type = o.type;
    e.error = o.error;
    e.version = o.version;
    if (f == "read") e.value = o.value;
    history_.Write(e);
    if (o.type == "info") ++generation_;  // the op may still be in flight
    return o;
  }

  Outcome DoPut(const std::string& f, const std::string& key, const std::string& value) {
    return Do(f, key, value, [&](auto& kv) { return Put(kv, key, value, options_.timeout); });
  }
  Outcome DoGet(const std::string& key) {
    return Do("read", key, std::nullopt, [&](auto& kv) { return Get(kv, key, options_.timeout); });
  }
  Outcome DoDelete(const std::string& key) {
    return Do("delete", key, std::nullopt,
              [&](auto& kv) { return Delete(kv, key, options_.timeout); });
  }

  void Step() {
    switch (options_.workload) {
      case Workload::kRegister: {
        const int k = std::uniform_int_distribution<int>(0, options_.keys - 1)(rng_);
        const std::string key = absl::StrCat("reg-", k);
        if (std::bernoulli_distribution(0.5)(rng_)) {
          DoPut("write", key, NextValue());
        } else {
          DoGet(key);
        }
        return;
      }
      case Workload::kSet: {
        const std::string value = NextValue();
        DoPut("add", absl::StrCat("set-", value), value);
        return;
      }
      case Workload::kDelete:
        return DeleteStep();
    }
  }

  // write k -> delete k -> (a while later) read k, interleaved across keys.
  void DeleteStep() {
    if (!to_delete_.empty()) {
      DoDelete(to_delete_);
      to_read_.emplace_back(std::exchange(to_delete_, ""), absl::Now());
      return;
    }
    if (!to_read_.empty() && absl::Now() - to_read_.front().second >= options_.read_back_after) {
      DoGet(to_read_.front().first);
      to_read_.pop_front();
      return;
    }
    const std::string value = NextValue();
    to_delete_ = absl::StrCat("del-", value);
    DoPut("write", to_delete_, value);
  }

  const int index_;
  const RunOptions& options_;
  Nodes& nodes_;
  HistoryWriter& history_;
  std::mt19937_64 rng_;
  int generation_ = 0;
  int64_t seq_ = 0;
  std::string to_delete_;
  std::deque<std::pair<std::string, absl::Time>> to_read_;
};

}  // namespace

int64_t RunWorkload(const RunOptions& options, Nodes& nodes, HistoryWriter& history,
                    const std::atomic<bool>& stop) {
  const absl::Time end = absl::Now() + options.duration;
  std::vector<int64_t> done(options.clients, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < options.clients; ++i) {
    threads.emplace_back([&, i] {
      Client c(i, options, nodes, history);
      done[i] = c.Run(end, stop);
    });
  }
  for (std::thread& t : threads) t.join();
  int64_t total = 0;
  for (int64_t d : done) total += d;
  return total;
}

}  // namespace kv::chaos
