#include "src/sim/network.h"

#include "absl/strings/str_cat.h"

namespace kv::sim {

Network::Network(Options options, util::ManualExecutor* executor, util::ManualClock* clock)
    : options_(options), executor_(executor), clock_(clock), rng_(options.seed) {}

void Network::Attach(const std::string& address, node::PeerApi* node) {
  if (node == nullptr) {
    nodes_.erase(address);
  } else {
    nodes_[address] = node;
  }
}

void Network::Isolate(const std::string& address, bool isolated) {
  if (isolated) {
    isolated_.insert(address);
  } else {
    isolated_.erase(address);
  }
}

bool Network::Reachable(const std::string& from, const std::string& to) const {
  return !cut_.contains({from, to}) && !isolated_.contains(from) && !isolated_.contains(to);
}

absl::Duration Network::Latency() {
  const int64_t lo = absl::ToInt64Microseconds(options_.latency_min);
  const int64_t hi = std::max(lo, absl::ToInt64Microseconds(options_.latency_max));
  return absl::Microseconds(std::uniform_int_distribution<int64_t>(lo, hi)(rng_));
}

bool Network::Lost() {
  return options_.loss > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < options_.loss;
}

void Network::Record(absl::string_view event) {
  // FNV-1a over the event and the time it was sent: fixed across runs,
  // processes and machines (unlike absl's hashes, which are seeded per
  // process).
  const std::string line = absl::StrCat(absl::ToUnixMicros(clock_->Now()), " ", event, "\n");
  for (unsigned char c : line) trace_hash_ = (trace_hash_ ^ c) * 1099511628211ull;
  ++messages_;
}

void Network::Call(const std::string& from, const std::string& to, absl::string_view what,
                   std::function<void(node::PeerApi*)> call, std::function<void()> fail,
                   absl::Duration timeout) {
  Record(absl::StrCat(from, " -> ", to, " ", what));
  if (Lost() || !Reachable(from, to)) return executor_->After(timeout, std::move(fail));
  executor_->After(Latency(), [this, from, to, call = std::move(call), fail = std::move(fail),
                               timeout]() mutable {
    // Cut or crashed while the message was on its way.
    auto it = nodes_.find(to);
    if (it == nodes_.end() || !Reachable(from, to)) {
      return executor_->After(timeout, std::move(fail));
    }
    call(it->second);
  });
}

void Network::Answer(const std::string& from, const std::string& to, std::function<void()> answer,
                     std::function<void()> fail, absl::Duration timeout) {
  Record(absl::StrCat(from, " => ", to));
  if (Lost() || !Reachable(from, to)) return executor_->After(timeout, std::move(fail));
  executor_->After(Latency(), std::move(answer));
}

}  // namespace kv::sim
