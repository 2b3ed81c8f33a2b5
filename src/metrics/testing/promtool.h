// Test-only: runs `promtool check metrics` (Debian's `prometheus` package)
// on a scrape, for the tests that lint what kvstore exposes.
#pragma once

#include <string>

namespace kv::metrics::testing {

// The absolute path of promtool on $PATH, or "" if it is not installed.
std::string FindPromtool();

// True when a missing promtool must fail the test instead of skipping it:
// under CI=true, where `make deps` installs it.
bool PromtoolRequired();

// promtool's findings on `text`: "" when the text is clean, else its output
// (with the exit status when it failed), or why it could not run.
std::string PromtoolFindings(const std::string& promtool, const std::string& text);

}  // namespace kv::metrics::testing
