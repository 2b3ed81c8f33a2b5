// Fuzz targets log nothing (a warning per input would dominate the run),
// unless KV_FUZZ_LOG is set in the environment, e.g. to replay a crash.
#pragma once

#include <cstdlib>

#include "spdlog/spdlog.h"

namespace kv::fuzz {

inline void QuietLogs() {
  if (std::getenv("KV_FUZZ_LOG") == nullptr) spdlog::set_level(spdlog::level::off);
}

}  // namespace kv::fuzz
