#include "src/sim/network.h"

#include "absl/strings/str_cat.h"

namespace kv::sim {

Network::Network(Options options, util::ManualExecutor* executor, util::ManualClock* clock)
    : options_(options), executor_(executor), clock_(clock), rng_(options.seed) {}

void Network::Attach(const std::string& address, node::PeerApi* node,
                     const util::Clock* node_clock) {
  if (node == nullptr) {
    nodes_.erase(address);
    clocks_.erase(address);
  } else {
    nodes_[address] = node;
    clocks_[address] = node_clock != nullptr ? node_clock : clock_;
  }
}

absl::Time Network::NowAt(const std::string& address) const {
  auto it = clocks_.find(address);
  return it == clocks_.end() ? clock_->Now() : it->second->Now();
}

void Network::Clog(const std::string& from, const std::string& to, absl::Time until) {
  absl::Time& t = clogged_[{from, to}];
  t = std::max(t, until);
}

void Network::Pause(const std::string& address, bool paused) {
  if (paused) {
    parked_.try_emplace(address);
    return;
  }
  auto it = parked_.find(address);
  if (it == parked_.end()) return;
  std::vector<std::function<void()>> waiting = std::move(it->second);
  parked_.erase(it);
  for (auto& deliver : waiting) executor_->Schedule(std::move(deliver));
}

Network::OpCost Network::EndOp(uint64_t op) {
  auto it = ops_.find(op);
  if (it == ops_.end()) return {};
  const OpCost cost = it->second;
  ops_.erase(it);
  return cost;
}

void Network::Send(absl::Duration delay, bool counted, std::function<void()> fn) {
  const util::ManualExecutor::Tag tag = executor_->tag();
  const util::ManualExecutor::Tag next{tag.op, tag.depth + 1};
  if (tag.op != 0) {
    if (auto it = ops_.find(tag.op); it != ops_.end()) {
      it->second.calls += counted;
      it->second.depth = std::max(it->second.depth, next.depth);
    }
  }
  executor_->set_tag(next);
  executor_->After(delay, std::move(fn));
  executor_->set_tag(tag);
}

void Network::Deliver(const std::string& to, std::function<void()> deliver) {
  auto it = parked_.find(to);
  if (it != parked_.end()) return it->second.push_back(std::move(deliver));
  deliver();
}

absl::Duration Network::Delay(const std::string& from, const std::string& to) {
  absl::Duration d = Latency();
  auto it = clogged_.find({from, to});
  if (it != clogged_.end()) {
    const absl::Time now = clock_->Now();
    if (it->second <= now) {
      clogged_.erase(it);
    } else {
      d = std::max(d, it->second - now);
    }
  }
  return d;
}

void Network::Isolate(const std::string& address, bool isolated) {
  if (isolated) {
    isolated_.insert(address);
  } else {
    isolated_.erase(address);
  }
}

bool Network::Reachable(const std::string& from, const std::string& to) const {
  if (cut_.contains({from, to}) || isolated_.contains(from) || isolated_.contains(to)) {
    return false;
  }
  if (groups_.empty()) return true;
  auto a = groups_.find(from), b = groups_.find(to);
  return a == groups_.end() || b == groups_.end() || a->second == b->second;
}

absl::Duration Network::Latency() {
  const int64_t lo = absl::ToInt64Microseconds(options_.latency_min);
  const int64_t hi = std::max(lo, absl::ToInt64Microseconds(options_.latency_max));
  return absl::Microseconds(std::uniform_int_distribution<int64_t>(lo, hi)(rng_));
}

bool Network::Lost() {
  return options_.loss > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < options_.loss;
}

void Network::Record(absl::string_view from, absl::string_view arrow, absl::string_view to,
                     absl::string_view what) {
  // FNV-1a over the time it was sent and the event: fixed across runs,
  // processes and machines (unlike absl's hashes, which are seeded per
  // process). Hashed piece by piece: no string is built per message.
  const int64_t micros = absl::ToUnixMicros(clock_->Now());
  auto mix = [this](absl::string_view piece) {
    for (unsigned char c : piece) trace_hash_ = (trace_hash_ ^ c) * 1099511628211ull;
  };
  char digits[24];
  const int n = std::snprintf(digits, sizeof(digits), "%lld", static_cast<long long>(micros));
  mix(absl::string_view(digits, static_cast<size_t>(n)));
  for (absl::string_view piece : {absl::string_view(" "), from, arrow, to}) mix(piece);
  if (!what.empty()) {
    mix(" ");
    mix(what);
  }
  mix("\n");
  if (trace_file_ != nullptr) {
    std::fprintf(trace_file_, "%s %.*s%.*s%.*s%s%.*s\n", digits, static_cast<int>(from.size()),
                 from.data(), static_cast<int>(arrow.size()), arrow.data(),
                 static_cast<int>(to.size()), to.data(), what.empty() ? "" : " ",
                 static_cast<int>(what.size()), what.data());
  }
  ++messages_;
}

void Network::Call(const std::string& from, const std::string& to, absl::string_view what,
                   std::function<void(node::PeerApi*)> call, std::function<void()> fail,
                   absl::Duration timeout) {
  Record(from, " -> ", to, what);
  const bool counted = what != "Beat";  // heartbeats are no request's cost
  if (counted && !watched_.empty() && executor_->tag().op != 0 && watched_.contains(to)) {
    ++watched_calls_;
    last_watched_call_ = clock_->Now();
  }
  if (Lost() || !Reachable(from, to)) return Send(timeout, counted, std::move(fail));
  Send(Delay(from, to), counted,
       [this, from, to, call = std::move(call), fail = std::move(fail), timeout]() mutable {
         Deliver(to, [this, from, to, call = std::move(call), fail = std::move(fail), timeout] {
           // Cut or crashed while the message was on its way (or parked).
           auto it = nodes_.find(to);
           if (it == nodes_.end() || !Reachable(from, to)) {
             return executor_->After(timeout, std::move(fail));
           }
           call(it->second);
         });
       });
}

void Network::Answer(const std::string& from, const std::string& to, std::function<void()> answer,
                     std::function<void()> fail, absl::Duration timeout) {
  Record(from, " => ", to, "");
  if (Lost() || !Reachable(from, to)) return Send(timeout, false, std::move(fail));
  Send(Delay(from, to), false,
       [this, to, answer = std::move(answer)]() mutable { Deliver(to, std::move(answer)); });
}

}  // namespace kv::sim
