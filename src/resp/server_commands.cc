// The connection and server commands of the RESP front door: PING, HELLO,
// AUTH, CLIENT, COMMAND, INFO, KVSTORE.CONSISTENCY, ... (Commands::Run
// dispatches every command without keys here).
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/resp/command_table.h"
#include "src/resp/commands.h"

namespace kv::resp {
namespace {

using replication::Consistency;

constexpr char kWrongPass[] = "WRONGPASS invalid username-password pair or user is disabled.";

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

}  // namespace

void Commands::RunServer(Session& s, const std::string& name, const Command& cmd, Reply reply) {
  const Protocol p = s.protocol;
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
        "\r\n\r\n# Stats\r\ntotal_commands_processed:", CommandsProcessed().load(),
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

  reply(UnknownCommand(p, cmd));  // in Specs() but not handled: a bug, told as unknown
}

}  // namespace kv::resp
