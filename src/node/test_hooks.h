// Test hooks: calls that break a node on purpose, for repair tests. A
// production node has none (kvstore --enable-test-hooks makes them).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "src/storage/engine.h"

namespace kv::node {

// Thread-safe. `engine` is not owned and must outlive the hooks.
class TestHooks {
 public:
  explicit TestHooks(storage::Engine* engine) : engine_(engine) {}

  // Forgets up to `limit` (0: all) keys starting with `prefix`, as if a disk
  // lost them; returns how many.
  [[nodiscard]] absl::StatusOr<uint64_t> TEST_DropKeys(const std::string& prefix, uint32_t limit);

 private:
  storage::Engine* const engine_;
};

}  // namespace kv::node
