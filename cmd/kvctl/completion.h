// kvctl completion bash: a bash completion script made from kvctl's own
// command and option definitions, so it cannot fall behind them.
#pragma once

#include <string>

#include "CLI/CLI.hpp"

namespace kv::kvctl {

// The script for `app` (commands, global options, each command's options;
// the word after an option that takes a value is not taken for a command,
// and completes to the option's values when a CLI::IsMember check lists
// them, e.g. -o text|json).
// Use: source <(kvctl completion bash).
std::string BashCompletion(const CLI::App& app);

}  // namespace kv::kvctl
