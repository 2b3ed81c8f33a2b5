// kvctl: command-line client for a kvstore cluster.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cmd/common/client_tls_flags.h"
#include "cmd/kvctl/completion.h"
#include "cmd/kvctl/status.h"
#include "grpcpp/grpcpp.h"
#include "proto/kv.grpc.pb.h"

namespace v1 = kvstore::v1;

namespace {

struct Globals {
  std::string addr = "127.0.0.1:50051";
  std::string consistency;
  double timeout_seconds = 5;
};

// Whether --cacert was given (for Fail's hint).
bool g_tls = false;
// Set by Fail when the node could not be reached at all (another --addr may be).
bool g_unreachable = false;

// Prints the server's error; exit 3 when the cluster is unavailable, 2 otherwise.
int Fail(const std::string& what, const grpc::Status& s) {
  // gRPC's codes are absl's, number for number.
  const std::string code = absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code()));
  std::fprintf(stderr, "kvctl: %s failed: %s: %s\n", what.c_str(), code.c_str(),
               s.error_message().c_str());
  g_unreachable = s.error_code() == grpc::StatusCode::UNAVAILABLE &&
                  s.error_message().find("failed to connect") != std::string::npos;
  // A TLS node closes a plaintext connection without a word.
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE && !g_tls &&
      s.error_message().find("Socket closed") != std::string::npos) {
    std::fprintf(stderr, "kvctl: if the node serves TLS, give --cacert (and --cert/--key)\n");
  }
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ? 3 : 2;
}

v1::Consistency ParseConsistency(const std::string& c) {
  if (c == "one") return v1::ONE;
  if (c == "quorum") return v1::QUORUM;
  if (c == "all") return v1::ALL;
  return v1::CONSISTENCY_DEFAULT;
}

void SetDeadline(grpc::ClientContext* ctx, const Globals& g) {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(g.timeout_seconds)));
}

std::string FormatVersion(const v1::Version& v) {
  return absl::StrFormat("%d.%d@%s", v.timestamp() >> 16, v.timestamp() & 0xffff,
                         v.node_id().substr(0, 8));
}

}  // namespace

int main(int argc, char** argv) {
  Globals g;
  CLI::App app{"kvctl: talk to a kvstore cluster through any of its nodes", "kvctl"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the command too
  app.set_version_flag("--version", "kvctl 0.1.0");
  app.add_option("--addr", g.addr,
                 "node to talk to (host:port); several, comma-separated, are tried in turn "
                 "while one cannot be reached")
      ->capture_default_str();
  app.add_option("--consistency", g.consistency, "one, quorum or all (default: the node's)")
      ->check(CLI::IsMember({"one", "quorum", "all"}));
  app.add_option("--timeout", g.timeout_seconds, "seconds to wait for an answer")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  kv::security::ClientTlsOptions tls;
  kv::cmd::AddClientTlsFlags(app, &tls);

  std::string key, value, file;
  uint32_t ttl = 0;
  auto* put = app.add_subcommand("put", "store KEY = VALUE (or the contents of --file)");
  put->add_option("key", key, "key")->required();
  put->add_option("value", value, "value");
  put->add_option("--file", file, "read the value from this file")->check(CLI::ExistingFile);
  put->add_option("--ttl", ttl, "seconds until the key expires (0: never)");
  auto* get = app.add_subcommand(
      "get",
      "print the value of KEY byte for byte, then a newline only on a terminal or with --newline "
      "(exit 1 when not found)");
  get->add_option("key", key, "key")->required();
  bool newline = false;
  get->add_flag("--newline", newline, "end the value with a newline even when piped");
  auto* del = app.add_subcommand("del", "delete KEY");
  del->add_option("key", key, "key")->required();
  auto* ping = app.add_subcommand("ping", "check that the node answers");
  auto* peers = app.add_subcommand("peers", "list the node's routing table");
  auto* locate = app.add_subcommand("locate", "show KEY's id, its replicas and which hold it");
  locate->add_option("key", key, "key")->required();
  std::string snapshot_name;
  auto* snapshot = app.add_subcommand(
      "snapshot",
      "make the node write a consistent copy of its data dir into its --backup-dir, as NAME");
  snapshot
      ->add_option("name", snapshot_name,
                   "letters, digits, '.', '_', '-' (no '/'); must not exist in the backup dir")
      ->required();
  auto* status = app.add_subcommand(
      "status",
      "one row per member: state as the other members see it, keys, bytes, ops/s, version, "
      "uptime, and disagreements between views (exit 1 unless every member is alive)");
  auto* stats = app.add_subcommand("stats",
                                   "print the node's repair counters (hints, "
                                   "anti-entropy, handoff, purge)");
  auto* leave = app.add_subcommand(
      "leave",
      "planned leave: the node hands every key to its new owners, then exits; shows "
      "progress (no --timeout: it runs until the handoff is done). If some key cannot be "
      "handed off, the node stays in the cluster (exit code 4) unless --force");
  bool leave_force = false;
  leave->add_flag("--force", leave_force,
                  "leave even if some keys were not handed off to every new owner");
  std::string drop_prefix;
  uint32_t drop_limit = 0;
  auto* drop = app.add_subcommand(
      "drop-keys", "test hook: make the node forget keys (needs --enable-test-hooks on it)");
  drop->add_option("--prefix", drop_prefix, "keys starting with this");
  drop->add_option("--limit", drop_limit, "at most this many (0: all)");
  std::string shell;
  auto* completion = app.add_subcommand(
      "completion", "print a shell completion script: source <(kvctl completion bash)");
  completion->add_option("shell", shell, "bash")->required()->check(CLI::IsMember({"bash"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    if (app.get_subcommands().empty()) {
      // No command, or one kvctl does not have: name the ones it has.
      std::vector<std::string> names;
      for (const CLI::App* c : app.get_subcommands({})) names.push_back(c->get_name());
      // What CLI11 could not place: the unknown command, if any.
      const std::vector<std::string> rest = app.remaining();
      const std::string first = rest.empty() ? "" : rest.front();
      std::fprintf(stderr, "kvctl: %s; the commands are: %s (see kvctl --help)\n",
                   first.empty() ? "no command given" : ("unknown command '" + first + "'").c_str(),
                   absl::StrJoin(names, ", ").c_str());
      return 2;
    }
    std::fprintf(stderr, "kvctl: %s (see kvctl --help)\n", e.what());
    return 2;
  }

  if (*completion) {
    std::fputs(kv::kvctl::BashCompletion(app).c_str(), stdout);
    return 0;
  }

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  g_tls = !tls.cacert.empty();
  const std::vector<std::string> addrs = absl::StrSplit(g.addr, ',', absl::SkipEmpty());
  for (size_t attempt = 0; attempt < addrs.size(); ++attempt) {
    g.addr = addrs[attempt];
    g_unreachable = false;
    const int rc = [&]() -> int {
      if (*status) {
        const int rc =
            kv::kvctl::Status({.addr = g.addr,
                               .credentials = kv::cmd::ClientCredentialsOrDie("kvctl", tls),
                               .timeout = absl::Seconds(g.timeout_seconds)});
        g_unreachable = rc == 3;
        return rc;
      }
      auto channel =
          grpc::CreateCustomChannel(g.addr, kv::cmd::ClientCredentialsOrDie("kvctl", tls), args);
      auto kv = v1::KV::NewStub(channel);
      auto admin = v1::Admin::NewStub(channel);
      grpc::ClientContext ctx;
      if (!*leave) SetDeadline(&ctx, g);
      const v1::Consistency consistency = ParseConsistency(g.consistency);

      if (*put) {
        if (!file.empty()) {
          std::ifstream in(file, std::ios::binary);
          std::stringstream ss;
          ss << in.rdbuf();
          value = ss.str();
        } else if (put->count("value") == 0) {
          std::fprintf(stderr, "kvctl: put needs a VALUE or --file PATH\n");
          return 2;
        }
        v1::PutRequest req;
        req.set_key(key);
        req.set_value(value);
        req.set_consistency(consistency);
        req.set_ttl_seconds(ttl);
        v1::PutResponse resp;
        grpc::Status s = kv->Put(&ctx, req, &resp);
        if (!s.ok()) return Fail("put", s);
        std::printf("OK version=%s acks=%u\n", FormatVersion(resp.version()).c_str(), resp.acks());
      } else if (*get) {
        v1::GetRequest req;
        req.set_key(key);
        req.set_consistency(consistency);
        v1::GetResponse resp;
        grpc::Status s = kv->Get(&ctx, req, &resp);
        if (!s.ok()) return Fail("get", s);
        if (!resp.found()) {
          std::fprintf(stderr, "kvctl: key not found\n");
          return 1;
        }
        std::fwrite(resp.value().data(), 1, resp.value().size(), stdout);
        if (newline || isatty(STDOUT_FILENO)) std::printf("\n");
      } else if (*del) {
        v1::DeleteRequest req;
        req.set_key(key);
        req.set_consistency(consistency);
        v1::DeleteResponse resp;
        grpc::Status s = kv->Delete(&ctx, req, &resp);
        if (!s.ok()) return Fail("del", s);
        std::printf("OK version=%s acks=%u\n", FormatVersion(resp.version()).c_str(), resp.acks());
      } else if (*ping) {
        v1::PingRequest req;
        v1::PingResponse resp;
        const absl::Time start = absl::Now();
        grpc::Status s = kv->Ping(&ctx, req, &resp);
        if (!s.ok()) return Fail("ping", s);
        std::printf("PONG from %s at %s in %s\n", resp.node().id().c_str(),
                    resp.node().address().c_str(),
                    absl::FormatDuration(absl::Now() - start).c_str());
        if (!resp.clock_status().empty()) {
          std::printf("%s%s\n", resp.clock_status().c_str(),
                      resp.clock_fenced() ? "; the node refuses writes" : "");
        }
        if (resp.transport() == "plaintext") {
          std::printf(
              "transport: plaintext (INSECURE: anyone who can reach %s can read and change its "
              "data)\n",
              resp.node().address().c_str());
        } else if (!resp.transport().empty()) {
          std::printf("transport: %s\n",
                      resp.transport() == "mtls" ? "TLS, client certificates required" : "TLS");
        }
      } else if (*peers) {
        v1::PeersResponse resp;
        grpc::Status s = admin->Peers(&ctx, v1::PeersRequest(), &resp);
        if (!s.ok()) return Fail("peers", s);
        std::printf("self  %s  %s\n", resp.self().id().c_str(), resp.self().address().c_str());
        std::printf("%-40s  %-21s  %-7s  %6s  %5s  %-16s  %s\n", "ID", "ADDRESS", "STATE", "BUCKET",
                    "PHI", "CLOCK OFFSET", "LAST HEARTBEAT");
        for (const v1::PeerEntry& p : resp.peers()) {
          std::string heard = p.last_heard_millis_ago() < 0
                                  ? "never"
                                  : absl::StrFormat("%dms ago", p.last_heard_millis_ago());
          // The peer's clock against this node's, +- half the round trip.
          std::string clock =
              p.has_clock_offset_micros()
                  ? absl::StrFormat("%+.1fms~%.1f", p.clock_offset_micros() / 1000.0,
                                    p.clock_round_trip_micros() / 2000.0)
                  : "-";
          std::printf("%-40s  %-21s  %-7s  %6d  %5.1f  %-16s  %s\n", p.node().id().c_str(),
                      p.node().address().c_str(), kv::kvctl::StateName(p.state()), p.bucket(),
                      p.phi(), clock.c_str(), heard.c_str());
        }
      } else if (*snapshot) {
        v1::SnapshotRequest req;
        req.set_name(snapshot_name);
        v1::SnapshotResponse resp;
        grpc::Status s = admin->Snapshot(&ctx, req, &resp);
        if (!s.ok()) return Fail("snapshot", s);
        std::printf("OK snapshot written to %s on %s\n", resp.dir().c_str(), g.addr.c_str());
      } else if (*stats) {
        v1::StatsResponse resp;
        grpc::Status s = admin->Stats(&ctx, v1::StatsRequest(), &resp);
        if (!s.ok()) return Fail("stats", s);
        std::map<std::string, uint64_t> sorted(resp.counters().begin(), resp.counters().end());
        std::printf("node %s  %s\n", resp.self().id().c_str(), resp.self().address().c_str());
        for (const auto& [name, value] : sorted) {
          std::printf("%-34s %llu\n", name.c_str(), static_cast<unsigned long long>(value));
        }
      } else if (*drop) {
        v1::DropKeysRequest req;
        req.set_prefix(drop_prefix);
        req.set_limit(drop_limit);
        v1::DropKeysResponse resp;
        grpc::Status s = admin->DropKeys(&ctx, req, &resp);
        if (!s.ok()) return Fail("drop-keys", s);
        std::printf("OK dropped %llu keys\n", static_cast<unsigned long long>(resp.dropped()));
      } else if (*leave) {
        v1::LeaveRequest req;
        req.set_force(leave_force);
        auto reader = admin->Leave(&ctx, req);
        v1::LeaveProgress p;
        std::string last_phase;
        while (reader->Read(&p)) {
          std::printf("%-10s pass %u: %llu/%llu keys moved, %llu bytes, %llu failed\n",
                      p.phase().c_str(), p.pass(), static_cast<unsigned long long>(p.keys_moved()),
                      static_cast<unsigned long long>(p.keys_total()),
                      static_cast<unsigned long long>(p.bytes_moved()),
                      static_cast<unsigned long long>(p.keys_failed()));
          std::fflush(stdout);
          last_phase = p.phase();
        }
        grpc::Status s = reader->Finish();
        if (!s.ok()) return Fail("leave", s);
        if (last_phase == "incomplete") {
          std::fprintf(stderr,
                       "kvctl: leave incomplete: %llu keys were not handed off to every new owner; "
                       "%s stays in the cluster and keeps serving (retry later, or kvctl leave "
                       "--force to leave anyway)\n",
                       static_cast<unsigned long long>(p.keys_failed()), g.addr.c_str());
          return 4;
        } else if (last_phase == "forced") {
          std::printf(
              "OK %s left the cluster (--force); %llu records were not acknowledged by every new "
              "owner: copies that only this node held are gone\n",
              g.addr.c_str(), static_cast<unsigned long long>(p.keys_failed()));
        } else if (last_phase != "done") {
          std::fprintf(stderr,
                       "kvctl: the node stopped before the leave was done (last phase: %s)\n",
                       last_phase.empty() ? "none" : last_phase.c_str());
          return 3;
        } else {
          std::printf("OK %s left the cluster\n", g.addr.c_str());
        }
      } else if (*locate) {
        v1::LocateRequest req;
        req.set_key(key);
        v1::LocateResponse resp;
        grpc::Status s = admin->Locate(&ctx, req, &resp);
        if (!s.ok()) return Fail("locate", s);
        std::printf("key %s  id %s  N=%u\n", key.c_str(), resp.key_id().c_str(),
                    resp.replication_factor());
        std::printf("%-40s  %-21s  %-5s  %s\n", "REPLICA", "ADDRESS", "HOLDS", "VERSION");
        for (const v1::ReplicaLocation& r : resp.replicas()) {
          std::string version = !r.reachable()    ? "unreachable: " + r.error()
                                : r.has_version() ? FormatVersion(r.version())
                                                  : "-";
          std::printf("%-40s  %-21s  %-5s  %s\n", r.node().id().c_str(), r.node().address().c_str(),
                      r.holds() ? "yes" : "no", version.c_str());
        }
      }
      return 0;
    }();
    if (rc != 3 || !g_unreachable || attempt + 1 == addrs.size()) return rc;
    std::fprintf(stderr, "kvctl: trying %s\n", addrs[attempt + 1].c_str());
  }
  std::fprintf(stderr, "kvctl: --addr names no node\n");
  return 2;
}
