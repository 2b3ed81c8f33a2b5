#include "src/storage/group_commit.h"

#include <utility>

#include "absl/status/status.h"

namespace kv::storage {

GroupCommit::GroupCommit(Engine* engine, Options options)
    : engine_(engine), options_(options), thread_([this] { Run(); }) {}

GroupCommit::~GroupCommit() { Stop(); }

void GroupCommit::Apply(std::string key, Record rec, Done done) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back({{std::move(key), std::move(rec)}, std::move(done)});
      return;
    }
  }
  done(absl::UnavailableError("this node is shutting down; retry on another node"));
}

void GroupCommit::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t GroupCommit::groups() const {
  absl::MutexLock lock(&mu_);
  return groups_;
}

uint64_t GroupCommit::writes() const {
  absl::MutexLock lock(&mu_);
  return writes_;
}

bool GroupCommit::NextGroup(std::vector<Pending>* group) {
  group->clear();
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](GroupCommit* self)
           ABSL_NO_THREAD_SAFETY_ANALYSIS { return !self->queue_.empty() || self->stopping_; },
      this));
  if (queue_.empty()) return false;
  size_t n = 0, bytes = 0;
  while (n < queue_.size() && n < options_.max_writes) {
    bytes += queue_[n].write.key.size() + queue_[n].write.rec.value.size();
    if (n > 0 && bytes > options_.max_bytes) break;
    ++n;
  }
  if (n == queue_.size()) {
    group->swap(queue_);
  } else {
    group->assign(std::make_move_iterator(queue_.begin()),
                  std::make_move_iterator(queue_.begin() + static_cast<ptrdiff_t>(n)));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
  }
  ++groups_;
  writes_ += n;
  return true;
}

void GroupCommit::Run() {
  std::vector<Pending> group;
  std::vector<KeyedRecord> writes;
  while (NextGroup(&group)) {
    writes.clear();
    writes.reserve(group.size());
    for (Pending& p : group) writes.push_back(std::move(p.write));
    std::vector<absl::StatusOr<bool>> results = engine_->ApplyGroup(writes);
    for (size_t i = 0; i < group.size(); ++i) group[i].done(std::move(results[i]));
  }
}

}  // namespace kv::storage
