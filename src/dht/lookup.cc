#include "src/dht/lookup.h"

#include <cassert>
#include <utility>

namespace kv::dht {

Lookup::Lookup(NodeId self, NodeId target, size_t k, size_t alpha, std::vector<Contact> seeds)
    : self_(self), target_(target), k_(k), alpha_(alpha) {
  assert(k_ >= 1 && alpha_ >= 1);
  for (const Contact& c : seeds) AddCandidate(c, 1);
}

void Lookup::AddCandidate(const Contact& c, int hop) {
  if (c.id == self_) return;
  auto [it, inserted] =
      candidates_.try_emplace(c.id ^ target_, Candidate{c, State::kNotAsked, hop});
  if (!inserted && hop < it->second.hop) it->second.hop = hop;
}

Lookup::Candidate* Lookup::FindCandidate(const NodeId& id) {
  auto it = candidates_.find(id ^ target_);
  return it == candidates_.end() ? nullptr : &it->second;
}

std::vector<Contact> Lookup::NextRequests() {
  std::vector<Contact> out;
  size_t considered = 0;  // non-failed candidates seen so far, closest first
  for (auto& [distance, cand] : candidates_) {
    if (in_flight_ >= alpha_ || considered >= k_) break;
    if (cand.state == State::kFailed) continue;
    ++considered;
    if (cand.state != State::kNotAsked) continue;
    cand.state = State::kInFlight;
    ++in_flight_;
    ++requests_sent_;
    out.push_back(cand.contact);
  }
  return out;
}

void Lookup::OnResponse(const NodeId& from, const std::vector<Contact>& found) {
  Candidate* cand = FindCandidate(from);
  if (cand == nullptr || cand->state != State::kInFlight) return;
  cand->state = State::kAnswered;
  --in_flight_;
  const int hop = cand->hop + 1;
  for (const Contact& c : found) AddCandidate(c, hop);
}

void Lookup::OnFailure(const NodeId& from) {
  Candidate* cand = FindCandidate(from);
  if (cand == nullptr || cand->state != State::kInFlight) return;
  cand->state = State::kFailed;
  --in_flight_;
}

bool Lookup::Done() const {
  size_t considered = 0;
  for (const auto& [distance, cand] : candidates_) {
    if (considered >= k_) break;
    if (cand.state == State::kFailed) continue;
    ++considered;
    if (cand.state != State::kAnswered) return false;
  }
  // Every one of the (up to) k closest non-failed candidates answered.
  return true;
}

std::vector<Contact> Lookup::Result() const {
  std::vector<Contact> out;
  for (const auto& [distance, cand] : candidates_) {
    if (out.size() >= k_) break;
    if (cand.state == State::kAnswered) out.push_back(cand.contact);
  }
  return out;
}

int Lookup::Hops() const {
  for (const auto& [distance, cand] : candidates_) {
    if (cand.state == State::kAnswered) return cand.hop;
  }
  return 0;
}

}  // namespace kv::dht
