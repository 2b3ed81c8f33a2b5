#include "src/resp/commands.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/node/batch.h"

namespace kv::resp {
namespace {

using replication::Consistency;

// What a command is: its arity as Redis counts it (the name included;
// negative: at least that many) and whether it is refused (the reason).
struct Spec {
  int arity;
  const char* refused = nullptr;  // why it is not served; null if served
};

// The largest EX/PX/EXAT/PXAT accepted, so that milliseconds cannot overflow.
constexpr int64_t kMaxExpire = INT64_MAX / 1000 / 2;

constexpr char kNoRmw[] = "kvstore has no atomic read-modify-write (see docs/resp.md)";
constexpr char kWrongPass[] = "WRONGPASS invalid username-password pair or user is disabled.";

const std::map<std::string, Spec>& Specs() {
  static const auto* specs = new std::map<std::string, Spec>{
      // Served.
      {"ping", {-1}},
      {"echo", {2}},
      {"hello", {-1}},
      {"auth", {-2}},
      {"select", {2}},
      {"quit", {-1}},
      {"reset", {1}},
      {"client", {-2}},
      {"command", {-1}},
      {"info", {-1}},
      {"dbsize", {1}},
      {"time", {1}},
      {"get", {2}},
      {"set", {-3}},
      {"setex", {4}},
      {"psetex", {4}},
      {"del", {-2}},
      {"unlink", {-2}},
      {"exists", {-2}},
      {"mget", {-2}},
      {"mset", {-3}},
      {"strlen", {2}},
      {"kvstore.consistency", {-1}},
      {"kvstore.locate", {2}},
      {"ttl", {2}},
      {"pttl", {2}},
      // Refused: their effect depends on a value read first.
      {"expire", {-3, kNoRmw}},
      {"pexpire", {-3, kNoRmw}},
      {"expireat", {-3, kNoRmw}},
      {"pexpireat", {-3, kNoRmw}},
      {"persist", {2, kNoRmw}},
      {"getdel", {2, kNoRmw}},
      {"getset", {3, kNoRmw}},
      {"getex", {-2, kNoRmw}},
      {"incr", {2, kNoRmw}},
      {"decr", {2, kNoRmw}},
      {"incrby", {3, kNoRmw}},
      {"decrby", {3, kNoRmw}},
      {"incrbyfloat", {3, kNoRmw}},
      {"append", {3, kNoRmw}},
      {"setnx", {3, kNoRmw}},
      {"setrange", {4, kNoRmw}},
      {"msetnx", {-3, kNoRmw}},
      {"watch", {-2, kNoRmw}},
      {"unwatch", {1, kNoRmw}},
      {"multi", {1, kNoRmw}},
      {"exec", {1, kNoRmw}},
      {"discard", {1, kNoRmw}},
  };
  return *specs;
}

std::string Wire(Protocol p, const std::function<void(Writer&)>& build) {
  std::string out;
  Writer w(&out, p);
  build(w);
  return out;
}

std::string ErrorReply(Protocol p, std::string_view message) {
  return Wire(p, [&](Writer& w) { w.Error(message); });
}

std::string OkReply(Protocol p) {
  return Wire(p, [](Writer& w) { w.SimpleString("OK"); });
}

// A node error as Redis clients expect one: a retryable condition as
// TRYAGAIN, lack of room as OOM, the rest as ERR, with the node's sentence.
std::string NodeError(Protocol p, const absl::Status& s) {
  const std::string message(s.message());
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return ErrorReply(p, "TRYAGAIN " + message);
    case absl::StatusCode::kResourceExhausted:
      return ErrorReply(p, "OOM " + message);
    default:
      return ErrorReply(p, "ERR " + message);
  }
}

std::string Quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg.substr(0, 128)) out += (c == '\'' || c == '\r' || c == '\n') ? ' ' : c;
  return out + "'";
}

std::string UnknownCommand(Protocol p, const Command& cmd) {
  std::vector<std::string> args;
  for (size_t i = 1; i < cmd.size() && i <= 16; ++i) args.push_back(Quote(cmd[i]) + " ");
  return ErrorReply(p, absl::StrCat("ERR unknown command ", Quote(cmd[0]),
                                    ", with args beginning with: ", absl::StrJoin(args, "")));
}

std::string WrongArity(Protocol p, const std::string& name) {
  return ErrorReply(p, absl::StrCat("ERR wrong number of arguments for '", name, "' command"));
}

bool ArityOk(int arity, size_t argc) {
  return arity >= 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
}

// "one", "quorum" or "all", as KVSTORE.CONSISTENCY takes them.
std::string Name(Consistency c) {
  return absl::AsciiStrToLower(std::string(replication::ConsistencyName(c)));
}

std::optional<Consistency> ParseConsistency(const std::string& s) {
  const std::string l = absl::AsciiStrToLower(s);
  if (l == "one") return Consistency::kOne;
  if (l == "quorum") return Consistency::kQuorum;
  if (l == "all") return Consistency::kAll;
  return std::nullopt;
}

std::atomic<uint64_t> g_commands{0};

// Where a served command's keys are, as COMMAND INFO gives them: the first
// argument that is a key, the last (-1: the last argument), and the step.
// All 0 for commands without keys.
struct KeySpec {
  int first = 0, last = 0, step = 0;
};

KeySpec KeysOf(const std::string& name) {
  static const auto* keyed = new std::map<std::string, KeySpec>{
      {"get", {1, 1, 1}},           {"set", {1, 1, 1}},    {"setex", {1, 1, 1}},
      {"psetex", {1, 1, 1}},        {"strlen", {1, 1, 1}}, {"ttl", {1, 1, 1}},
      {"pttl", {1, 1, 1}},          {"del", {1, -1, 1}},   {"unlink", {1, -1, 1}},
      {"exists", {1, -1, 1}},       {"mget", {1, -1, 1}},  {"mset", {1, -1, 2}},
      {"kvstore.locate", {1, 1, 1}}};
  auto it = keyed->find(name);
  return it == keyed->end() ? KeySpec{} : it->second;
}

// Whether a keyed command writes its keys (else it reads them).
bool IsWrite(const std::string& name) {
  return name == "set" || name == "setex" || name == "psetex" || name == "mset" || name == "del" ||
         name == "unlink";
}

// The ops of a batch over keys cmd[first], cmd[first + step], ...
std::vector<node::BatchOp> KeyOps(const Command& cmd, size_t first, size_t step,
                                  node::BatchOp::Kind kind, std::optional<Consistency> c) {
  std::vector<node::BatchOp> ops;
  for (size_t i = first; i < cmd.size(); i += step) {
    node::BatchOp& op = ops.emplace_back();
    op.kind = kind;
    op.args.key = cmd[i];
    op.args.consistency = c;
    if (kind == node::BatchOp::Kind::kPut) op.args.value = cmd[i + 1];
  }
  return ops;
}

// The first failed op's status, or OK.
absl::Status FirstError(const std::vector<node::BatchResult>& results) {
  for (const node::BatchResult& r : results) {
    if (!r.status.ok()) return r.status;
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> Commands::Keys(const Command& cmd) {
  const KeySpec k = KeysOf(absl::AsciiStrToLower(cmd[0]));
  std::vector<std::string> out;
  if (k.step == 0) return out;
  const size_t last = k.last < 0 ? cmd.size() - 1 : static_cast<size_t>(k.last);
  for (size_t i = k.first; i <= last && i < cmd.size(); i += k.step) out.push_back(cmd[i]);
  return out;
}

Commands::Commands(node::ClientApi* client, ServerFacts facts, node::AdminApi* admin,
                   const security::AccessPolicy* policy)
    : client_(client), admin_(admin), policy_(policy), facts_(std::move(facts)) {}

bool Commands::Authenticated(Session& s) const {
  if (s.authenticated || policy_ == nullptr || !policy_->checks_clients()) return true;
  if (!s.cert) return false;
  absl::StatusOr<const security::Grant*> grant =
      policy_->ClientGrant(security::Caller{.peer = s.peer, .cert = s.cert}, "RESP");
  if (!grant.ok()) return false;
  s.authenticated = true;
  s.grant = *grant;
  return true;
}

bool Commands::Authenticate(Session& s, const std::string& token) const {
  absl::StatusOr<const security::Grant*> grant =
      policy_->ClientGrant(security::Caller{.peer = s.peer, .token = token}, "AUTH");
  if (!grant.ok()) return false;
  s.authenticated = true;
  s.grant = *grant;
  return true;
}

size_t Commands::Count() { return Specs().size(); }

void Commands::Run(Session& s, const Command& cmd, Reply reply) {
  g_commands.fetch_add(1, std::memory_order_relaxed);
  const Protocol p = s.protocol;
  const std::string name = absl::AsciiStrToLower(cmd[0]);
  auto spec = Specs().find(name);
  if (spec == Specs().end()) return reply(UnknownCommand(p, cmd));
  if (!ArityOk(spec->second.arity, cmd.size())) return reply(WrongArity(p, name));
  if (!Authenticated(s) && name != "auth" && name != "hello" && name != "quit") {
    return reply(ErrorReply(p, "NOAUTH Authentication required."));
  }
  if (spec->second.refused != nullptr) {
    std::string upper = absl::AsciiStrToUpper(name);
    return reply(
        ErrorReply(p, absl::StrCat("ERR ", upper, " is not supported: ", spec->second.refused)));
  }
  const std::optional<Consistency> c = s.consistency;

  // -- Connection and server.
  if (name == "ping") {
    if (cmd.size() > 2) return reply(WrongArity(p, name));
    if (cmd.size() == 2) return reply(Wire(p, [&](Writer& w) { w.Bulk(cmd[1]); }));
    return reply(Wire(p, [](Writer& w) { w.SimpleString("PONG"); }));
  }
  if (name == "echo") return reply(Wire(p, [&](Writer& w) { w.Bulk(cmd[1]); }));
  if (name == "quit") {
    s.quit = true;
    return reply(OkReply(p));
  }
  if (name == "reset") {
    s.protocol = Protocol::kResp2;
    s.consistency.reset();
    s.name.clear();
    s.authenticated = false;  // a listed certificate authenticates again on use
    s.grant = nullptr;
    return reply(Wire(Protocol::kResp2, [](Writer& w) { w.SimpleString("RESET"); }));
  }
  if (name == "auth") {
    // AUTH token, or AUTH username token (Redis 6): the token alone names
    // the principal, the username is not checked.
    if (policy_ == nullptr || !policy_->checks_clients()) {
      return reply(ErrorReply(p,
                              "ERR AUTH <password> called without any password configured for "
                              "the default user. Are you sure your configuration is correct?"));
    }
    if (cmd.size() > 3) return reply(ErrorReply(p, "ERR syntax error"));
    if (!Authenticate(s, cmd.back())) return reply(ErrorReply(p, kWrongPass));
    return reply(OkReply(p));
  }
  if (name == "select") {
    if (cmd[1] == "0") return reply(OkReply(p));
    int64_t db = 0;
    if (!absl::SimpleAtoi(cmd[1], &db)) {
      return reply(ErrorReply(p, "ERR value is not an integer or out of range"));
    }
    return reply(ErrorReply(p, "ERR DB index is out of range"));
  }
  if (name == "hello") {
    Protocol want = s.protocol;
    size_t i = 1;
    if (cmd.size() > 1) {
      int64_t v = 0;
      if (!absl::SimpleAtoi(cmd[1], &v)) {
        return reply(ErrorReply(p, "ERR Protocol version is not an integer or out of range"));
      }
      if (v != 2 && v != 3) return reply(ErrorReply(p, "NOPROTO unsupported protocol version"));
      want = v == 3 ? Protocol::kResp3 : Protocol::kResp2;
      i = 2;
    }
    for (; i < cmd.size(); ++i) {
      const std::string opt = absl::AsciiStrToLower(cmd[i]);
      if (opt == "auth" && i + 2 < cmd.size()) {
        if (policy_ == nullptr || !policy_->checks_clients()) {
          return reply(ErrorReply(
              p, absl::StrCat(kWrongPass, " (this node has no --auth-file: drop AUTH)")));
        }
        if (!Authenticate(s, cmd[i + 2])) return reply(ErrorReply(p, kWrongPass));
        i += 2;
        continue;
      }
      if (opt == "setname" && i + 1 < cmd.size()) {
        s.name = cmd[++i];
        continue;
      }
      return reply(ErrorReply(p, absl::StrCat("ERR Syntax error in HELLO option '", cmd[i], "'")));
    }
    if (!Authenticated(s)) {
      return reply(ErrorReply(p,
                              "NOAUTH HELLO must be called with the client already "
                              "authenticated, otherwise the HELLO <proto> AUTH <user> <pass> "
                              "option can be used to authenticate the client and select the "
                              "RESP protocol version at the same time"));
    }
    s.protocol = want;
    return reply(Wire(want, [&](Writer& w) {
      w.MapHeader(7);
      w.Bulk("server");
      w.Bulk("kvstore");
      w.Bulk("version");
      w.Bulk(facts_.version);
      w.Bulk("proto");
      w.Integer(want == Protocol::kResp3 ? 3 : 2);
      w.Bulk("id");
      w.Integer(static_cast<int64_t>(s.id));
      w.Bulk("mode");
      w.Bulk("standalone");
      w.Bulk("role");
      w.Bulk("master");
      w.Bulk("modules");
      w.ArrayHeader(0);
    }));
  }
  if (name == "client") {
    const std::string sub = absl::AsciiStrToLower(cmd[1]);
    if (sub == "setname" && cmd.size() == 3) {
      if (cmd[2].find_first_of(" \n") != std::string::npos) {
        return reply(ErrorReply(p,
                                "ERR Client names cannot contain spaces, newlines or special "
                                "characters."));
      }
      s.name = cmd[2];
      return reply(OkReply(p));
    }
    if (sub == "getname" && cmd.size() == 2) {
      return reply(Wire(p, [&](Writer& w) { s.name.empty() ? w.Null() : w.Bulk(s.name); }));
    }
    if (sub == "id" && cmd.size() == 2) {
      return reply(Wire(p, [&](Writer& w) { w.Integer(static_cast<int64_t>(s.id)); }));
    }
    if (sub == "info" && cmd.size() == 2) {
      const std::string info = absl::StrCat(
          "id=", s.id, " addr=", s.peer, " name=", s.name,
          " user=", s.grant != nullptr ? s.grant->principal : std::string("default"),
          " age=", absl::ToInt64Seconds(absl::Now() - s.connected_at),
          " db=0 resp=", s.protocol == Protocol::kResp3 ? 3 : 2,
          " consistency=", s.consistency ? Name(*s.consistency) : std::string("default"), "\n");
      return reply(Wire(p, [&](Writer& w) { w.Verbatim("txt", info); }));
    }
    return reply(ErrorReply(p, absl::StrCat("ERR unknown subcommand or wrong number of arguments "
                                            "for '",
                                            cmd[1], "'. Try CLIENT HELP.")));
  }
  if (name == "command") {
    const std::string sub = cmd.size() > 1 ? absl::AsciiStrToLower(cmd[1]) : "";
    if (sub == "count") {
      return reply(Wire(p, [](Writer& w) { w.Integer(static_cast<int64_t>(Count())); }));
    }
    if (sub == "docs") return reply(Wire(p, [](Writer& w) { w.MapHeader(0); }));
    if (!sub.empty() && sub != "info") {
      return reply(
          ErrorReply(p, absl::StrCat("ERR unknown subcommand '", cmd[1], "'. Try COMMAND HELP.")));
    }
    // COMMAND [INFO name ...]: name, arity, flags, first key, last key, step.
    std::vector<std::string> names;
    if (sub == "info") {
      for (size_t i = 2; i < cmd.size(); ++i) names.push_back(absl::AsciiStrToLower(cmd[i]));
    } else {
      for (const auto& [n, spec] : Specs()) {
        if (spec.refused == nullptr) names.push_back(n);
      }
    }
    return reply(Wire(p, [&](Writer& w) {
      w.ArrayHeader(names.size());
      for (const std::string& n : names) {
        auto it = Specs().find(n);
        if (it == Specs().end() || it->second.refused != nullptr) {
          w.NullArray();
          continue;
        }
        const KeySpec k = KeysOf(n);
        w.ArrayHeader(6);
        w.Bulk(n);
        w.Integer(it->second.arity);
        w.SetHeader(0);
        w.Integer(k.first);
        w.Integer(k.last);
        w.Integer(k.step);
      }
    }));
  }
  if (name == "time") {
    const int64_t micros = absl::ToUnixMicros(absl::Now());
    return reply(Wire(p, [&](Writer& w) {
      w.ArrayHeader(2);
      w.Bulk(absl::StrCat(micros / 1000000));
      w.Bulk(absl::StrCat(micros % 1000000));
    }));
  }
  if (name == "dbsize") {
    return reply(Wire(p, [&](Writer& w) { w.Integer(static_cast<int64_t>(facts_.keys())); }));
  }
  if (name == "info") {
    const int64_t uptime = absl::ToInt64Seconds(absl::Now() - facts_.started);
    const std::string text = absl::StrCat(
        "# Server\r\nredis_version:7.0.0\r\nkvstore_version:", facts_.version,
        "\r\nredis_mode:standalone\r\nkvstore_node_id:", facts_.node_id,
        "\r\nprocess_id:", getpid(), "\r\nresp_addr:", facts_.resp_addr,
        "\r\nuptime_in_seconds:", uptime, "\r\nuptime_in_days:", uptime / 86400,
        "\r\n\r\n# Clients\r\nconnected_clients:", facts_.connected_clients(),
        "\r\n\r\n# Stats\r\ntotal_commands_processed:", g_commands.load(),
        "\r\n\r\n# Keyspace\r\n# this node's local records (tombstones included), not the "
        "cluster's\r\ndb0:keys=",
        facts_.keys(), ",expires=0,avg_ttl=0\r\n");
    return reply(Wire(p, [&](Writer& w) { w.Verbatim("txt", text); }));
  }
  if (name == "kvstore.consistency") {
    if (cmd.size() == 1) {
      return reply(Wire(p, [&](Writer& w) {
        w.Bulk(s.consistency ? Name(*s.consistency) : std::string("default"));
      }));
    }
    if (cmd.size() != 2) return reply(WrongArity(p, name));
    if (absl::AsciiStrToLower(cmd[1]) == "default") {
      s.consistency.reset();
      return reply(OkReply(p));
    }
    std::optional<Consistency> parsed = ParseConsistency(cmd[1]);
    if (!parsed) {
      return reply(ErrorReply(p, "ERR consistency must be one, quorum, all or default"));
    }
    s.consistency = parsed;
    return reply(OkReply(p));
  }

  // -- Keys: each one against the connection's grant first, as gRPC checks
  // each call's key; one refused key refuses the whole command, as in Redis.
  if (s.grant != nullptr && name != "kvstore.locate") {
    const security::KeyAccess access =
        IsWrite(name) ? security::KeyAccess::kWrite : security::KeyAccess::kRead;
    for (const std::string& key : Keys(cmd)) {
      absl::Status allowed =
          security::AccessPolicy::CheckKey(s.grant, access, key, absl::AsciiStrToUpper(name));
      if (!allowed.ok()) return reply(ErrorReply(p, "NOPERM " + std::string(allowed.message())));
    }
  }
  if (name == "get" || name == "strlen") {
    const bool strlen = name == "strlen";
    client_->Get(cmd[1], c, [p, strlen, reply](absl::StatusOr<node::GetReply> r) {
      if (!r.ok()) return reply(NodeError(p, r.status()));
      reply(Wire(p, [&](Writer& w) {
        if (strlen) return w.Integer(r->found ? static_cast<int64_t>(r->value.size()) : 0);
        r->found ? w.Bulk(r->value) : w.Null();
      }));
    });
    return;
  }
  if (name == "set" || name == "setex" || name == "psetex") {
    node::PutArgs args{.key = cmd[1], .value = cmd[2], .consistency = c};
    std::optional<int64_t> ttl_ms;
    const char* expire_cmd = "set";
    if (name != "set") {
      // SETEX key seconds value / PSETEX key milliseconds value.
      expire_cmd = name == "setex" ? "setex" : "psetex";
      args.value = cmd[3];
      int64_t v = 0;
      if (!absl::SimpleAtoi(cmd[2], &v)) {
        return reply(ErrorReply(p, "ERR value is not an integer or out of range"));
      }
      ttl_ms = name == "setex" ? v * 1000 : v;
      if (v <= 0 || v > kMaxExpire) {
        return reply(
            ErrorReply(p, absl::StrCat("ERR invalid expire time in '", expire_cmd, "' command")));
      }
    }
    for (size_t i = 3; name == "set" && i < cmd.size(); ++i) {
      const std::string opt = absl::AsciiStrToLower(cmd[i]);
      if (opt == "nx" || opt == "xx" || opt == "get" || opt == "keepttl") {
        return reply(ErrorReply(p, absl::StrCat("ERR SET ", absl::AsciiStrToUpper(opt),
                                                " is not supported: ", kNoRmw)));
      }
      if ((opt == "ex" || opt == "px" || opt == "exat" || opt == "pxat") && i + 1 < cmd.size() &&
          !ttl_ms) {
        int64_t v = 0;
        if (!absl::SimpleAtoi(cmd[++i], &v)) {
          return reply(ErrorReply(p, "ERR value is not an integer or out of range"));
        }
        if (v <= 0 || v > kMaxExpire) {
          return reply(ErrorReply(p, "ERR invalid expire time in 'set' command"));
        }
        const int64_t ms = opt == "ex" || opt == "exat" ? v * 1000 : v;
        // An absolute time already past still writes, expired at once (1 ms),
        // as Redis deletes the key.
        ttl_ms = opt == "exat" || opt == "pxat"
                     ? std::max<int64_t>(1, ms - absl::ToUnixMillis(absl::Now()))
                     : ms;
        continue;
      }
      return reply(ErrorReply(p, "ERR syntax error"));
    }
    if (ttl_ms) args.ttl = absl::Milliseconds(*ttl_ms);
    client_->Put(std::move(args), [p, reply](absl::StatusOr<replication::WriteResult> r) {
      reply(r.ok() ? OkReply(p) : NodeError(p, r.status()));
    });
    return;
  }
  if (name == "kvstore.locate") {
    // The replicas of a key and what each holds, as `kvctl locate` prints.
    if (admin_ == nullptr) return reply(ErrorReply(p, "ERR KVSTORE.LOCATE is not available here"));
    admin_->Locate(cmd[1], [p, reply](absl::StatusOr<node::LocateReply> r) {
      if (!r.ok()) return reply(NodeError(p, r.status()));
      reply(Wire(p, [&](Writer& w) {
        w.MapHeader(3);
        w.Bulk("key_id");
        w.Bulk(r->key_id.ToHex());
        w.Bulk("replication_factor");
        w.Integer(r->replication_factor);
        w.Bulk("replicas");
        w.ArrayHeader(r->replicas.size());
        for (const node::ReplicaLocation& l : r->replicas) {
          w.MapHeader(6);
          w.Bulk("id");
          w.Bulk(l.node.id.ToHex());
          w.Bulk("address");
          w.Bulk(l.node.address);
          w.Bulk("reachable");
          w.Boolean(l.reachable);
          w.Bulk("holds");
          w.Boolean(l.holds);
          w.Bulk("version");
          if (l.version) {
            w.Bulk(absl::StrCat(l.version->timestamp, "@", l.version->node_id));
          } else {
            w.Null();
          }
          w.Bulk("error");
          w.Bulk(l.error);
        }
      }));
    });
    return;
  }
  if (name == "ttl" || name == "pttl") {
    // -2: no such key; -1: no expiry; else the time left (TTL rounds to the
    // nearest second, as Redis does).
    const bool ms = name == "pttl";
    client_->Get(cmd[1], c, [p, ms, reply](absl::StatusOr<node::GetReply> r) {
      if (!r.ok()) return reply(NodeError(p, r.status()));
      int64_t left = -2;
      if (r->found) {
        left = -1;
        if (r->expires_at_ms != 0) {
          left = std::max<int64_t>(0, r->expires_at_ms - absl::ToUnixMillis(absl::Now()));
          if (!ms) left = (left + 500) / 1000;
        }
      }
      reply(Wire(p, [&](Writer& w) { w.Integer(left); }));
    });
    return;
  }
  if (name == "mget" || name == "exists") {
    const bool exists = name == "exists";
    node::RunBatch(client_, KeyOps(cmd, 1, 1, node::BatchOp::Kind::kGet, c),
                   [p, exists, reply](std::vector<node::BatchResult> r) {
                     if (absl::Status e = FirstError(r); !e.ok()) return reply(NodeError(p, e));
                     reply(Wire(p, [&](Writer& w) {
                       if (exists) {
                         return w.Integer(std::count_if(r.begin(), r.end(),
                                                        [](const auto& x) { return x.get.found; }));
                       }
                       w.ArrayHeader(r.size());
                       for (const node::BatchResult& x : r) {
                         x.get.found ? w.Bulk(x.get.value) : w.Null();
                       }
                     }));
                   });
    return;
  }
  if (name == "mset") {
    if (cmd.size() % 2 != 1) return reply(WrongArity(p, name));
    node::RunBatch(client_, KeyOps(cmd, 1, 2, node::BatchOp::Kind::kPut, c),
                   [p, reply](std::vector<node::BatchResult> r) {
                     absl::Status e = FirstError(r);
                     reply(e.ok() ? OkReply(p) : NodeError(p, e));
                   });
    return;
  }
  if (name == "del" || name == "unlink") {
    // The keys are read first, for the (advisory) count, then a tombstone
    // is written for each whatever was found, so that the delete does not
    // depend on the read.
    node::ClientApi* client = client_;
    std::vector<node::BatchOp> deletes = KeyOps(cmd, 1, 1, node::BatchOp::Kind::kDelete, c);
    node::RunBatch(client_, KeyOps(cmd, 1, 1, node::BatchOp::Kind::kGet, c),
                   [p, reply, client,
                    deletes = std::move(deletes)](std::vector<node::BatchResult> got) mutable {
                     const int64_t existed =
                         std::count_if(got.begin(), got.end(),
                                       [](const auto& x) { return x.status.ok() && x.get.found; });
                     node::RunBatch(client, std::move(deletes),
                                    [p, reply, existed](std::vector<node::BatchResult> r) {
                                      absl::Status e = FirstError(r);
                                      if (!e.ok()) return reply(NodeError(p, e));
                                      reply(Wire(p, [&](Writer& w) { w.Integer(existed); }));
                                    });
                   });
    return;
  }
  reply(UnknownCommand(p, cmd));  // in Specs() but not handled: a bug, told as unknown
}

}  // namespace kv::resp
