#include "src/resp/command_table.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kv::resp {
namespace {

std::string Quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg.substr(0, 128)) out += (c == '\'' || c == '\r' || c == '\n') ? ' ' : c;
  return out + "'";
}

}  // namespace

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

KeySpec KeysOf(const std::string& name) {
  static const auto* keyed = new std::map<std::string, KeySpec>{
      {"get", {1, 1, 1}},           {"set", {1, 1, 1, true}},  {"setex", {1, 1, 1, true}},
      {"psetex", {1, 1, 1, true}},  {"strlen", {1, 1, 1}},     {"ttl", {1, 1, 1}},
      {"pttl", {1, 1, 1}},          {"del", {1, -1, 1, true}}, {"unlink", {1, -1, 1, true}},
      {"exists", {1, -1, 1}},       {"mget", {1, -1, 1}},      {"mset", {1, -1, 2, true}},
      {"kvstore.locate", {1, 1, 1}}};
  auto it = keyed->find(name);
  return it == keyed->end() ? KeySpec{} : it->second;
}

std::atomic<uint64_t>& CommandsProcessed() {
  static std::atomic<uint64_t> n{0};
  return n;
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

}  // namespace kv::resp
