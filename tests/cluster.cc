#include "tests/cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "src/dht/node_id.h"
#include "src/security/tls.h"

namespace kv::testing {

namespace v1 = kvstore::v1;

bool WaitFor(const std::function<bool()>& cond, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (cond()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));  // polling interval, not a wait for an outcome
  }
}

int FreePort() {
  // The kernel may hand a port it just gave out (and we closed) to the next
  // bind: a cluster's nodes would then share one. Never return a port twice.
  static std::mutex mu;
  static std::set<int> given;
  std::lock_guard<std::mutex> l(mu);
  while (true) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) std::abort();
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    const int port = ntohs(addr.sin_port);
    if (given.insert(port).second) return port;
  }
}

namespace {

pid_t Spawn(const std::string& binary, const std::vector<std::string>& args, int out_fd) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
  dup2(out_fd, STDOUT_FILENO);
  dup2(out_fd, STDERR_FILENO);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // Signals blocked by the test runner's threads must not stay blocked here.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // The test's own sockets and epoll fds must not leak into the node.
  for (int fd = 3; fd < 1024; ++fd) close(fd);
  execv(binary.c_str(), argv.data());
  std::perror("execv");
  _exit(127);
}

int WaitPid(pid_t pid, absl::Duration timeout) {
  int code = -1;
  WaitFor(
      [&] {
        int status = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
          code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          return true;
        }
        return false;
      },
      timeout);
  return code;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

CommandResult RunCommand(const std::string& binary, const std::vector<std::string>& args,
                         absl::Duration timeout) {
  char path[] = "/tmp/kvtest-cmd.XXXXXX";
  int fd = mkstemp(path);
  pid_t pid = Spawn(binary, args, fd);
  CommandResult r;
  r.exit_code = WaitPid(pid, timeout);
  if (r.exit_code == -1) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  close(fd);
  r.output = ReadFile(path);
  unlink(path);
  return r;
}

NodeProcess::NodeProcess(std::string binary, std::vector<std::string> args, std::string log_path)
    : binary_(std::move(binary)), args_(std::move(args)), log_path_(std::move(log_path)) {}

NodeProcess::~NodeProcess() {
  if (pid_ > 0) Signal(SIGKILL);
}

void NodeProcess::Start() {
  int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_ = Spawn(binary_, args_, fd);
  close(fd);
}

void NodeProcess::Signal(int sig) {
  if (pid_ <= 0) return;
  kill(pid_, sig);
  if (sig == SIGKILL) {
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

int NodeProcess::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  int code = WaitPid(pid_, timeout);
  if (code != -1) pid_ = -1;
  return code;
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return ctx;
}

Cluster::Cluster(Options options) : options_(std::move(options)) {
  char dir[] = "/tmp/kvtest-cluster.XXXXXX";
  log_dir_ = mkdtemp(dir);
  std::cerr << "cluster logs and data in " << log_dir_ << "\n";
  for (int i = 0; i < options_.nodes; ++i) {
    addresses_.push_back(absl::StrCat("127.0.0.1:", FreePort()));
  }
  ids_.resize(options_.nodes);
  if (options_.tls) {
    const std::string dir = tls_dir();
    bool made = RunCommand(TLS_CERTS_SCRIPT, {"ca", dir}).exit_code == 0 &&
                MakeCertificate(options_.harness_cert, "node");
    for (int i = 0; i < options_.nodes && made; ++i) {
      made = MakeCertificate(absl::StrCat("node", i), "node");
    }
    if (!made) std::cerr << "could not make the TLS certificates in " << dir << "\n";
  }
  for (int i = 0; i < options_.nodes; ++i) {
    nodes_.push_back(MakeProcess(i, /*join=*/i > 0));
    // Short reconnect backoff: the first pings race the node's start-up.
    grpc::ChannelArguments channel_args;
    channel_args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    channel_args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    channel_args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    auto channel = grpc::CreateCustomChannel(
        addresses_[i],
        options_.tls ? Credentials(options_.harness_cert) : grpc::InsecureChannelCredentials(),
        channel_args);
    kv_.push_back(v1::KV::NewStub(channel));
    admin_.push_back(v1::Admin::NewStub(channel));
    peer_.push_back(v1::Peer::NewStub(channel));
  }
}

std::vector<std::string> Cluster::NodeArgs(int i, bool join) const {
  std::vector<std::string> args = {
      "--addr=" + addresses_[i],
      absl::StrCat("--replicas=", options_.replicas),
      "--heartbeat-interval=" + options_.heartbeat_interval,
      "--failure-timeout=" + options_.failure_timeout,
      "--log-level=debug",
  };
  if (join) args.push_back("--peer=" + addresses_[0]);
  if (options_.stable_ids) {
    args.push_back("--node-id=" + dht::NodeId::FromKey(absl::StrCat("node-", i)).ToHex());
  }
  if (options_.durable) args.push_back(absl::StrCat("--data-dir=", log_dir_, "/data", i));
  if (options_.tls) {
    const std::string base = absl::StrCat(tls_dir(), "/node", i);
    args.push_back("--cert-file=" + base + ".crt");
    args.push_back("--key-file=" + base + ".key");
    args.push_back("--trusted-ca-file=" + tls_dir() + "/ca.crt");
  }
  for (const std::string& a : options_.extra_args) args.push_back(a);
  if (auto own = options_.node_args.find(i); own != options_.node_args.end()) {
    args.insert(args.end(), own->second.begin(), own->second.end());
  }
  return args;
}

bool Cluster::MakeCertificate(const std::string& name, const std::string& cn,
                              const std::string& ca_dir) const {
  if (ca_dir.empty())
    return RunCommand(TLS_CERTS_SCRIPT, {"cert", tls_dir(), name, cn}).exit_code == 0;
  // Signed by another CA: made there, then copied next to the others.
  if (RunCommand(TLS_CERTS_SCRIPT, {"cert", ca_dir, name, cn}).exit_code != 0) return false;
  for (const char* ext : {".crt", ".key"}) {
    std::error_code ec;
    std::filesystem::copy_file(ca_dir + "/" + name + ext, tls_dir() + "/" + name + ext,
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return false;
  }
  return true;
}

std::shared_ptr<grpc::ChannelCredentials> Cluster::Credentials(const std::string& name,
                                                               const std::string& token) const {
  security::ClientTlsOptions o{.cacert = tls_dir() + "/ca.crt", .token = token};
  if (!name.empty()) {
    o.cert = absl::StrCat(tls_dir(), "/", name, ".crt");
    o.key = absl::StrCat(tls_dir(), "/", name, ".key");
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> c = security::ClientCredentials(o);
  if (!c.ok()) {
    std::cerr << "credentials for '" << name << "': " << c.status() << "\n";
    return grpc::InsecureChannelCredentials();
  }
  return *c;
}

std::unique_ptr<NodeProcess> Cluster::MakeProcess(int i, bool join) const {
  const std::string log = absl::StrCat(log_dir_, "/node", i, ".log");
  auto env = options_.env.find(i);
  if (env == options_.env.end()) {
    return std::make_unique<NodeProcess>(KVSTORE_BIN, NodeArgs(i, join), log);
  }
  std::vector<std::string> args = env->second;
  args.push_back(KVSTORE_BIN);
  for (std::string& a : NodeArgs(i, join)) args.push_back(std::move(a));
  return std::make_unique<NodeProcess>("/usr/bin/env", std::move(args), log);
}

bool Cluster::Restart(int i, bool join, absl::Duration timeout) {
  nodes_[i]->Signal(SIGKILL);
  nodes_[i] = MakeProcess(i, join);
  nodes_[i]->Start();
  return WaitReady(i, timeout);
}

Cluster::~Cluster() {
  for (auto& n : nodes_) n->Signal(SIGKILL);
}

bool Cluster::WaitReady(int i, absl::Duration timeout) {
  return WaitFor(
      [&] {
        v1::PingResponse resp;
        auto ctx = Context(absl::Milliseconds(500));
        ctx->set_wait_for_ready(true);
        if (!kv_[i]->Ping(ctx.get(), v1::PingRequest(), &resp).ok()) return false;
        ids_[i] = resp.node().id();
        return true;
      },
      timeout);
}

bool Cluster::Start(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  nodes_[0]->Start();
  if (!WaitReady(0, deadline - absl::Now())) {
    std::cerr << "node 0 did not answer Ping\n";
    return false;
  }
  const int count = options_.initially_running > 0 ? options_.initially_running : size();
  for (int i = 1; i < count; ++i) nodes_[i]->Start();
  for (int i = 1; i < count; ++i) {
    if (!WaitReady(i, deadline - absl::Now())) {
      std::cerr << "node " << i << " did not answer Ping\n";
      return false;
    }
  }
  bool formed = WaitFor(
      [&] {
        for (int i = 0; i < count; ++i) {
          for (int j = 0; j < count; ++j) {
            if (i != j && !SeesPeerIn(i, j, v1::ALIVE)) return false;
          }
        }
        return true;
      },
      deadline - absl::Now());
  if (!formed) std::cerr << "the nodes did not all see each other alive\n";
  return formed;
}

bool Cluster::StartNode(int i, absl::Duration timeout) {
  nodes_[i]->Start();
  return WaitReady(i, timeout);
}

grpc::Status Cluster::Put(int node, const std::string& key, const std::string& value,
                          v1::Consistency c) {
  v1::PutRequest req;
  req.set_key(key);
  req.set_value(value);
  req.set_consistency(c);
  v1::PutResponse resp;
  return kv_[node]->Put(Context().get(), req, &resp);
}

grpc::Status Cluster::Get(int node, const std::string& key, v1::GetResponse* resp,
                          v1::Consistency c) {
  v1::GetRequest req;
  req.set_key(key);
  req.set_consistency(c);
  return kv_[node]->Get(Context().get(), req, resp);
}

grpc::Status Cluster::Delete(int node, const std::string& key, v1::Consistency c) {
  v1::DeleteRequest req;
  req.set_key(key);
  req.set_consistency(c);
  v1::DeleteResponse resp;
  return kv_[node]->Delete(Context().get(), req, &resp);
}

std::vector<int> Cluster::Holders(const std::string& key) {
  std::vector<int> holders;
  for (int i = 0; i < size(); ++i) {
    if (!nodes_[i]->running()) continue;
    v1::FetchRequest req;
    req.set_key(key);
    v1::FetchResponse resp;
    if (peer_[i]->Fetch(Context().get(), req, &resp).ok() && resp.found() &&
        !resp.record().tombstone()) {
      holders.push_back(i);
    }
  }
  return holders;
}

std::map<std::string, std::string> Cluster::PeerAddresses(int i) {
  v1::PeersResponse resp;
  std::map<std::string, std::string> out;
  if (!admin_[i]->Peers(Context().get(), v1::PeersRequest(), &resp).ok()) return out;
  for (const v1::PeerEntry& p : resp.peers()) out[p.node().id()] = p.node().address();
  return out;
}

std::vector<int> Cluster::Closest(const std::string& key, size_t n,
                                  const std::vector<int>& among) const {
  const dht::NodeId target = dht::NodeId::FromKey(key);
  std::vector<int> order = among;
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return dht::CloserTo(target, *dht::NodeId::FromHex(ids_[a]), *dht::NodeId::FromHex(ids_[b]));
  });
  if (order.size() > n) order.resize(n);
  return order;
}

std::map<std::string, uint64_t> Cluster::Stats(int i) {
  v1::StatsResponse resp;
  if (!admin_[i]->Stats(Context().get(), v1::StatsRequest(), &resp).ok()) return {};
  return {resp.counters().begin(), resp.counters().end()};
}

bool Cluster::SeesPeerIn(int observer, int target, v1::PeerState state) {
  v1::PeersResponse resp;
  auto ctx = Context(absl::Seconds(1));
  if (!admin_[observer]->Peers(ctx.get(), v1::PeersRequest(), &resp).ok()) return false;
  for (const v1::PeerEntry& p : resp.peers()) {
    if (p.node().id() == ids_[target]) return p.state() == state;
  }
  return false;
}

std::vector<std::string> Cluster::StopAll(absl::Duration timeout) {
  // Close our own connections first: an idle client connection would hold
  // each node's graceful drain until its deadline.
  kv_.clear();
  admin_.clear();
  peer_.clear();
  std::vector<std::string> problems;
  std::vector<int> running;
  for (int i = 0; i < size(); ++i) {
    if (nodes_[i]->running()) {
      nodes_[i]->Signal(SIGTERM);
      running.push_back(i);
    }
  }
  for (int i : running) {
    const int code = nodes_[i]->Wait(timeout);
    if (code != 0) problems.push_back(absl::StrCat("node ", i, " exited with ", code));
  }
  for (int i = 0; i < size(); ++i) {
    const std::string log = ReadFile(nodes_[i]->log_path());
    for (const char* bad : {"Sanitizer", "runtime error:", "terminate called"}) {
      if (log.find(bad) != std::string::npos) {
        problems.push_back(absl::StrCat("node ", i, " log reports '", bad, "'"));
      }
    }
  }
  return problems;
}

bool Cluster::LogContains(int i, const std::string& text) const {
  return ReadFile(nodes_[i]->log_path()).find(text) != std::string::npos;
}

void Cluster::DumpLogs() const {
  for (const auto& n : nodes_) {
    std::string log = ReadFile(n->log_path());
    if (log.size() > 4000) log = log.substr(log.size() - 4000);
    std::cerr << "==== " << n->log_path() << " (tail)\n" << log << "\n";
  }
}

}  // namespace kv::testing
