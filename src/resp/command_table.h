// What the RESP front door knows of each Redis command (arity, keys, whether
// it is refused and why) and the reply helpers its commands share. Internal
// to kv_resp_server (commands.cc, server_commands.cc, key_commands.cc).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "src/replication/coordinator.h"
#include "src/resp/parser.h"
#include "src/resp/writer.h"

namespace kv::resp {

inline constexpr char kNoRmw[] = "kvstore has no atomic read-modify-write (see docs/resp.md)";

// What a command is: its arity as Redis counts it (the name included;
// negative: at least that many) and whether it is refused (the reason).
struct Spec {
  int arity;
  const char* refused = nullptr;  // why it is not served; null if served
};
// Every command by lowercase name.
const std::map<std::string, Spec>& Specs();

// Where a served command's keys are, as COMMAND INFO gives them: the first
// argument that is a key, the last (-1: the last argument), and the step;
// and whether the command writes them. All 0 for commands without keys.
struct KeySpec {
  int first = 0, last = 0, step = 0;
  bool writes = false;
};
KeySpec KeysOf(const std::string& name);

// Commands run since the process started (INFO's total_commands_processed).
std::atomic<uint64_t>& CommandsProcessed();

// One reply's wire bytes, built by `build`.
std::string Wire(Protocol p, const std::function<void(Writer&)>& build);
std::string ErrorReply(Protocol p, std::string_view message);
std::string OkReply(Protocol p);
// A node error as Redis clients expect one: a retryable condition as
// TRYAGAIN, lack of room as OOM, the rest as ERR, with the node's sentence.
std::string NodeError(Protocol p, const absl::Status& s);
std::string UnknownCommand(Protocol p, const Command& cmd);
std::string WrongArity(Protocol p, const std::string& name);
bool ArityOk(int arity, size_t argc);

}  // namespace kv::resp
