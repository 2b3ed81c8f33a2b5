// kvstore's command line: the flags besides the security ones
// (security_flags.h), their defaults, and the node options they make.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "src/node/node.h"
#include "src/util/address_prefix.h"

namespace kv::cmd {

struct Flags {
  std::string addr = "127.0.0.1:50051";
  std::string advertise;
  std::vector<std::string> peers;
  std::string node_id;
  int replicas = 3;
  int k = 20;
  int alpha = 3;
  std::string heartbeat_interval = "500ms";
  std::string failure_timeout = "3s";
  std::string rpc_timeout = "2s";
  std::string speculative_read_after = "20ms";
  std::string max_clock_offset = "500ms";
  std::string consistency = "quorum";
  size_t max_key_bytes = 1024;
  size_t max_value_bytes = 1 << 20;
  size_t max_memory_bytes = 0;  // 0 = unlimited
  std::string log_level = "info";
  std::string log_format = "text";
  std::string data_dir;
  std::string sync = "always";
  std::string discover;
  std::string dead_after = "5m";
  std::string anti_entropy_interval = "1m";
  std::string tombstone_grace = "1h";
  size_t max_hints_bytes = 64u << 20;
  std::string backup_dir;
  std::vector<std::string> admin_from;
  std::string metrics_addr;  // empty: no metrics endpoint
  std::string resp_addr;     // empty: no Redis-protocol listener
  bool leave_on_shutdown = false;
  bool enable_test_hooks = false;
};

// Declares every flag of Flags on `app`, with its help and checks.
void AddFlags(CLI::App& app, Flags* f);

// The node's options from the flags; exits (Die) with a sentence naming the
// flag when one is wrong.
node::NodeOptions ToOptions(const Flags& f);

// --admin-from: the address prefixes, besides loopback, that may make
// state-changing Admin calls.
std::vector<util::AddressPrefix> AdminFrom(const Flags& f);

// A duration flag's value ("500ms", "2m"); exits naming the flag if malformed.
absl::Duration DurationFlag(const char* name, const std::string& text);

// Prints "kvstore: <why>" on stderr and exits with code 2 (a bad command
// line or setup).
[[noreturn]] void Die(const std::string& why);

}  // namespace kv::cmd
