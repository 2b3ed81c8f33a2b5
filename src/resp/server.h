// kvstore's Redis-protocol front door (--resp-addr): a second listener on
// the same node, beside gRPC, that speaks RESP2 and RESP3 to any Redis
// client and runs their commands on the node's client interface
// (commands.h). One event-loop thread (standalone Asio) serves every
// connection: it parses commands as bytes arrive (pipelining), runs them
// (the node answers asynchronously), and sends the replies in command order.
//
// TLS (ServerOptions::tls): every connection handshakes first, with the
// node's certificate; a client certificate is verified against the CA and
// its CN given to the commands (Session::cert), which decide what it may do.
//
// Backpressure: a connection stops being read while it has
// Options::max_in_flight commands without a reply sent, or
// Options::max_output_bytes of replies the client has not read; so a client
// that writes without reading cannot grow the node's memory without bound.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "src/resp/commands.h"

namespace kv::resp {

// The node's TLS files (kvstore --cert-file --key-file --trusted-ca-file).
struct TlsFiles {
  std::string cert_file;
  std::string key_file;
  std::string trusted_ca_file;
  bool client_cert_auth = false;  // clients must present a certificate
  // How often the files are checked; a changed set serves new connections.
  absl::Duration reload_interval = absl::Minutes(1);
};

struct ServerOptions {
  std::string addr;  // host:port to listen on ("127.0.0.1:6380"); port 0 picks one
  ParserLimits limits;
  size_t max_in_flight = 1024;        // commands per connection awaiting a reply
  size_t max_output_bytes = 8 << 20;  // replies per connection not yet written
  size_t max_connections = 10000;     // beyond it new connections are refused
  std::optional<TlsFiles> tls;        // nullopt: plaintext
  // A TLS client that has not finished its handshake by then is dropped.
  absl::Duration handshake_timeout = absl::Seconds(10);
};

// Thread-safe: Start, port, connections and Stop may be called from any
// thread (Stop not concurrently with itself or the destructor).
class Server {
 public:
  // `commands` must outlive the server.
  Server(ServerOptions options, Commands* commands);
  ~Server();  // Stop()

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Listens and starts the event-loop thread. INVALID_ARGUMENT for a
  // malformed address or TLS files that do not load, FAILED_PRECONDITION
  // when it cannot listen (the message names the address and the reason).
  [[nodiscard]] absl::Status Start();
  int port() const { return port_.load(); }
  uint64_t connections() const { return connections_.load(); }

  // Closes the listener and every connection (replies still owed are
  // dropped), then joins the thread. Idempotent.
  void Stop();

 private:
  struct Impl;
  void Accept();  // event-loop thread

  const ServerOptions options_;
  Commands* const commands_;
  std::atomic<int> port_{0};
  std::atomic<uint64_t> connections_{0};
  // After the fields connections use, so that it (and the connections its
  // handlers hold) goes first.
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace kv::resp
