#include "src/metrics/http_server.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "spdlog/spdlog.h"
#include "src/metrics/listen_address.h"
#include "src/metrics/registry.h"

namespace kv::metrics {
namespace {

// civetweb's global state: initialized once per process, never torn down
// (other servers may still run at exit).
void InitCivetwebOnce() {
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
}

// True on a thread inside mg_start2: the errors civetweb logs then reach the
// caller as Start()'s status instead.
thread_local bool t_starting = false;

// civetweb's own log lines (failed reads, bad requests), sent to ours.
int LogMessage(const mg_connection*, const char* message) {
  if (!t_starting) spdlog::warn("metrics http server: {}", message);
  return 1;  // handled: civetweb writes nothing itself
}

// mg_stop() waits for civetweb's accept loop, which checks the stop flag only
// between polls of up to 2 s (SOCKET_TIMEOUT_QUANTUM in civetweb 1.15). Until
// `done` is notified, connects to `listen_host`:`port` every 20 ms with a tiny request,
// so that the loop wakes up at once and sees the flag.
void WakeAcceptLoop(const std::string& listen_host, int port, absl::Notification& done) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  const std::string host = listen_host == "0.0.0.0" ? "127.0.0.1" : listen_host;
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) return;
  constexpr char kRequest[] = "GET /healthz HTTP/1.0\r\n\r\n";
  do {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    // Non-blocking: a loopback connect completes at once or fails; either way
    // the accept loop's poll has returned or the listener is already gone.
    if (connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) == 0) {
      (void)send(fd, kRequest, sizeof(kRequest) - 1, MSG_NOSIGNAL);
    }
    close(fd);
  } while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(20)));
}

void Send(mg_connection* conn, const Response& r, bool allow_get) {
  mg_response_header_start(conn, r.status);
  mg_response_header_add(conn, "Content-Type", r.content_type.c_str(), -1);
  mg_response_header_add(conn, "Content-Length", std::to_string(r.body.size()).c_str(), -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  if (allow_get) mg_response_header_add(conn, "Allow", "GET", -1);
  mg_response_header_send(conn);
  if (!r.body.empty()) mg_write(conn, r.body.data(), r.body.size());
}

Response Text(int status, std::string body) {
  return Response{.status = status, .body = std::move(body)};
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options) : options_(std::move(options)) {
  Handle("/metrics", [this](const Request&) { return Metrics(); });
  Handle("/healthz", [](const Request&) { return Text(200, "ok\n"); });
  Handle("/readyz", [this](const Request&) { return Ready(); });
}

HttpServer::~HttpServer() { Stop(); }

absl::Status HttpServer::Start(std::string_view host_port) {
  const absl::string_view where(host_port.data(), host_port.size());
  absl::StatusOr<ListenAddress> address = ParseListenAddress(where);
  if (!address.ok()) return address.status();
  absl::MutexLock l(&lifecycle_mu_);
  if (ctx_ != nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(where, ": this server already listens on port ", port_.load(), "; Stop() it"));
  }
  InitCivetwebOnce();
  const std::string ports = address->ToString();
  const std::string threads = std::to_string(options_.threads > 0 ? options_.threads : 1);
  const char* config[] = {"listening_ports",
                          ports.c_str(),
                          "num_threads",
                          threads.c_str(),
                          "enable_keep_alive",
                          "no",
                          "request_timeout_ms",
                          "10000",
                          nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  // Every request goes to OnRequest before civetweb looks at handlers or
  // files, from the first one on: nothing is served before we are ready.
  callbacks.begin_request = &HttpServer::OnRequest;
  callbacks.log_message = &LogMessage;
  mg_init_data init{&callbacks, this, config};
  char error_text[256] = "";
  unsigned error_code = 0;
  mg_error_data error{&error_code, error_text, sizeof(error_text)};
  t_starting = true;
  mg_context* ctx = mg_start2(&init, &error);
  t_starting = false;
  if (ctx == nullptr) {
    // civetweb says only "Failed to setup server ports": find out why.
    return DiagnoseListenFailure(*address, error_text[0] ? error_text : "civetweb failed to start");
  }
  mg_server_port bound[2];
  std::memset(bound, 0, sizeof(bound));
  if (mg_get_server_ports(ctx, 2, bound) < 1 || bound[0].port <= 0) {
    mg_stop(ctx);
    return absl::InternalError(absl::StrCat(ports, ": listening, but the port is unknown"));
  }
  ctx_ = ctx;
  host_ = address->host;
  port_.store(bound[0].port, std::memory_order_release);
  return absl::OkStatus();
}

int HttpServer::port() const { return port_.load(std::memory_order_acquire); }

void HttpServer::Handle(std::string path, Handler handler) {
  auto shared = std::make_shared<const Handler>(std::move(handler));
  absl::MutexLock l(&mu_);
  handlers_[std::move(path)] = std::move(shared);
}

void HttpServer::Stop() {
  absl::MutexLock l(&lifecycle_mu_);
  if (ctx_ == nullptr) return;
  absl::Notification stopped;
  std::thread waker(
      [&stopped, host = host_, port = port_.load()] { WakeAcceptLoop(host, port, stopped); });
  mg_stop(ctx_);  // joins the worker threads: no handler runs after this
  stopped.Notify();
  waker.join();
  ctx_ = nullptr;
  host_.clear();
  port_.store(0, std::memory_order_release);
}

int HttpServer::OnRequest(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  auto* self = static_cast<HttpServer*>(info->user_data);
  Request request;
  request.method = info->request_method ? info->request_method : "";
  request.path = info->local_uri ? info->local_uri : "";
  request.query = info->query_string ? info->query_string : "";
  Response response;
  if (request.method != "GET") {
    response = Text(405, absl::StrCat("method ", request.method, " not allowed; use GET\n"));
  } else {
    // No exception may unwind through civetweb's C frames.
    try {
      response = self->Dispatch(request);
    } catch (const std::exception& e) {
      response = Text(500, absl::StrCat("internal error: ", e.what(), "\n"));
    } catch (...) {
      response = Text(500, "internal error\n");
    }
  }
  Send(conn, response, response.status == 405);
  return response.status;
}

Response HttpServer::Dispatch(const Request& request) {
  std::shared_ptr<const Handler> handler;
  {
    absl::MutexLock l(&mu_);
    auto it = handlers_.find(request.path);
    if (it != handlers_.end()) handler = it->second;
  }
  if (handler == nullptr || !*handler) {
    return Text(404, absl::StrCat("no such path: ", request.path, "\n"));
  }
  return (*handler)(request);
}

Response HttpServer::Metrics() const {
  return Response{.status = 200,
                  .content_type = std::string(kTextContentType),
                  .body = RenderText(options_.collectables)};
}

Response HttpServer::Ready() const {
  if (!options_.ready || options_.ready()) return Text(200, "ready\n");
  std::string reason = options_.not_ready_reason ? options_.not_ready_reason() : "";
  return Text(503, reason.empty() ? "not ready\n" : absl::StrCat("not ready: ", reason, "\n"));
}

}  // namespace kv::metrics
