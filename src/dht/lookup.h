// Iterative Kademlia FIND_NODE as a pure state machine.
//
// The caller owns the I/O: it sends FIND_NODE(target) to each contact returned by
// NextRequests(), reports every answer with OnResponse() and every error or timeout with
// OnFailure(), and calls NextRequests() again after each report, until Done().
//
//   Lookup lookup(self, target, k, alpha, table.Closest(target, k));
//   for (auto c : lookup.NextRequests()) Send(c);
//   ...on answer:  lookup.OnResponse(from, found);  send lookup.NextRequests()
//   ...on failure: lookup.OnFailure(from);          send lookup.NextRequests()
//   ...when lookup.Done(): use lookup.Result()
//
// Termination is strict: the lookup keeps asking until the k closest non-failed contacts
// it knows of have all answered, so Result() is exactly those contacts.
//
// Thread-safety: not thread-safe; callers synchronize.

#ifndef KV_SRC_DHT_LOOKUP_H_
#define KV_SRC_DHT_LOOKUP_H_

#include <cstddef>
#include <map>
#include <vector>

#include "src/dht/node_id.h"

namespace kv::dht {

class Lookup {
 public:
  // seeds: initial contacts (usually the routing table's k closest to target); duplicates
  // and `self` are dropped. `self` is never queried or returned. k: result size; alpha:
  // max requests in flight. REQUIRES: k >= 1, alpha >= 1.
  Lookup(NodeId self, NodeId target, size_t k, size_t alpha, std::vector<Contact> seeds);

  // Contacts to send FIND_NODE(target) to now; marks them in flight. Picks the closest
  // not-yet-asked contacts among the k closest non-failed ones, keeping at most alpha in
  // flight. Call after construction and after every OnResponse/OnFailure. Returns empty
  // when nothing more should be sent right now (Done(), or waiting for answers).
  std::vector<Contact> NextRequests();

  // `from` answered with `found` (its k closest to target). New contacts (not self, not
  // seen before) become candidates one hop further than `from`. Ignored unless `from` is
  // in flight (e.g. a late answer after OnFailure).
  void OnResponse(const NodeId& from, const std::vector<Contact>& found);

  // `from` failed or timed out; it is excluded from the result and never asked again.
  // Ignored unless `from` is in flight.
  void OnFailure(const NodeId& from);

  // True when the k closest non-failed candidates have all answered (or nothing is left
  // to ask and nothing is in flight). Requests still in flight then no longer matter.
  bool Done() const;

  // Up to k contacts that answered, closest to target first. Final once Done().
  std::vector<Contact> Result() const;

  // Hops to reach the closest result: a seed is hop 1, a contact learned from a hop-h
  // contact is hop h+1 (the smallest such h if learned several times). 0 if there is no
  // result.
  int Hops() const;

  // Number of contacts returned by NextRequests() so far.
  int RequestsSent() const { return requests_sent_; }

  // Number of requests sent and not yet answered or failed.
  size_t InFlight() const { return in_flight_; }

  const NodeId& target() const { return target_; }

 private:
  enum class State { kNotAsked, kInFlight, kAnswered, kFailed };
  struct Candidate {
    Contact contact;
    State state = State::kNotAsked;
    int hop = 1;
  };

  // Adds `c` as a candidate at `hop`, or lowers the hop of a known one.
  void AddCandidate(const Contact& c, int hop);
  // The candidate `id`, or nullptr.
  Candidate* FindCandidate(const NodeId& id);

  // Const after construction.
  const NodeId self_;
  const NodeId target_;
  const size_t k_;
  const size_t alpha_;

  // Keyed by XOR distance to target_: iteration order is closest first.
  std::map<NodeId, Candidate> candidates_;
  size_t in_flight_ = 0;
  int requests_sent_ = 0;
};

}  // namespace kv::dht

#endif  // KV_SRC_DHT_LOOKUP_H_
