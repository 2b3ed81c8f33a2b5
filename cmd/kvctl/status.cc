#include "cmd/kvctl/status.h"

#include <cstdio>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "proto/kv.grpc.pb.h"

namespace kv::kvctl {
namespace {

namespace v1 = kvstore::v1;

// What one member answered (or why it did not).
struct Member {
  std::string id, address;
  std::optional<v1::StatsResponse> stats;  // first sample
  std::optional<uint64_t> ops_later;       // coordinated_operations of the second sample
  std::optional<v1::PeersResponse> view;   // its routing table
  std::string error;                       // why stats or view is missing
};

// A member as the table and the JSON show it.
struct Row {
  const Member* member;
  std::string state;                        // what most other members say, e.g. "alive"
  std::map<std::string, std::string> seen;  // viewer address -> state
  std::vector<std::string> disagreements;   // "ADDRESS says STATE", one per dissenting viewer
  std::optional<double> ops_per_second;
  bool healthy;  // reachable, alive, and all views agree
};

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return ctx;
}

std::unique_ptr<v1::Admin::Stub> Dial(const std::string& addr, const StatusOptions& o) {
  return v1::Admin::NewStub(grpc::CreateChannel(addr, o.credentials));
}

void Ask(Member* m, const StatusOptions& o) {
  auto admin = Dial(m->address, o);
  v1::StatsResponse stats;
  grpc::Status s = admin->Stats(Context(o.timeout).get(), v1::StatsRequest(), &stats);
  if (!s.ok()) {
    m->error = s.error_message();
    return;
  }
  m->stats = std::move(stats);
  v1::PeersResponse view;
  s = admin->Peers(Context(o.timeout).get(), v1::PeersRequest(), &view);
  if (s.ok()) m->view = std::move(view);
}

void AskOps(Member* m, const StatusOptions& o) {
  v1::StatsResponse stats;
  if (Dial(m->address, o)->Stats(Context(o.timeout).get(), v1::StatsRequest(), &stats).ok()) {
    m->ops_later = stats.coordinated_operations();
  }
}

// Asks every member of `first` (the answer of the member asked first)
// twice, o.rate_window apart; *window is the time between the samples.
std::vector<Member> AskMembers(const v1::PeersResponse& first, const StatusOptions& o,
                               absl::Duration* window) {
  // The members: the node asked, then every contact it knows that has not left.
  std::vector<Member> members;
  members.push_back({.id = first.self().id(), .address = first.self().address()});
  for (const v1::PeerEntry& p : first.peers()) {
    if (!p.left()) members.push_back({.id = p.node().id(), .address = p.node().address()});
  }
  const absl::Time asked = absl::Now();
  {
    std::vector<std::future<void>> calls;
    for (Member& m : members) calls.push_back(std::async(std::launch::async, Ask, &m, o));
  }
  absl::SleepFor(o.rate_window - (absl::Now() - asked));
  *window = absl::Now() - asked;
  {
    std::vector<std::future<void>> calls;
    for (Member& m : members) {
      if (m.stats) calls.push_back(std::async(std::launch::async, AskOps, &m, o));
    }
  }
  return members;
}

// Each member's state as most others see it, and who disagrees.
std::vector<Row> Judge(const std::vector<Member>& members, absl::Duration window) {
  // How each member is seen by the others: id -> (viewer address -> state).
  std::map<std::string, std::map<std::string, std::string>> seen;
  for (const Member& viewer : members) {
    if (!viewer.view) continue;
    for (const v1::PeerEntry& p : viewer.view->peers()) {
      seen[p.node().id()][viewer.address] = p.left() ? "left" : StateName(p.state());
    }
  }
  std::vector<Row> rows;
  for (const Member& m : members) {
    Row r{.member = &m, .state = "unknown", .seen = seen[m.id]};
    // The state most viewers give.
    std::map<std::string, int> votes;
    for (const auto& [viewer, state] : r.seen) ++votes[state];
    int most = 0;
    for (const auto& [st, n] : votes) {
      if (n > most) r.state = st, most = n;
    }
    if (r.seen.empty() && m.stats) r.state = "alive";  // a member alone
    for (const auto& [viewer, st] : r.seen) {
      if (st != r.state) r.disagreements.push_back(absl::StrCat(viewer, " says ", st));
    }
    r.healthy = m.stats && r.state == "alive" && r.disagreements.empty();
    if (m.stats && m.ops_later && *m.ops_later >= m.stats->coordinated_operations()) {
      r.ops_per_second =
          (*m.ops_later - m.stats->coordinated_operations()) / absl::ToDoubleSeconds(window);
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string Bytes(uint64_t b) {
  if (b >= (uint64_t{1} << 30)) return absl::StrFormat("%.1f GiB", b / double(1 << 30));
  if (b >= (uint64_t{1} << 20)) return absl::StrFormat("%.1f MiB", b / double(1 << 20));
  if (b >= (uint64_t{1} << 10)) return absl::StrFormat("%.1f KiB", b / double(1 << 10));
  return absl::StrCat(b, " B");
}

std::string Uptime(int64_t s) {
  if (s >= 86400) return absl::StrFormat("%dd%02dh", s / 86400, s % 86400 / 3600);
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, s % 3600 / 60);
  return absl::StrFormat("%dm%02ds", s / 60, s % 60);
}

uint64_t Counter(const v1::StatsResponse& s, const std::string& name) {
  auto it = s.counters().find(name);
  return it == s.counters().end() ? 0 : it->second;
}

void PrintTable(const std::vector<Row>& rows) {
  std::printf("%-10s  %-21s  %-11s  %9s  %10s  %8s  %-8s  %-8s  %s\n", "MEMBER", "ADDRESS", "STATE",
              "KEYS", "BYTES", "OPS/S", "VERSION", "UPTIME", "VIEWS");
  for (const Row& r : rows) {
    const Member& m = *r.member;
    const std::string views = r.disagreements.empty()
                                  ? absl::StrFormat("%d agree", static_cast<int>(r.seen.size()))
                                  : absl::StrJoin(r.disagreements, "; ");
    if (!m.stats) {
      std::printf("%-10s  %-21s  %-11s  %9s  %10s  %8s  %-8s  %-8s  %s\n",
                  m.id.substr(0, 10).c_str(), m.address.c_str(),
                  (r.state + ", unreachable").c_str(), "-", "-", "-", "-", "-", views.c_str());
      continue;
    }
    const v1::StatsResponse& st = *m.stats;
    const std::string ops = r.ops_per_second ? absl::StrFormat("%.0f", *r.ops_per_second) : "-";
    std::printf("%-10s  %-21s  %-11s  %9llu  %10s  %8s  %-8s  %-8s  %s\n",
                m.id.substr(0, 10).c_str(), m.address.c_str(), r.state.c_str(),
                static_cast<unsigned long long>(Counter(st, "keys")),
                Bytes(Counter(st, "stored_bytes")).c_str(), ops.c_str(), st.version().c_str(),
                Uptime(st.uptime_seconds()).c_str(), views.c_str());
  }
}

// One object for the whole cluster (docs/operations.md, "kvctl -o json").
void PrintJson(const std::vector<Row>& rows, bool healthy) {
  std::vector<std::string> members;
  for (const Row& r : rows) {
    const Member& m = *r.member;
    JsonObject views;
    for (const auto& [viewer, state] : r.seen) views.String(viewer, state);
    JsonObject o;
    o.String("id", m.id)
        .String("address", m.address)
        .String("state", r.state)
        .Bool("reachable", m.stats.has_value())
        .String("error", m.stats ? "" : m.error);
    if (m.stats) {
      o.Uint("keys", Counter(*m.stats, "keys"))
          .Uint("stored_bytes", Counter(*m.stats, "stored_bytes"))
          .String("version", m.stats->version())
          .Int("uptime_seconds", m.stats->uptime_seconds());
    } else {
      o.Null("keys").Null("stored_bytes").Null("version").Null("uptime_seconds");
    }
    if (r.ops_per_second) {
      o.Double("ops_per_second", *r.ops_per_second);
    } else {
      o.Null("ops_per_second");
    }
    o.Raw("views", views.str()).Bool("healthy", r.healthy);
    members.push_back(o.str());
  }
  PrintJsonLine(JsonObject()
                    .Raw("members", absl::StrCat("[", absl::StrJoin(members, ","), "]"))
                    .Bool("healthy", healthy)
                    .str());
}

}  // namespace

const char* StateName(v1::PeerState s) {
  switch (s) {
    case v1::ALIVE:
      return "alive";
    case v1::SUSPECT:
      return "suspect";
    case v1::DOWN:
      return "down";
    case v1::DEAD:
      return "dead";
    default:
      return "unknown";
  }
}

int Status(const StatusOptions& o) {
  v1::PeersResponse first;
  grpc::Status s = Dial(o.addr, o)->Peers(Context(o.timeout).get(), v1::PeersRequest(), &first);
  if (!s.ok()) {
    std::fprintf(stderr, "kvctl: status failed: cannot ask %s for its members: %s\n",
                 o.addr.c_str(), s.error_message().c_str());
    return 3;
  }
  absl::Duration window;
  const std::vector<Member> members = AskMembers(first, o, &window);
  const std::vector<Row> rows = Judge(members, window);
  bool healthy = true;
  for (const Row& r : rows) healthy = healthy && r.healthy;
  if (o.output == Output::kJson) {
    PrintJson(rows, healthy);
  } else {
    PrintTable(rows);
  }
  for (const Member& m : members) {
    if (!m.stats) {
      std::fprintf(stderr, "kvctl: %s did not answer: %s\n", m.address.c_str(), m.error.c_str());
    }
  }
  if (!healthy) {
    std::fprintf(stderr, "kvctl: not every member is alive and agreed on by all\n");
  }
  return healthy ? 0 : 1;
}

}  // namespace kv::kvctl
