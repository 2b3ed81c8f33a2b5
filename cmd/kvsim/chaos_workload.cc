#include "cmd/kvsim/chaos_workload.h"

#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cmd/kvsim/client_call.h"
#include "src/util/executor.h"

namespace kv::sim {
namespace {

using replication::Consistency;

std::string VersionText(const storage::Version& v) {
  return chaos::VersionText(v.timestamp, v.node_id);
}

std::string ErrorText(const absl::Status& s) { return chaos::ErrorText(s.code(), s.message()); }

}  // namespace

ChaosWorkload::ChaosWorkload(ChaosOptions options, Cluster* cluster)
    : options_(std::move(options)),
      cluster_(cluster),
      rng_(options_.seed * 0x9e3779b97f4a7c15ULL + 5) {}

absl::StatusOr<std::unique_ptr<ChaosWorkload>> ChaosWorkload::Create(ChaosOptions options,
                                                                     Cluster* cluster) {
  std::unique_ptr<ChaosWorkload> w(new ChaosWorkload(std::move(options), cluster));
  for (const char* name : {"register", "set", "delete"}) {
    File& f = w->files_.emplace_back();
    f.name = name;
    const std::string path = absl::StrCat(w->options_.dir, "/", name, ".jsonl");
    std::remove(path.c_str());  // the writer appends
    absl::StatusOr<std::unique_ptr<chaos::HistoryWriter>> writer = chaos::HistoryWriter::Open(path);
    if (!writer.ok()) return writer.status();
    f.writer = *std::move(writer);
  }
  return w;
}

int64_t ChaosWorkload::NowNanos() const { return absl::ToUnixNanos(cluster_->clock().Now()); }

std::string ChaosWorkload::Process(const Client& c) const {
  return absl::StrCat(c.index + options_.clients * c.generation);
}

void ChaosWorkload::Start() {
  running_ = true;
  int started = 0;
  for (Kind kind : {Kind::kRegister, Kind::kSet, Kind::kDelete}) {
    for (int i = 0; i < options_.clients; ++i) {
      Client& c = clients_.emplace_back();
      c.kind = kind;
      c.index = i;
      cluster_->executor().After(absl::Milliseconds(started++), [this, &c] { Step(c); });
    }
  }
}

void ChaosWorkload::Step(Client& c) {
  if (!running_) return;
  auto next_value = [this, &c] { return absl::StrCat(Process(c), "-", c.seq++); };
  switch (c.kind) {
    case Kind::kRegister: {
      const std::string key = absl::StrCat(
          "reg-", std::uniform_int_distribution<int>(0, options_.register_keys - 1)(rng_));
      if (std::bernoulli_distribution(0.5)(rng_)) return Do(c, "write", key, next_value());
      return Do(c, "read", key, std::nullopt);
    }
    case Kind::kSet: {
      const std::string value = next_value();
      return Do(c, "add", absl::StrCat("set-", value), value);
    }
    case Kind::kDelete: {
      // write k, delete k, and a while later read k, interleaved across keys.
      const absl::Time now = cluster_->clock().Now();
      if (!c.to_delete.empty()) {
        const std::string key = std::exchange(c.to_delete, "");
        c.to_read.emplace_back(key, now);
        return Do(c, "delete", key, std::nullopt);
      }
      if (!c.to_read.empty() && now - c.to_read.front().second >= options_.read_back_after) {
        const std::string key = c.to_read.front().first;
        c.to_read.pop_front();
        return Do(c, "read", key, std::nullopt);
      }
      const std::string value = next_value();
      c.to_delete = absl::StrCat("del-", value);
      return Do(c, "write", c.to_delete, value);
    }
  }
}

void ChaosWorkload::Do(Client& c, const std::string& f, const std::string& key,
                       std::optional<std::string> value) {
  const int via = std::uniform_int_distribution<int>(0, cluster_->size() - 1)(rng_);
  File& file = FileOf(c.kind);
  if (file.seen.insert(key).second) file.keys.push_back(key);
  chaos::Event e{.process = Process(c), .type = "invoke", .f = f, .key = key, .value = value};
  e.node = cluster_->contact(via).address;
  e.time_ns = NowNanos();
  file.writer->Write(e);
  ++stats_.ops;
  // Records the completion and schedules the client's next step.
  auto finish = [this, &c, &file, e](const absl::Status& s, const std::string& version,
                                     std::optional<std::string> read) mutable {
    e.time_ns = NowNanos();
    if (s.ok()) {
      e.type = "ok";
      e.version = version;
      ++stats_.ok;
    } else {
      e.error = ErrorText(s);
      e.type = chaos::Classify(s.code(), s.message(), e.f != "read");
      ++(e.type == "fail" ? stats_.fail : stats_.info);
    }
    if (e.f == "read") e.value = std::move(read);
    file.writer->Write(e);
    if (e.type == "info") ++c.generation;  // the op may still be in flight
    cluster_->executor().After(options_.think, [this, &c] { Step(c); });
  };
  if (f == "read") {
    ClientCall<node::GetReply>(
        *cluster_, via, options_.timeout,
        [key](node::Node& n, node::ClientApi::GetCallback cb) {
          n.Get(key, Consistency::kQuorum, std::move(cb));
        },
        [finish](absl::StatusOr<node::GetReply> r) mutable {
          if (!r.ok()) return finish(r.status(), "", std::nullopt);
          finish(absl::OkStatus(), r->found ? VersionText(r->version) : "",
                 r->found ? std::optional<std::string>(r->value) : std::nullopt);
        });
    return;
  }
  ClientCall<replication::WriteResult>(
      *cluster_, via, options_.timeout,
      [f, key, value](node::Node& n, node::ClientApi::WriteCallback cb) {
        if (f == "delete") return n.Delete(key, Consistency::kQuorum, std::move(cb));
        n.Put({.key = key, .value = *value, .consistency = Consistency::kQuorum}, std::move(cb));
      },
      [finish](absl::StatusOr<replication::WriteResult> r) mutable {
        finish(r.status(), r.ok() ? VersionText(r->version) : "", std::nullopt);
      });
}

void ChaosWorkload::AfterHeal(std::function<void()> done) {
  // Each node's own record of every key, as `kvchaos replicas` fetches it.
  for (const File& f : files_) {
    std::ofstream out(absl::StrCat(options_.dir, "/replicas-", f.name, ".jsonl"));
    for (const std::string& key : f.keys) {
      for (int i = 0; i < cluster_->size(); ++i) {
        chaos::ReplicaAnswer a{.key = key, .node = cluster_->contact(i).address};
        absl::StatusOr<std::optional<storage::Record>> r =
            cluster_->up(i) ? cluster_->engine(i).Read(key) : absl::UnavailableError("node down");
        if (!r.ok()) {
          a.error = ErrorText(r.status());
        } else if ((a.found = r->has_value())) {
          a.tombstone = (*r)->tombstone;
          a.timestamp = (*r)->version.timestamp;
          a.node_id = (*r)->version.node_id;
        }
        out << chaos::ToJson(a) << "\n";
      }
    }
  }
  // Then every key at QUORUM as process "final", up to 5 nodes each.
  auto keys = std::make_shared<std::vector<std::pair<File*, std::string>>>();
  for (File& f : files_) {
    for (const std::string& k : f.keys) keys->emplace_back(&f, k);
  }
  util::Sequentially(
      &cluster_->executor(), keys->size(),
      [this, keys](size_t i, std::function<void(bool)> next) {
        FinalRead(*(*keys)[i].first, (*keys)[i].second, i, 0, std::move(next));
      },
      std::move(done));
}

void ChaosWorkload::FinalRead(File& file, const std::string& key, size_t i, int attempt,
                              std::function<void(bool)> next) {
  constexpr int kAttempts = 5;
  const int via = static_cast<int>((i + static_cast<size_t>(attempt)) % cluster_->size());
  chaos::Event e{.process = "final", .type = "invoke", .f = "read", .key = key};
  e.node = cluster_->contact(via).address;
  e.time_ns = NowNanos();
  file.writer->Write(e);
  ClientCall<node::GetReply>(
      *cluster_, via, absl::Seconds(2),
      [key](node::Node& n, node::ClientApi::GetCallback cb) {
        n.Get(key, Consistency::kQuorum, std::move(cb));
      },
      [this, e, &file, key, i, attempt, next](absl::StatusOr<node::GetReply> r) mutable {
        e.time_ns = NowNanos();
        e.type = r.ok() ? "ok" : "fail";
        if (r.ok() && r->found) {
          e.value = r->value;
          e.version = VersionText(r->version);
        }
        if (!r.ok()) e.error = ErrorText(r.status());
        file.writer->Write(e);
        if (r.ok()) return next(true);
        if (attempt + 1 < kAttempts) return FinalRead(file, key, i, attempt + 1, std::move(next));
        ++stats_.final_unread;
        next(true);
      });
}

}  // namespace kv::sim
