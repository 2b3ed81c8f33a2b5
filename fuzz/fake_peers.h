// A PeerTransport for fuzzing a node alone: a fixed set of fake peers that
// answer every call at once, on the caller's thread, and the same way each
// time (Store and hints accepted, Fetch finds nothing, FindNode and Join
// name the fake peers, anti-entropy finds nothing to repair). Any other
// address does not answer. No I/O.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/replication/peer_transport.h"

namespace kv::fuzz {

class FakePeers final : public replication::PeerTransport {
 public:
  static constexpr int kPeers = 5;

  // The fake peers: IDs SHA-1("fuzz-peer-<i>"), addresses 10.0.0.<i>:7000.
  static std::vector<dht::Contact> Contacts() {
    std::vector<dht::Contact> out;
    for (int i = 1; i <= kPeers; ++i) {
      out.push_back({dht::NodeId::FromKey(absl::StrCat("fuzz-peer-", i)),
                     absl::StrCat("10.0.0.", i, ":7000")});
    }
    return out;
  }

  void Store(const dht::Contact&, const std::string&, const storage::Record&,
             StoreCallback done) override {
    done(absl::OkStatus());
  }
  void Fetch(const dht::Contact&, const std::string&, FetchCallback done) override {
    done(std::optional<storage::Record>());
  }
  void FindNode(const dht::Contact&, const dht::NodeId&, FindNodeCallback done) override {
    done(Contacts());
  }
  void Ping(const std::string& address, PingCallback done) override {
    std::optional<dht::Contact> c = At(address);
    if (!c) return done(absl::UnavailableError(absl::StrCat("nothing answers at ", address)));
    done(*c);
  }
  void Join(const std::string& address, JoinCallback done) override {
    std::optional<dht::Contact> c = At(address);
    if (!c) return done(absl::UnavailableError(absl::StrCat("nothing answers at ", address)));
    JoinAnswer answer{.contacts = {*c}, .seed_clock = absl::Now()};
    for (const dht::Contact& other : Contacts()) {
      if (other.id != c->id) answer.contacts.push_back(other);
    }
    done(std::move(answer));
  }
  void StoreHint(const dht::Contact&, const dht::NodeId&, const std::string&,
                 const storage::Record&, StoreCallback done) override {
    done(absl::OkStatus());
  }
  void SyncDigest(const dht::Contact&, const replication::Digest&, bool,
                  DigestCallback done) override {
    done(replication::DigestAnswer{.root_matches = true});
  }
  void SyncTree(const dht::Contact&, const std::vector<replication::TreeRange>&,
                TreeCallback done) override {
    done(replication::TreeAnswer{});
  }
  void Reconcile(const dht::Contact&, const std::vector<uint32_t>&, const std::vector<uint32_t>&,
                 const std::vector<replication::KeyVersion>&, ReconcileCallback done) override {
    done(replication::ReconcilePlan{});
  }
  void Leaving(const dht::Contact&, StoreCallback done) override { done(absl::OkStatus()); }

 private:
  static std::optional<dht::Contact> At(const std::string& address) {
    for (const dht::Contact& c : Contacts()) {
      if (c.address == address) return c;
    }
    return std::nullopt;
  }
};

}  // namespace kv::fuzz
