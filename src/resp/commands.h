// The Redis commands kvstore's RESP front door serves (docs/resp.md), on a
// node's narrow client interface (node::ClientApi), independent of sockets:
// the server (server.h) parses commands and sends replies; this runs them.
//
// The rule for what is served: no race may make an acknowledged write be
// lost or overwritten by an older value. Blind writes (SET, DEL's
// tombstones, MSET's independent writes) are served; commands whose effect
// depends on a value read first (INCR, GETSET, SET NX, WATCH/MULTI, ...) are
// refused with an error naming the reason, never emulated racily.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "src/node/api.h"
#include "src/replication/coordinator.h"
#include "src/resp/parser.h"
#include "src/resp/writer.h"
#include "src/security/access_policy.h"

namespace kv::resp {

// One client connection's state, owned by the server, touched only by its
// connection's thread.
struct Session {
  uint64_t id = 0;  // CLIENT ID: unique per server
  Protocol protocol = Protocol::kResp2;
  std::optional<replication::Consistency> consistency;  // nullopt: the node's default
  std::string name;                                     // CLIENT SETNAME
  std::string peer;                                     // "127.0.0.1:40112"
  absl::Time connected_at;
  // TLS: the client certificate the CA verified, if the client presented one.
  std::optional<security::CertificateInfo> cert;
  // Whether commands other than AUTH, HELLO and QUIT may run, and on which
  // keys (grant: null for every key). With an --auth-file a connection
  // starts unauthenticated unless its certificate's CN is listed; without
  // one, every connection may run everything.
  bool authenticated = false;
  const security::Grant* grant = nullptr;
  bool quit = false;  // QUIT / a protocol error: close once the replies are out
};

// What INFO and the CLIENT commands show of the server.
struct ServerFacts {
  std::string version;
  std::string node_id;  // hex
  std::string resp_addr;
  std::function<uint64_t()> connected_clients;  // REQUIRES: set
  std::function<uint64_t()> keys;               // this node's local key count; REQUIRES: set
  absl::Time started = absl::Now();
};

class Commands {
 public:
  // The reply to one command, complete wire bytes in the session's protocol
  // at the time the command was dispatched.
  using Reply = std::function<void(std::string)>;

  // `client`, `admin`, `policy` and facts' functions must outlive this.
  // `admin` (for KVSTORE.LOCATE) may be null: the command then answers an
  // error. `policy` decides who may run what, as for gRPC calls (AUTH takes
  // a token of its --auth-file); null lets every connection run everything.
  // Thread-safe.
  Commands(node::ClientApi* client, ServerFacts facts, node::AdminApi* admin = nullptr,
           const security::AccessPolicy* policy = nullptr);

  // Runs `cmd` for `session` and calls `reply` exactly once, on any thread,
  // possibly before returning. May change `session` (HELLO, SELECT, CLIENT
  // SETNAME, KVSTORE.CONSISTENCY, QUIT) before returning, never later.
  // REQUIRES: cmd is not empty.
  void Run(Session& session, const Command& cmd, Reply reply);

  // The number of commands this front door knows (COMMAND COUNT).
  static size_t Count();

  // The keys `cmd` reads or writes (none for connection and server
  // commands). The server runs a command only once no earlier command of
  // its connection on one of these keys is still running, so that a
  // pipeline reads its own writes, as from Redis. REQUIRES: cmd not empty.
  static std::vector<std::string> Keys(const Command& cmd);

 private:
  node::ClientApi* const client_;
  // The commands without keys (server_commands.cc) and with keys
  // (key_commands.cc), once Run let them through.
  void RunServer(Session& s, const std::string& name, const Command& cmd, Reply reply);
  void RunKey(Session& s, const std::string& name, const Command& cmd, Reply reply);
  // True when `s` may run commands beyond AUTH, HELLO and QUIT; a listed
  // certificate authenticates on first use.
  bool Authenticated(Session& s) const;
  // AUTH [username] token: the token's grant, or false.
  bool Authenticate(Session& s, const std::string& token) const;

  node::AdminApi* const admin_;
  const security::AccessPolicy* const policy_;
  const ServerFacts facts_;
};

}  // namespace kv::resp
