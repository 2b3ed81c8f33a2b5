#include "src/node/test_hooks.h"

#include <string_view>
#include <vector>

#include "spdlog/spdlog.h"

namespace kv::node {

absl::StatusOr<uint64_t> TestHooks::TEST_DropKeys(const std::string& prefix, uint32_t limit) {
  std::vector<std::string> keys;
  engine_->ForEach([&](std::string_view key, const storage::Record&) {
    if ((limit == 0 || keys.size() < limit) && key.substr(0, prefix.size()) == prefix) {
      keys.emplace_back(key);
    }
  });
  for (const std::string& k : keys) engine_->TEST_Erase(k);
  spdlog::warn("test hook: dropped {} keys with prefix '{}'", keys.size(), prefix);
  return keys.size();
}

}  // namespace kv::node
