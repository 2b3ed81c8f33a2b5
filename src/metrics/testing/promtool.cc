#include "src/metrics/testing/promtool.h"

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace kv::metrics::testing {

std::string FindPromtool() {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return "";
  for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/promtool");
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

bool PromtoolRequired() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

std::string PromtoolFindings(const std::string& promtool, const std::string& text) {
  static std::atomic<int> next{0};
  const char* tmp = std::getenv("TMPDIR");
  const std::string file = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/promtool_input_", getpid(),
                                        "_", next++, ".txt");
  std::ofstream(file) << text;
  FILE* pipe = popen((promtool + " check metrics < " + file + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    std::remove(file.c_str());
    return "popen failed";
  }
  std::string output;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) output.append(buf, n);
  const int status = pclose(pipe);
  std::remove(file.c_str());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    output += absl::StrCat("\n(promtool exit status ", status, ")");
  }
  return output;
}

}  // namespace kv::metrics::testing
