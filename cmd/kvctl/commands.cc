#include "cmd/kvctl/commands.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "cmd/kvctl/status.h"
#include "grpcpp/grpcpp.h"

namespace kv::kvctl {
namespace {

namespace v1 = kvstore::v1;

// Prints the server's error; 3 when the cluster is unavailable, 2 otherwise.
int Fail(Conn& c, const std::string& what, const grpc::Status& s) {
  // gRPC's codes are absl's, number for number.
  const std::string code = absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code()));
  std::fprintf(stderr, "kvctl: %s failed: %s: %s\n", what.c_str(), code.c_str(),
               s.error_message().c_str());
  c.unreachable = s.error_code() == grpc::StatusCode::UNAVAILABLE &&
                  s.error_message().find("failed to connect") != std::string::npos;
  // A TLS node closes a plaintext connection without a word.
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE && !c.tls &&
      s.error_message().find("Socket closed") != std::string::npos) {
    std::fprintf(stderr, "kvctl: if the node serves TLS, give --cacert (and --cert/--key)\n");
  }
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ? 3 : 2;
}

void SetDeadline(grpc::ClientContext* ctx, const Conn& c) {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + c.timeout));
}

std::string FormatVersion(const v1::Version& v) {
  return absl::StrFormat("%d.%d@%s", v.timestamp() >> 16, v.timestamp() & 0xffff,
                         v.node_id().substr(0, 8));
}

bool Json(const Conn& c) { return c.output == Output::kJson; }

// `resp` with the key it is about as its first field.
std::string WithKey(const std::string& key, const google::protobuf::Message& resp) {
  return JsonObject().String("key", key).Fields(ProtoJson(resp)).str();
}

// A write's answer (PutResponse or DeleteResponse): its version and acks.
template <typename Response>
int PrintWrite(const Conn& c, const std::string& key, const Response& resp) {
  if (Json(c)) {
    PrintJsonLine(WithKey(key, resp));
  } else {
    std::printf("OK version=%s acks=%u\n", FormatVersion(resp.version()).c_str(), resp.acks());
  }
  return 0;
}

}  // namespace

int Put(Conn& c, const Args& a) {
  std::string value = a.value;
  if (!a.file.empty()) {
    std::ifstream in(a.file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    value = ss.str();
  } else if (!a.has_value) {
    std::fprintf(stderr, "kvctl: put needs a VALUE or --file PATH\n");
    return 2;
  }
  v1::PutRequest req;
  req.set_key(a.key);
  req.set_value(value);
  req.set_consistency(c.consistency);
  req.set_ttl_seconds(a.ttl_seconds);
  v1::PutResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, c);
  grpc::Status s = c.kv->Put(&ctx, req, &resp);
  if (!s.ok()) return Fail(c, "put", s);
  return PrintWrite(c, a.key, resp);
}

int Get(Conn& c, const Args& a) {
  v1::GetRequest req;
  req.set_key(a.key);
  req.set_consistency(c.consistency);
  v1::GetResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, c);
  grpc::Status s = c.kv->Get(&ctx, req, &resp);
  if (!s.ok()) return Fail(c, "get", s);
  // JSON: the answer, found or not; the exit code still says which.
  if (Json(c)) PrintJsonLine(WithKey(a.key, resp));
  if (!resp.found()) {
    std::fprintf(stderr, "kvctl: key not found\n");
    return 1;
  }
  if (!Json(c)) {
    std::fwrite(resp.value().data(), 1, resp.value().size(), stdout);
    if (a.newline || isatty(STDOUT_FILENO)) std::printf("\n");
  }
  return 0;
}

int Del(Conn& c, const Args& a) {
  v1::DeleteRequest req;
  req.set_key(a.key);
  req.set_consistency(c.consistency);
  v1::DeleteResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, c);
  grpc::Status s = c.kv->Delete(&ctx, req, &resp);
  if (!s.ok()) return Fail(c, "del", s);
  return PrintWrite(c, a.key, resp);
}

int Ping(Conn& c) {
  v1::PingRequest req;
  v1::PingResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, c);
  const absl::Time start = absl::Now();
  grpc::Status s = c.kv->Ping(&ctx, req, &resp);
  if (!s.ok()) return Fail(c, "ping", s);
  const absl::Duration took = absl::Now() - start;
  if (Json(c)) {
    PrintJsonLine(JsonObject()
                      .Fields(ProtoJson(resp))
                      .Double("round_trip_seconds", absl::ToDoubleSeconds(took))
                      .str());
    return 0;
  }
  std::printf("PONG from %s at %s in %s\n", resp.node().id().c_str(), resp.node().address().c_str(),
              absl::FormatDuration(took).c_str());
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
  return 0;
}

int Peers(Conn& c) {
  v1::PeersResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, c);
  grpc::Status s = c.admin->Peers(&ctx, v1::PeersRequest(), &resp);
  if (!s.ok()) return Fail(c, "peers", s);
  if (Json(c)) {
    PrintJsonLine(ProtoJson(resp));
    return 0;
  }
  std::printf("self  %s  %s\n", resp.self().id().c_str(), resp.self().address().c_str());
  std::printf("%-40s  %-21s  %-7s  %6s  %5s  %-16s  %s\n", "ID", "ADDRESS", "STATE", "BUCKET",
              "PHI", "CLOCK OFFSET", "LAST HEARTBEAT");
  for (const v1::PeerEntry& p : resp.peers()) {
    std::string heard = p.last_heard_millis_ago() < 0
                            ? "never"
                            : absl::StrFormat("%dms ago", p.last_heard_millis_ago());
    // The peer's clock against this node's, +- half the round trip.
    std::string clock = p.has_clock_offset_micros()
                            ? absl::StrFormat("%+.1fms~%.1f", p.clock_offset_micros() / 1000.0,
                                              p.clock_round_trip_micros() / 2000.0)
                            : "-";
    std::printf("%-40s  %-21s  %-7s  %6d  %5.1f  %-16s  %s\n", p.node().id().c_str(),
                p.node().address().c_str(), StateName(p.state()), p.bucket(), p.phi(),
                clock.c_str(), heard.c_str());
  }
  return 0;
}

int Locate(Conn& c, const Args& a) {
  v1::LocateRequest req;
  req.set_key(a.key);
  v1::LocateResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, c);
  grpc::Status s = c.admin->Locate(&ctx, req, &resp);
  if (!s.ok()) return Fail(c, "locate", s);
  if (Json(c)) {
    PrintJsonLine(WithKey(a.key, resp));
    return 0;
  }
  std::printf("key %s  id %s  N=%u\n", a.key.c_str(), resp.key_id().c_str(),
              resp.replication_factor());
  std::printf("%-40s  %-21s  %-5s  %s\n", "REPLICA", "ADDRESS", "HOLDS", "VERSION");
  for (const v1::ReplicaLocation& r : resp.replicas()) {
    std::string version = !r.reachable()    ? "unreachable: " + r.error()
                          : r.has_version() ? FormatVersion(r.version())
                                            : "-";
    std::printf("%-40s  %-21s  %-5s  %s\n", r.node().id().c_str(), r.node().address().c_str(),
                r.holds() ? "yes" : "no", version.c_str());
  }
  return 0;
}

int Snapshot(Conn& c, const Args& a) {
  v1::SnapshotRequest req;
  req.set_name(a.snapshot_name);
  v1::SnapshotResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, c);
  grpc::Status s = c.admin->Snapshot(&ctx, req, &resp);
  if (!s.ok()) return Fail(c, "snapshot", s);
  if (Json(c)) {
    PrintJsonLine(ProtoJson(resp));
  } else {
    std::printf("OK snapshot written to %s on %s\n", resp.dir().c_str(), c.addr.c_str());
  }
  return 0;
}

int Stats(Conn& c) {
  v1::StatsResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, c);
  grpc::Status s = c.admin->Stats(&ctx, v1::StatsRequest(), &resp);
  if (!s.ok()) return Fail(c, "stats", s);
  if (Json(c)) {
    PrintJsonLine(ProtoJson(resp));
    return 0;
  }
  std::map<std::string, uint64_t> sorted(resp.counters().begin(), resp.counters().end());
  std::printf("node %s  %s\n", resp.self().id().c_str(), resp.self().address().c_str());
  for (const auto& [name, value] : sorted) {
    std::printf("%-34s %llu\n", name.c_str(), static_cast<unsigned long long>(value));
  }
  return 0;
}

int DropKeys(Conn& c, const Args& a) {
  v1::DropKeysRequest req;
  req.set_prefix(a.drop_prefix);
  req.set_limit(a.drop_limit);
  v1::DropKeysResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, c);
  grpc::Status s = c.admin->DropKeys(&ctx, req, &resp);
  if (!s.ok()) return Fail(c, "drop-keys", s);
  if (Json(c)) {
    PrintJsonLine(ProtoJson(resp));
  } else {
    std::printf("OK dropped %llu keys\n", static_cast<unsigned long long>(resp.dropped()));
  }
  return 0;
}

int Leave(Conn& c, const Args& a) {
  v1::LeaveRequest req;
  req.set_force(a.force);
  grpc::ClientContext ctx;  // no deadline: the handoff takes what it takes
  auto reader = c.admin->Leave(&ctx, req);
  v1::LeaveProgress p;
  std::string last_phase;
  while (reader->Read(&p)) {
    if (Json(c)) {
      PrintJsonLine(ProtoJson(p));
    } else {
      std::printf("%-10s pass %u: %llu/%llu keys moved, %llu bytes, %llu failed\n",
                  p.phase().c_str(), p.pass(), static_cast<unsigned long long>(p.keys_moved()),
                  static_cast<unsigned long long>(p.keys_total()),
                  static_cast<unsigned long long>(p.bytes_moved()),
                  static_cast<unsigned long long>(p.keys_failed()));
      std::fflush(stdout);
    }
    last_phase = p.phase();
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return Fail(c, "leave", s);
  // JSON: the last progress object's phase says how it ended.
  if (last_phase == "incomplete") {
    std::fprintf(stderr,
                 "kvctl: leave incomplete: %llu keys were not handed off to every new owner; "
                 "%s stays in the cluster and keeps serving (retry later, or kvctl leave "
                 "--force to leave anyway)\n",
                 static_cast<unsigned long long>(p.keys_failed()), c.addr.c_str());
    return 4;
  } else if (last_phase == "forced") {
    if (!Json(c)) {
      std::printf(
          "OK %s left the cluster (--force); %llu records were not acknowledged by every new "
          "owner: copies that only this node held are gone\n",
          c.addr.c_str(), static_cast<unsigned long long>(p.keys_failed()));
    }
  } else if (last_phase != "done") {
    std::fprintf(stderr, "kvctl: the node stopped before the leave was done (last phase: %s)\n",
                 last_phase.empty() ? "none" : last_phase.c_str());
    return 3;
  } else if (!Json(c)) {
    std::printf("OK %s left the cluster\n", c.addr.c_str());
  }
  return 0;
}

}  // namespace kv::kvctl
