// kvctl's commands that make one call to one node, one function each
// (`status`, which asks every member, is in status.h). Each prints its
// answer on stdout as text or, with Output::kJson, as JSON lines
// (output.h), prints errors on stderr as text either way, and returns
// kvctl's exit code: 0 done, 1 get: not found, 2 a mistake or a server
// error other than UNAVAILABLE, 3 UNAVAILABLE (leave: the node stopped
// first), 4 leave incomplete.
#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "cmd/kvctl/output.h"
#include "proto/kv.grpc.pb.h"

namespace kv::kvctl {

// The node a command talks to, and how it prints. Not thread-safe.
struct Conn {
  std::string addr;                           // host:port, one of --addr's
  kvstore::v1::KV::Stub* kv = nullptr;        // not owned; REQUIRES: not null
  kvstore::v1::Admin::Stub* admin = nullptr;  // not owned; REQUIRES: not null
  kvstore::v1::Consistency consistency = kvstore::v1::CONSISTENCY_DEFAULT;
  absl::Duration timeout = absl::Seconds(5);  // of each call but leave's
  bool tls = false;                           // --cacert given (for a hint on failure)
  Output output = Output::kText;
  // Set by a command that failed because the node could not be reached at
  // all: another --addr may be.
  bool unreachable = false;
};

// The commands' arguments, as parsed from the command line.
struct Args {
  std::string key;
  std::string value;
  bool has_value = false;  // VALUE was given (it may be empty)
  std::string file;        // put --file
  uint32_t ttl_seconds = 0;
  bool newline = false;  // get --newline
  std::string snapshot_name;
  bool force = false;  // leave --force
  std::string drop_prefix;
  uint32_t drop_limit = 0;
};

int Put(Conn& c, const Args& a);
int Get(Conn& c, const Args& a);
int Del(Conn& c, const Args& a);
int Ping(Conn& c);
int Peers(Conn& c);
int Locate(Conn& c, const Args& a);
int Snapshot(Conn& c, const Args& a);
int Stats(Conn& c);
int DropKeys(Conn& c, const Args& a);
int Leave(Conn& c, const Args& a);

}  // namespace kv::kvctl
