// kvbench end to end: the real binary against a real kvstore node.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"

namespace kv::testing {
namespace {

// The number after `"field": ` inside the JSON object `"object": {...}`
// (objects in kvbench's report are flat up to the field), or -1.
double JsonNumber(const std::string& json, const std::string& object, const std::string& field) {
  const size_t obj = json.find("\"" + object + "\": {");
  if (obj == std::string::npos) return -1;
  const size_t end = json.find('}', obj);
  const size_t at = json.find("\"" + field + "\": ", obj);
  if (at == std::string::npos || at > end) return -1;
  return std::stod(json.substr(at + field.size() + 4));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string LastLine(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  const size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

TEST(KvbenchTest, MeasuresReadsAndWritesAgainstOneNode) {
  Cluster cluster({.nodes = 1, .replicas = 1});
  ASSERT_TRUE(cluster.Start()) << "node did not start";
  char path[] = "/tmp/kvbench-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);

  const CommandResult r = RunCommand(KVBENCH_BIN,
                                     {"--addr", cluster.address(0), "--duration", "2s", "--clients",
                                      "8", "--keys", "1000", "--json", path},
                                     absl::Seconds(30));
  const std::string json = ReadFile(path);
  std::remove(path);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_GT(JsonNumber(json, "read", "ops_per_sec"), 0) << json;
  EXPECT_GT(JsonNumber(json, "write", "ops_per_sec"), 0) << json;
  EXPECT_EQ(JsonNumber(json, "read", "errors"), 0) << json;
  EXPECT_EQ(JsonNumber(json, "write", "errors"), 0) << json;
  EXPECT_EQ(JsonNumber(json, "total", "errors"), 0) << json;
  // Reads of a key not written yet are misses, not errors.
  EXPECT_GE(JsonNumber(json, "read", "misses"), 0) << json;
  EXPECT_GT(JsonNumber(json, "latency_us", "p50"), 0) << json;
  EXPECT_TRUE(LastLine(r.output).starts_with("ok: ")) << r.output;

  for (const std::string& problem : cluster.StopAll()) ADD_FAILURE() << problem;
  if (HasFailure()) cluster.DumpLogs();
}

TEST(KvbenchTest, FailsWhenNothingListens) {
  const std::string addr = absl::StrCat("127.0.0.1:", FreePort());
  const CommandResult r = RunCommand(
      KVBENCH_BIN, {"--addr", addr, "--duration", "1s", "--clients", "4"}, absl::Seconds(30));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  const std::string last = LastLine(r.output);
  EXPECT_TRUE(last.starts_with("FAILED: ")) << r.output;
  EXPECT_NE(last.find("% of requests failed"), std::string::npos) << r.output;
}

TEST(KvbenchTest, BadFlagExitsTwo) {
  const CommandResult r = RunCommand(KVBENCH_BIN, {"--duration", "forever"}, absl::Seconds(30));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--duration"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace kv::testing
