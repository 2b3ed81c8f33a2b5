// The key commands of the RESP front door: GET, SET, MGET, MSET, DEL,
// EXISTS, TTL, ... on the node's client interface, the multi-key ones
// through node::RunBatch (Commands::Run dispatches every keyed command
// here, once the keys passed the connection's grant).
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/node/batch.h"
#include "src/resp/command_table.h"
#include "src/resp/commands.h"

namespace kv::resp {
namespace {

using replication::Consistency;

// The largest EX/PX/EXAT/PXAT accepted, so that milliseconds cannot overflow.
constexpr int64_t kMaxExpire = INT64_MAX / 1000 / 2;

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

void Commands::RunKey(Session& s, const std::string& name, const Command& cmd, Reply reply) {
  const Protocol p = s.protocol;
  const std::optional<Consistency> c = s.consistency;
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
