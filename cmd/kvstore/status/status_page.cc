#include "cmd/kvstore/status/status_page.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/match.h"
#include "cmd/kvstore/status/ring.h"
#include "proto/kv.grpc.pb.h"

namespace kv::cmd::status {
namespace {

namespace v1 = kvstore::v1;

// The repair counters the page lists (docs/operations.md, "Counters").
bool IsRepairCounter(const std::string& name) {
  for (const char* prefix :
       {"anti_entropy_", "handoff_", "hints_", "purged_", "leave_", "read_repairs"}) {
    if (absl::StartsWith(name, prefix)) return true;
  }
  return false;
}

// Current values rather than counts: no "last minute" increase.
bool IsLevel(const std::string& name) { return name == "hints_pending" || name == "hints_bytes"; }

bool IsClientCall(const prometheus::ClientMetric& m) {
  static const std::set<std::string> kMethods = {"Put", "Get", "Delete", "Batch"};
  bool kv = false, method = false;
  for (const auto& l : m.label) {
    if (l.name == "service") kv = l.value == "kvstore.v1.KV";
    if (l.name == "method") method = kMethods.contains(l.value);
  }
  return kv && method;
}

std::string StateOf(const membership::Membership::PeerView& p) {
  if (p.left) return "left";
  if (p.dead) return "dead";
  switch (p.state) {
    case membership::PeerState::kSuspect:
      return "suspect";
    case membership::PeerState::kDown:
      return "down";
    default:
      return "alive";
  }
}

uint64_t Counter(const v1::StatsResponse& s, const std::string& name) {
  auto it = s.counters().find(name);
  return it == s.counters().end() ? 0 : it->second;
}

std::optional<uint64_t> Find(const std::vector<std::pair<std::string, uint64_t>>& stats,
                             const std::string& name) {
  for (const auto& [n, v] : stats) {
    if (n == name) return v;
  }
  return std::nullopt;
}

}  // namespace

StatusPage::StatusPage(StatusPageOptions options)
    : o_(std::move(options)), recent_(o_.bounds, o_.window), sampler_([this] { SampleLoop(); }) {}

StatusPage::~StatusPage() { Stop(); }

void StatusPage::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  sampler_.join();
}

void StatusPage::SampleLoop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.Unlock();
    Sample s = TakeSample();
    mu_.Lock();
    recent_.Add(std::move(s));
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), o_.sample_every);
  }
}

Sample StatusPage::TakeSample() const {
  Sample s;
  s.at = absl::Now();
  s.buckets.assign(o_.bounds.size(), 0);
  if (o_.durations != nullptr) {
    for (const prometheus::MetricFamily& family : o_.durations->Collect()) {
      for (const prometheus::ClientMetric& m : family.metric) {
        if (!IsClientCall(m)) continue;
        s.requests += m.histogram.sample_count;
        for (size_t i = 0; i < m.histogram.bucket.size() && i < s.buckets.size(); ++i) {
          s.buckets[i] += m.histogram.bucket[i].cumulative_count;
        }
      }
    }
  }
  for (const auto& [name, value] : o_.admin->Stats()) {
    if (IsRepairCounter(name) && !IsLevel(name)) s.counters[name] = value;
  }
  return s;
}

std::shared_ptr<grpc::Channel> StatusPage::ChannelTo(const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto it = channels_.find(address);
  if (it != channels_.end()) return it->second;
  if (channels_.size() >= 4 * o_.max_asked) channels_.clear();  // members churned
  auto channel = grpc::CreateChannel(
      address, o_.member_credentials ? o_.member_credentials : grpc::InsecureChannelCredentials());
  channels_[address] = channel;
  return channel;
}

std::optional<double> StatusPage::OpsRate(const dht::NodeId& id, uint64_t ops, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = ops_seen_.try_emplace(id, now, ops);
  if (inserted) return std::nullopt;
  const auto [then, before] = it->second;
  const absl::Duration span = now - then;
  if (span < absl::Seconds(1)) return std::nullopt;
  it->second = {now, ops};
  if (ops < before || span > 10 * o_.window) return std::nullopt;  // restarted, or too old
  return (ops - before) / absl::ToDoubleSeconds(span);
}

void StatusPage::AskMembers(std::vector<MemberRow*> rows) {
  struct Call {
    grpc::ClientContext ctx;
    v1::StatsRequest request;
    v1::StatsResponse response;
    grpc::Status status;
    std::unique_ptr<v1::Admin::Stub> stub;
  };
  // Shared with the callbacks, which may still be unlocking it when the
  // wait below returns.
  struct Progress {
    absl::Mutex mu;
    size_t done ABSL_GUARDED_BY(mu) = 0;
    size_t want = 0;
    bool Done() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return done == want; }
  };
  auto progress = std::make_shared<Progress>();
  progress->want = rows.size();
  std::vector<std::unique_ptr<Call>> calls;
  for (MemberRow* row : rows) {
    auto call = std::make_unique<Call>();
    call->ctx.set_deadline(absl::ToChronoTime(absl::Now() + o_.ask_timeout));
    call->stub = v1::Admin::NewStub(ChannelTo(row->address));
    // `calls` keeps the call alive until its callback has run (the wait
    // below), as gRPC requires of the context.
    Call* c = call.get();
    calls.push_back(std::move(call));
    c->stub->async()->Stats(&c->ctx, &c->request, &c->response, [c, progress](grpc::Status s) {
      c->status = std::move(s);
      absl::MutexLock lock(&progress->mu);
      ++progress->done;
    });
  }
  {
    // Every call ends by its deadline, so this wait is bounded.
    absl::MutexLock lock(&progress->mu);
    progress->mu.Await(absl::Condition(progress.get(), &Progress::Done));
  }
  const absl::Time now = absl::Now();
  for (size_t i = 0; i < rows.size(); ++i) {
    MemberRow& row = *rows[i];
    const Call& c = *calls[i];
    if (!c.status.ok()) {
      row.error = c.status.error_message();
      continue;
    }
    row.keys = Counter(c.response, "keys");
    row.stored_bytes = Counter(c.response, "stored_bytes");
    row.version = c.response.version();
    row.uptime = absl::Seconds(c.response.uptime_seconds());
    row.ops_per_second = OpsRate(row.id, c.response.coordinated_operations(), now);
  }
}

PageModel StatusPage::Model() {
  PageModel m;
  m.rendered_at = absl::Now();
  m.refresh_seconds = o_.refresh_seconds;

  const node::AdminApi& admin = *o_.admin;
  const std::vector<std::pair<std::string, uint64_t>> stats = admin.Stats();
  const node::AdminApi::Facts facts = admin.facts();
  MemberRow self{
      .id = admin.self().id, .address = admin.self().address, .state = "alive", .self = true};
  self.keys = Find(stats, "keys");
  self.stored_bytes = Find(stats, "stored_bytes");
  self.version = facts.version.empty() ? o_.version : facts.version;
  self.uptime = facts.uptime;
  self.ops_per_second = OpsRate(self.id, facts.coordinated_operations, m.rendered_at);
  m.members.push_back(self);

  std::vector<membership::Membership::PeerView> peers = admin.Peers();
  std::sort(peers.begin(), peers.end(), [](const auto& a, const auto& b) {
    return RingPosition(a.contact.id) < RingPosition(b.contact.id);
  });
  for (const auto& p : peers) {
    MemberRow row{.id = p.contact.id, .address = p.contact.address, .state = StateOf(p)};
    if (p.last_heard != absl::InfinitePast()) {
      row.last_heard = m.rendered_at - p.last_heard;
      row.phi = p.phi;
    }
    m.members.push_back(std::move(row));
  }
  std::vector<MemberRow*> ask;
  for (size_t i = 1; i < m.members.size(); ++i) {
    if (m.members[i].state == "left") continue;
    if (ask.size() == o_.max_asked) {
      ++m.not_asked;
      continue;
    }
    ask.push_back(&m.members[i]);
  }
  AskMembers(std::move(ask));
  m.self = m.members.front();

  std::optional<RecentSummary> recent;
  {
    absl::MutexLock lock(&mu_);
    recent = recent_.Summary();
  }
  if (o_.durations != nullptr) m.recent = recent;
  for (const auto& [name, value] : stats) {
    if (!IsRepairCounter(name)) continue;
    CounterRow row{.name = name, .total = value};
    if (recent && !IsLevel(name)) {
      auto it = recent->counters.find(name);
      if (it != recent->counters.end()) row.last_minute = it->second;
    }
    m.repair.push_back(std::move(row));
  }
  return m;
}

metrics::Response StatusPage::Serve(const metrics::Request&) {
  return {.status = 200, .content_type = "text/html; charset=utf-8", .body = RenderPage(Model())};
}

}  // namespace kv::cmd::status
