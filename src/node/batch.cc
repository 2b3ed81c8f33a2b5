#include "src/node/batch.h"

#include <atomic>
#include <memory>
#include <utility>

namespace kv::node {
namespace {

// The results being filled. Each op writes only its own slot; the last op
// to complete (the atomic count's release/acquire orders the writes before
// it) hands them all to `done`.
struct Pending {
  Pending(size_t n, BatchDone d) : results(n), left(n), done(std::move(d)) {}

  void Finish() {
    if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) done(std::move(results));
  }

  std::vector<BatchResult> results;
  std::atomic<size_t> left;
  BatchDone done;
};

}  // namespace

void RunBatch(ClientApi* client, std::vector<BatchOp> ops, BatchDone done) {
  if (ops.empty()) return done({});
  auto pending = std::make_shared<Pending>(ops.size(), std::move(done));
  for (size_t i = 0; i < ops.size(); ++i) {
    BatchOp& op = ops[i];
    BatchResult* out = &pending->results[i];
    if (!op.refused.ok()) {
      out->status = std::move(op.refused);
      pending->Finish();
      continue;
    }
    auto on_write = [pending, out](absl::StatusOr<replication::WriteResult> r) {
      if (r.ok()) {
        out->write = *std::move(r);
      } else {
        out->status = r.status();
      }
      pending->Finish();
    };
    switch (op.kind) {
      case BatchOp::Kind::kPut:
        client->Put(std::move(op.args), std::move(on_write));
        break;
      case BatchOp::Kind::kDelete:
        client->Delete(std::move(op.args.key), op.args.consistency, std::move(on_write));
        break;
      case BatchOp::Kind::kGet:
        client->Get(std::move(op.args.key), op.args.consistency,
                    [pending, out](absl::StatusOr<GetReply> r) {
                      if (r.ok()) {
                        out->get = *std::move(r);
                      } else {
                        out->status = r.status();
                      }
                      pending->Finish();
                    });
        break;
    }
  }
}

}  // namespace kv::node
