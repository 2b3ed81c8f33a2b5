// The reads kvchaos makes after the nemesis has healed the cluster.
#include <atomic>
#include <fstream>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "cmd/kvchaos/workload.h"

namespace kv::chaos {

namespace v1 = kvstore::v1;

int64_t FinalReads(const std::vector<std::string>& keys, Nodes& nodes, HistoryWriter& history,
                   absl::Duration timeout, int attempts, int threads) {
  std::atomic<size_t> next{0};
  std::atomic<int64_t> unread{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (size_t i = next++; i < keys.size(); i = next++) {
        bool ok = false;
        for (int a = 0; a < attempts && !ok; ++a) {
          const size_t node = (i + static_cast<size_t>(a + t)) % nodes.size();
          Event e{.process = "final", .type = "invoke", .f = "read", .key = keys[i]};
          e.node = nodes.address(node);
          e.time_ns = MonotonicNanos();
          history.Write(e);
          Outcome o = Get(nodes.kv(node), keys[i], timeout, /*wait_for_ready=*/true);
          e.time_ns = MonotonicNanos();
          e.type = o.type;
          e.value = o.value;
          e.error = o.error;
          e.version = o.version;
          history.Write(e);
          ok = o.type == "ok";
        }
        if (!ok) ++unread;
      }
    });
  }
  for (std::thread& w : workers) w.join();
  return unread.load();
}

namespace {

constexpr int kFetchAttempts = 5;

std::string ReplicaLine(const std::string& key, const std::string& node, const grpc::Status& s,
                        const v1::FetchResponse& resp) {
  ReplicaAnswer a{.key = key, .node = node};
  if (!s.ok()) {
    a.error = ErrorText(s);
  } else if ((a.found = resp.found())) {
    a.tombstone = resp.record().tombstone();
    a.timestamp = resp.record().version().timestamp();
    a.node_id = resp.record().version().node_id();
  }
  return ToJson(a);
}

}  // namespace

bool DumpReplicas(const std::vector<std::string>& keys, Nodes& nodes, const std::string& out_path,
                  absl::Duration timeout) {
  std::ofstream out(out_path, std::ios::trunc);
  if (!out) {
    std::fprintf(stderr, "kvchaos: cannot write %s\n", out_path.c_str());
    return false;
  }
  // One thread per node; lines are collected per node and written in order.
  std::vector<std::vector<std::string>> lines(nodes.size());
  std::vector<std::thread> workers;
  for (size_t n = 0; n < nodes.size(); ++n) {
    workers.emplace_back([&, n] {
      for (const std::string& key : keys) {
        v1::FetchRequest req;
        req.set_key(key);
        v1::FetchResponse resp;
        grpc::Status s;
        for (int attempt = 0; attempt < kFetchAttempts; ++attempt) {
          grpc::ClientContext ctx;
          ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
          ctx.set_wait_for_ready(true);  // the cluster is healed: wait for the connection
          s = nodes.peer(n).Fetch(&ctx, req, &resp);
          if (s.ok()) break;
        }
        lines[n].push_back(ReplicaLine(key, nodes.address(n), s, resp));
      }
    });
  }
  for (std::thread& w : workers) w.join();
  for (const auto& per_node : lines) {
    for (const std::string& l : per_node) out << l << "\n";
  }
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace kv::chaos
