// Commands::Run: what every command goes through before it runs (known,
// arity, authenticated, not refused, its keys within the grant), then the
// connection and server commands (server_commands.cc) or the key commands
// (key_commands.cc).
#include "src/resp/commands.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "src/resp/command_table.h"

namespace kv::resp {

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
  CommandsProcessed().fetch_add(1, std::memory_order_relaxed);
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

  const KeySpec keys = KeysOf(name);
  if (keys.step == 0) return RunServer(s, name, cmd, std::move(reply));
  // Each key against the connection's grant first, as gRPC checks each
  // call's key; one refused key refuses the whole command, as in Redis.
  if (s.grant != nullptr && name != "kvstore.locate") {
    const security::KeyAccess access =
        keys.writes ? security::KeyAccess::kWrite : security::KeyAccess::kRead;
    for (const std::string& key : Keys(cmd)) {
      absl::Status allowed =
          security::AccessPolicy::CheckKey(s.grant, access, key, absl::AsciiStrToUpper(name));
      if (!allowed.ok()) return reply(ErrorReply(p, "NOPERM " + std::string(allowed.message())));
    }
  }
  RunKey(s, name, cmd, std::move(reply));
}

}  // namespace kv::resp
