// The process's HTTP endpoint for operators and Prometheus, on civetweb:
//   GET /metrics  the metrics in the Prometheus text format (0.0.4)
//   GET /healthz  200 "ok" while the process lives (liveness)
//   GET /readyz   200 "ready" when the caller says so, else 503 and why
// plus any path the caller adds with Handle() (e.g. "/" for a status page).
// Unknown paths get 404; any method other than GET gets 405. Plain HTTP,
// IPv4 only, no keep-alive; meant for a loopback or cluster-internal address.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/collectable.h"

struct mg_context;
struct mg_connection;

namespace kv::metrics {

// What a handler sees of a request. Valid for the duration of the call.
struct Request {
  std::string method;  // "GET"; other methods never reach a handler (405)
  std::string path;    // decoded and normalized, without the query: "/readyz"
  std::string query;   // after '?', undecoded; empty if none
};

// A handler's answer; the server adds Content-Length and Connection: close.
struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Runs on one of the server's threads, possibly concurrently with itself and
// other handlers: it must be thread-safe and should answer quickly (it holds a
// server thread). An exception it throws becomes a 500.
using Handler = std::function<Response(const Request&)>;

struct HttpServerOptions {
  // What GET /metrics renders (RenderText), in order. Shared: the server keeps
  // them alive while it runs. Each Collect() must be thread-safe.
  std::vector<std::shared_ptr<const prometheus::Collectable>> collectables;
  // GET /readyz answers 200 iff `ready()` returns true; null means always
  // ready. When not ready, the 503's body is "not ready: " + `not_ready_reason()`
  // (if set). Both are called on server threads: they must be thread-safe.
  std::function<bool()> ready;
  std::function<std::string()> not_ready_reason;
  // Threads that answer requests: how many scrapes and probes run at once.
  // REQUIRES: >= 1.
  int threads = 2;
};

// Thread-safe: every method may be called from any thread, except that the
// destructor must not race with other calls. Never call Stop() from inside a
// handler: it waits for running handlers.
class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  // Stops the server if it runs.
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Listens on `host_port` ("127.0.0.1:9100"; port 0 picks a free port, see
  // port()) and serves from background threads until Stop(). Errors name the
  // address, the problem and the fix, not a flag: INVALID_ARGUMENT for a
  // malformed address or one not of this machine, FAILED_PRECONDITION
  // ("127.0.0.1:9100: address in use; pick another port") if the port is
  // taken or the server already runs, PERMISSION_DENIED for a privileged
  // port, INTERNAL otherwise. After a failure nothing listens. May be called
  // again after Stop().
  [[nodiscard]] absl::Status Start(std::string_view host_port);

  // The port listened on (the one chosen, for port 0); 0 when not running.
  // Never blocks: handlers may call it.
  int port() const;

  // Serves GET `path` (exact match, e.g. "/" or "/status") with `handler`,
  // replacing any handler of that path, the built-in ones included. May be
  // called before or after Start(); takes effect for the next request.
  // REQUIRES: `path` starts with '/'; handler is not null.
  void Handle(std::string path, Handler handler);

  // Stops listening, waits for running handlers to return, and releases the
  // threads. Idempotent.
  void Stop();

 private:
  // civetweb's begin_request callback: answers every request; returns the
  // HTTP status sent.
  static int OnRequest(mg_connection* conn);
  Response Dispatch(const Request& request);
  Response Metrics() const;
  Response Ready() const;

  // Const after construction.
  const HttpServerOptions options_;

  mutable absl::Mutex mu_;
  // Keyed by exact path; shared so that a request runs its handler outside mu_.
  absl::flat_hash_map<std::string, std::shared_ptr<const Handler>> handlers_ ABSL_GUARDED_BY(mu_);

  // Serializes Start and Stop; guards the civetweb context.
  mutable absl::Mutex lifecycle_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mg_context* ctx_ ABSL_GUARDED_BY(lifecycle_mu_) = nullptr;
  std::string host_ ABSL_GUARDED_BY(lifecycle_mu_);  // listened on
  // Written under lifecycle_mu_; read without it, so that port() never waits
  // for a Stop() (which waits for handlers, which may call port()).
  std::atomic<int> port_{0};
};

}  // namespace kv::metrics
