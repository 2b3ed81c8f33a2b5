// kvctl: command-line client for a kvstore cluster.
#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cmd/common/client_tls_flags.h"
#include "cmd/kvctl/commands.h"
#include "cmd/kvctl/completion.h"
#include "cmd/kvctl/output.h"
#include "cmd/kvctl/status.h"
#include "grpcpp/grpcpp.h"
#include "proto/kv.grpc.pb.h"

namespace v1 = kvstore::v1;

namespace {

struct Globals {
  std::string addr = "127.0.0.1:50051";
  std::string consistency;
  double timeout_seconds = 5;
  std::string output = "text";
  kv::security::ClientTlsOptions tls;
};

// The commands, as CLI11 subcommands; the one given is set after parsing.
struct Commands {
  CLI::App *put, *get, *del, *ping, *peers, *locate, *snapshot, *status, *stats, *leave, *drop,
      *completion;
};

v1::Consistency ParseConsistency(const std::string& c) {
  if (c == "one") return v1::ONE;
  if (c == "quorum") return v1::QUORUM;
  if (c == "all") return v1::ALL;
  return v1::CONSISTENCY_DEFAULT;
}

void AddGlobalOptions(CLI::App& app, Globals* g) {
  app.add_option("--addr", g->addr,
                 "node to talk to (host:port); several, comma-separated, are tried in turn "
                 "while one cannot be reached")
      ->capture_default_str();
  app.add_option("--consistency", g->consistency, "one, quorum or all (default: the node's)")
      ->check(CLI::IsMember({"one", "quorum", "all"}));
  app.add_option("--timeout", g->timeout_seconds, "seconds to wait for an answer")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("-o,--output", g->output,
                 "text, or json: one JSON object per line on stdout (docs/operations.md); "
                 "errors stay text on stderr, exit codes are the same; completion prints its "
                 "script either way")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  kv::cmd::AddClientTlsFlags(app, &g->tls);
}

Commands AddCommands(CLI::App& app, kv::kvctl::Args* a, std::string* shell) {
  Commands c;
  c.put = app.add_subcommand("put", "store KEY = VALUE (or the contents of --file)");
  c.put->add_option("key", a->key, "key")->required();
  c.put->add_option("value", a->value, "value");
  c.put->add_option("--file", a->file, "read the value from this file")->check(CLI::ExistingFile);
  c.put->add_option("--ttl", a->ttl_seconds, "seconds until the key expires (0: never)");
  c.get = app.add_subcommand(
      "get",
      "print the value of KEY byte for byte, then a newline only on a terminal or with --newline "
      "(exit 1 when not found)");
  c.get->add_option("key", a->key, "key")->required();
  c.get->add_flag("--newline", a->newline, "end the value with a newline even when piped");
  c.del = app.add_subcommand("del", "delete KEY");
  c.del->add_option("key", a->key, "key")->required();
  c.ping = app.add_subcommand("ping", "check that the node answers");
  c.peers = app.add_subcommand("peers", "list the node's routing table");
  c.locate = app.add_subcommand("locate", "show KEY's id, its replicas and which hold it");
  c.locate->add_option("key", a->key, "key")->required();
  c.snapshot = app.add_subcommand(
      "snapshot",
      "make the node write a consistent copy of its data dir into its --backup-dir, as NAME");
  c.snapshot
      ->add_option("name", a->snapshot_name,
                   "letters, digits, '.', '_', '-' (no '/'); must not exist in the backup dir")
      ->required();
  c.status = app.add_subcommand(
      "status",
      "one row per member: state as the other members see it, keys, bytes, ops/s, version, "
      "uptime, and disagreements between views (exit 1 unless every member is alive)");
  c.stats = app.add_subcommand("stats",
                               "print the node's repair counters (hints, "
                               "anti-entropy, handoff, purge)");
  c.leave = app.add_subcommand(
      "leave",
      "planned leave: the node hands every key to its new owners, then exits; shows "
      "progress (no --timeout: it runs until the handoff is done). If some key cannot be "
      "handed off, the node stays in the cluster (exit code 4) unless --force");
  c.leave->add_flag("--force", a->force,
                    "leave even if some keys were not handed off to every new owner");
  c.drop = app.add_subcommand(
      "drop-keys", "test hook: make the node forget keys (needs --enable-test-hooks on it)");
  c.drop->add_option("--prefix", a->drop_prefix, "keys starting with this");
  c.drop->add_option("--limit", a->drop_limit, "at most this many (0: all)");
  c.completion = app.add_subcommand(
      "completion",
      "print a shell completion script: source <(kvctl completion bash) (not affected by -o)");
  c.completion->add_option("shell", *shell, "bash")->required()->check(CLI::IsMember({"bash"}));
  return c;
}

// The exit code for a command line CLI11 refused, after saying why.
int ParseFailed(CLI::App& app, const CLI::ParseError& e) {
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

// Runs the command given against one node; sets *unreachable when the node
// could not be reached at all.
int RunOn(const std::string& addr, const Globals& g, const Commands& cmd,
          const kv::kvctl::Args& args, bool* unreachable) {
  namespace kvctl = kv::kvctl;
  const kvctl::Output output = g.output == "json" ? kvctl::Output::kJson : kvctl::Output::kText;
  if (*cmd.status) {
    const int rc = kvctl::Status({.addr = addr,
                                  .credentials = kv::cmd::ClientCredentialsOrDie("kvctl", g.tls),
                                  .timeout = absl::Seconds(g.timeout_seconds),
                                  .output = output});
    *unreachable = rc == 3;
    return rc;
  }
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(64 << 20);
  channel_args.SetMaxSendMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(addr, kv::cmd::ClientCredentialsOrDie("kvctl", g.tls),
                                           channel_args);
  auto kv = v1::KV::NewStub(channel);
  auto admin = v1::Admin::NewStub(channel);
  kvctl::Conn c{.addr = addr,
                .kv = kv.get(),
                .admin = admin.get(),
                .consistency = ParseConsistency(g.consistency),
                .timeout = absl::Seconds(g.timeout_seconds),
                .tls = !g.tls.cacert.empty(),
                .output = output};
  int rc = 0;
  if (*cmd.put) rc = kvctl::Put(c, args);
  if (*cmd.get) rc = kvctl::Get(c, args);
  if (*cmd.del) rc = kvctl::Del(c, args);
  if (*cmd.ping) rc = kvctl::Ping(c);
  if (*cmd.peers) rc = kvctl::Peers(c);
  if (*cmd.snapshot) rc = kvctl::Snapshot(c, args);
  if (*cmd.stats) rc = kvctl::Stats(c);
  if (*cmd.drop) rc = kvctl::DropKeys(c, args);
  if (*cmd.leave) rc = kvctl::Leave(c, args);
  if (*cmd.locate) rc = kvctl::Locate(c, args);
  *unreachable = c.unreachable;
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvctl: talk to a kvstore cluster through any of its nodes", "kvctl"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the command too
  app.set_version_flag("--version", "kvctl 0.1.0");
  Globals g;
  AddGlobalOptions(app, &g);
  kv::kvctl::Args args;
  std::string shell;
  const Commands cmd = AddCommands(app, &args, &shell);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ParseFailed(app, e);
  }
  args.has_value = cmd.put->count("value") > 0;

  if (*cmd.completion) {
    std::fputs(kv::kvctl::BashCompletion(app).c_str(), stdout);
    return 0;
  }
  const std::vector<std::string> addrs = absl::StrSplit(g.addr, ',', absl::SkipEmpty());
  for (size_t attempt = 0; attempt < addrs.size(); ++attempt) {
    bool unreachable = false;
    const int rc = RunOn(addrs[attempt], g, cmd, args, &unreachable);
    if (rc != 3 || !unreachable || attempt + 1 == addrs.size()) return rc;
    std::fprintf(stderr, "kvctl: trying %s\n", addrs[attempt + 1].c_str());
  }
  std::fprintf(stderr, "kvctl: --addr names no node\n");
  return 2;
}
