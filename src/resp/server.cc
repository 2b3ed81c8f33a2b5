#include "src/resp/server.h"

#include <array>
#include <deque>
#include <optional>
#include <set>
#include <type_traits>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "asio.hpp"
#include "asio/ssl.hpp"
#include "spdlog/spdlog.h"
#include "src/resp/tls_context.h"

namespace kv::resp {

// What the connections share with the server. Node callbacks may outlive
// the server: they reach a connection only through `gate`, which Stop()
// closes before the io_context goes away.
struct Loop {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor{io};
  // Only the event-loop thread touches these.
  std::set<std::shared_ptr<class ConnectionBase>> conns;
  uint64_t next_id = 1;

  struct Gate {
    absl::Mutex mu;
    bool stopped ABSL_GUARDED_BY(mu) = false;
  };
  std::shared_ptr<Gate> gate = std::make_shared<Gate>();
};

struct Server::Impl {
  Loop loop;
  std::unique_ptr<TlsContexts> tls;  // with ServerOptions::tls
};

class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  virtual ~ConnectionBase() = default;
  virtual void Start(uint64_t id) = 0;
  // Closes the socket now, replies owed or not. Event-loop thread only.
  virtual void Close() = 0;
};

// One client connection over `Stream`: a TCP socket, or a TLS stream on one.
template <typename Stream>
class Connection final : public ConnectionBase {
 public:
  // `tls`: the context `stream` was made with, for a TLS stream (it must
  // outlive the stream).
  Connection(Stream stream, std::shared_ptr<asio::ssl::context> tls, Loop* loop,
             const ServerOptions& options, Commands* commands, std::atomic<uint64_t>* count)
      : tls_(std::move(tls)),
        stream_(std::move(stream)),
        loop_(loop),
        options_(options),
        commands_(commands),
        count_(count),
        parser_(options.limits) {
    count_->fetch_add(1);
  }
  ~Connection() override { count_->fetch_sub(1); }

  void Start(uint64_t id) override {
    session_.id = id;
    session_.connected_at = absl::Now();
    asio::error_code ec;
    const auto remote = Socket().remote_endpoint(ec);
    if (!ec) session_.peer = absl::StrCat(remote.address().to_string(), ":", remote.port());
    Socket().set_option(asio::ip::tcp::no_delay(true), ec);
    if constexpr (kTls) {
      Handshake();
    } else {
      Read();
    }
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    asio::error_code ec;
    Socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    Socket().close(ec);
    if constexpr (kTls) handshake_timer_.cancel();
    loop_->conns.erase(shared_from_this());
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, asio::ip::tcp::socket>;

  std::shared_ptr<Connection> Self() {
    return std::static_pointer_cast<Connection>(shared_from_this());
  }
  auto& Socket() { return stream_.lowest_layer(); }

  // TLS: the handshake, within options_.handshake_timeout; then the
  // client's certificate (verified against the CA) goes to the session.
  void Handshake() {
    handshake_timer_.expires_after(
        std::chrono::microseconds(absl::ToInt64Microseconds(options_.handshake_timeout)));
    handshake_timer_.async_wait([self = Self()](asio::error_code ec) {
      if (!ec && !self->handshaken_) self->Close();
    });
    stream_.async_handshake(asio::ssl::stream_base::server, [self = Self()](asio::error_code ec) {
      self->handshake_timer_.cancel();
      if (ec || self->closed_) return self->Close();  // no TLS, bad certificate, timeout
      self->handshaken_ = true;
      self->session_.cert = PeerCertificate(self->stream_.native_handle());
      self->Read();
    });
  }

  bool Paused() const {
    return pending_.size() >= options_.max_in_flight ||
           out_.size() + writing_.size() >= options_.max_output_bytes;
  }

  void Read() {
    // A held command waits for a running one: read no more until it runs,
    // so that the parser's buffer stays bounded too.
    if (reading_ || closed_ || session_.quit || held_ || Paused()) return;
    reading_ = true;
    stream_.async_read_some(asio::buffer(buf_), [self = Self()](asio::error_code ec, size_t n) {
      self->reading_ = false;
      if (ec) return self->Close();  // EOF, reset or shutdown
      self->parser_.Feed(std::string_view(self->buf_.data(), n));
      self->Process();
    });
  }

  // Runs the commands parsed so far, as far as backpressure allows, then
  // reads more.
  // True while a command still running on this connection touches one of
  // `keys`.
  bool Busy(const std::vector<std::string>& keys) const {
    for (const std::string& k : keys) {
      if (running_keys_.contains(k)) return true;
    }
    return false;
  }

  void Process() {
    if (processing_) return;  // a reply that completed inline, within the loop below
    processing_ = true;
    while (!closed_ && !session_.quit && !Paused()) {
      // A command on a key an earlier one is still writing or reading waits
      // for it (and the commands after it wait too: they run in order).
      if (held_) {
        if (Busy(held_keys_)) break;
        Dispatch(*std::move(held_), std::move(held_keys_));
        held_.reset();
        continue;
      }
      absl::StatusOr<std::optional<Command>> next = parser_.Next();
      if (!next.ok()) {
        // Redis replies to a protocol error, then closes the connection.
        std::string reply;
        Writer(&reply, session_.protocol).Error("ERR " + std::string(next.status().message()));
        session_.quit = true;
        const uint64_t seq = Slot();
        Complete(seq, std::move(reply));
        break;
      }
      if (!next->has_value()) break;
      held_keys_ = Commands::Keys(**next);
      held_ = *std::move(*next);
    }
    processing_ = false;
    Read();
  }

  uint64_t Slot(std::vector<std::string> keys = {}) {
    for (const std::string& k : keys) ++running_keys_[k];
    pending_.push_back({.keys = std::move(keys)});
    return base_ + pending_.size() - 1;
  }

  void Dispatch(const Command& cmd, std::vector<std::string> keys) {
    const uint64_t seq = Slot(std::move(keys));
    std::weak_ptr<Connection> weak = Self();
    std::shared_ptr<Loop::Gate> gate = loop_->gate;
    asio::io_context* io = &loop_->io;
    commands_->Run(session_, cmd, [weak, gate, io, seq](std::string reply) {
      absl::ReaderMutexLock lock(&gate->mu);
      if (gate->stopped) return;
      if (io->get_executor().running_in_this_thread()) {
        if (auto self = weak.lock()) self->Complete(seq, std::move(reply));
        return;
      }
      asio::post(*io, [weak, seq, reply = std::move(reply)]() mutable {
        if (auto self = weak.lock()) self->Complete(seq, std::move(reply));
      });
    });
  }

  // A command's reply is ready: send every reply that is now next in order.
  void Complete(uint64_t seq, std::string reply) {
    if (closed_ || seq < base_) return;
    Pending& p = pending_[seq - base_];
    p.reply = std::move(reply);
    for (const std::string& k : p.keys) {
      if (auto it = running_keys_.find(k); it != running_keys_.end() && --it->second == 0) {
        running_keys_.erase(it);
      }
    }
    p.keys.clear();
    while (!pending_.empty() && pending_.front().reply.has_value()) {
      out_ += *pending_.front().reply;
      pending_.pop_front();
      ++base_;
    }
    Write();
    Process();  // fewer replies owed may lift the backpressure
  }

  void Write() {
    if (closed_ || !writing_.empty()) return;
    if (out_.empty()) {
      if (session_.quit && pending_.empty()) Close();  // QUIT or a protocol error: done
      return;
    }
    std::swap(out_, writing_);
    asio::async_write(stream_, asio::buffer(writing_),
                      [self = Self()](asio::error_code ec, size_t) {
                        self->writing_.clear();
                        if (ec) return self->Close();
                        self->Write();
                        self->Process();
                      });
  }

  const std::shared_ptr<asio::ssl::context> tls_;  // before stream_: it uses it
  Stream stream_;
  Loop* const loop_;
  const ServerOptions& options_;
  Commands* const commands_;
  std::atomic<uint64_t>* const count_;

  std::array<char, 16384> buf_;
  Parser parser_;
  Session session_;
  // The commands dispatched and not yet answered on the wire, in command
  // order; pending_.front() is command number base_.
  struct Pending {
    std::optional<std::string> reply;  // once it completed
    std::vector<std::string> keys;     // while it runs: the keys it touches
  };
  std::deque<Pending> pending_;
  // How many running commands touch each key.
  absl::flat_hash_map<std::string, int> running_keys_;
  // The next command, parsed but waiting for a running one on its keys.
  std::optional<Command> held_;
  std::vector<std::string> held_keys_;
  uint64_t base_ = 0;
  std::string out_;      // replies ready, in order, not yet being written
  std::string writing_;  // the replies async_write is sending
  bool reading_ = false;
  bool closed_ = false;
  bool processing_ = false;  // within Process()
  // TLS only.
  bool handshaken_ = false;
  asio::steady_timer handshake_timer_{stream_.get_executor()};
};

namespace {

absl::StatusOr<asio::ip::tcp::endpoint> Endpoint(const std::string& addr) {
  const size_t colon = addr.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(addr.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--resp-addr ", addr, ": give HOST:PORT, e.g. 127.0.0.1:6380"));
  }
  std::string host = addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  asio::error_code ec;
  const asio::ip::address ip = asio::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--resp-addr ", addr, ": '", host, "' is not an IP address; give one, e.g. 0.0.0.0"));
  }
  return asio::ip::tcp::endpoint(ip, static_cast<uint16_t>(port));
}

}  // namespace

Server::Server(ServerOptions options, Commands* commands)
    : options_(std::move(options)), commands_(commands), impl_(std::make_unique<Impl>()) {}

Server::~Server() { Stop(); }

absl::Status Server::Start() {
  absl::StatusOr<asio::ip::tcp::endpoint> ep = Endpoint(options_.addr);
  if (!ep.ok()) return ep.status();
  if (options_.tls) {
    absl::StatusOr<std::unique_ptr<TlsContexts>> tls = TlsContexts::Create(*options_.tls);
    if (!tls.ok()) return tls.status();
    impl_->tls = *std::move(tls);
  }
  asio::ip::tcp::acceptor& acceptor = impl_->loop.acceptor;
  asio::error_code ec;
  acceptor.open(ep->protocol(), ec);
  if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(*ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    asio::error_code ignored;
    acceptor.close(ignored);
    return absl::FailedPreconditionError(
        absl::StrCat("--resp-addr ", options_.addr, ": cannot listen: ", ec.message()));
  }
  port_ = acceptor.local_endpoint().port();
  Accept();
  thread_ = std::thread([this] { impl_->loop.io.run(); });
  return absl::OkStatus();
}

void Server::Accept() {
  impl_->loop.acceptor.async_accept([this](asio::error_code ec, asio::ip::tcp::socket socket) {
    Loop& loop = impl_->loop;
    if (ec == asio::error::operation_aborted || !loop.acceptor.is_open()) return;
    if (ec) {
      spdlog::warn("--resp-addr: accept failed: {}", ec.message());
    } else if (connections_.load() >= options_.max_connections) {
      asio::error_code ignored;
      if (!impl_->tls) {
        static constexpr char kFull[] = "-ERR max number of clients reached\r\n";
        asio::write(socket, asio::buffer(kFull, sizeof(kFull) - 1), ignored);
      }
      socket.close(ignored);
    } else {
      std::shared_ptr<ConnectionBase> conn;
      if (impl_->tls) {
        using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;
        // The connection keeps the context it was made with alive.
        std::shared_ptr<asio::ssl::context> ctx = impl_->tls->Current();
        conn = std::make_shared<Connection<TlsStream>>(TlsStream(std::move(socket), *ctx), ctx,
                                                       &loop, options_, commands_, &connections_);
      } else {
        conn = std::make_shared<Connection<asio::ip::tcp::socket>>(
            std::move(socket), nullptr, &loop, options_, commands_, &connections_);
      }
      loop.conns.insert(conn);
      conn->Start(loop.next_id++);
    }
    Accept();
  });
}

void Server::Stop() {
  if (!thread_.joinable()) return;
  Loop& loop = impl_->loop;
  {
    absl::MutexLock lock(&loop.gate->mu);
    loop.gate->stopped = true;
  }
  asio::post(loop.io, [&loop] {
    asio::error_code ignored;
    loop.acceptor.close(ignored);
    // Close() erases from the set: iterate over a copy.
    auto conns = loop.conns;
    for (const auto& c : conns) c->Close();
    loop.io.stop();
  });
  thread_.join();
  port_ = 0;
}

}  // namespace kv::resp
