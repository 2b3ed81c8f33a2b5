#include "cmd/kvbench/flags.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace kv::bench {
namespace {

ParsedFlags Parse(std::vector<std::string> args, int cores = 2) {
  args.insert(args.begin(), "kvbench");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return ParseFlags(static_cast<int>(argv.size()), argv.data(), cores);
}

// A bad flag exits 2 with one line that names the flag.
void ExpectBadFlag(std::vector<std::string> args, const std::string& mentions) {
  const ParsedFlags p = Parse(args);
  EXPECT_TRUE(p.exit_now);
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_EQ(p.message.find('\n'), std::string::npos) << p.message;
  EXPECT_NE(p.message.find(mentions), std::string::npos) << p.message;
}

TEST(KvbenchFlagsTest, Defaults) {
  const ParsedFlags p = Parse({}, 4);
  ASSERT_FALSE(p.exit_now) << p.message;
  const Options& o = p.options;
  EXPECT_EQ(o.addrs, std::vector<std::string>{"127.0.0.1:50051"});
  EXPECT_EQ(o.clients, 50);
  EXPECT_EQ(o.duration, absl::Seconds(10));
  EXPECT_EQ(o.ops, 0u);
  EXPECT_EQ(o.keys, 100000u);
  EXPECT_EQ(o.key_size, 16);
  EXPECT_EQ(o.value_size, 100);
  EXPECT_EQ(o.read_ratio, 0.5);
  EXPECT_EQ(o.dist, Distribution::kUniform);
  EXPECT_EQ(o.threads, 4);
  EXPECT_EQ(o.channels, 4);
  EXPECT_EQ(o.target, Target::kKvstore);
  EXPECT_EQ(o.consistency, Consistency::kDefault);
  EXPECT_EQ(o.rate, 0.0);  // closed loop
  EXPECT_EQ(o.route, Route::kAny);
}

TEST(KvbenchFlagsTest, RouteOwner) {
  const ParsedFlags p = Parse({"--route", "owner", "--addr", "a:1"});
  ASSERT_FALSE(p.exit_now) << p.message;
  EXPECT_EQ(p.options.route, Route::kOwner);
}

TEST(KvbenchFlagsTest, RateIsOpsPerSecond) {
  const ParsedFlags p = Parse({"--rate", "2700.5", "--batch", "4"});
  ASSERT_FALSE(p.exit_now) << p.message;
  EXPECT_EQ(p.options.rate, 2700.5);
  EXPECT_EQ(p.options.batch, 4);
}

TEST(KvbenchFlagsTest, AddressesRepeatedOrCommaSeparated) {
  const ParsedFlags p = Parse({"--addr", "a:1,b:2", "--addr=c:3"});
  ASSERT_FALSE(p.exit_now) << p.message;
  EXPECT_EQ(p.options.addrs, (std::vector<std::string>{"a:1", "b:2", "c:3"}));
}

TEST(KvbenchFlagsTest, EtcdHasItsOwnDefaultAddress) {
  const ParsedFlags p = Parse({"--target", "etcd", "--consistency", "one"});
  ASSERT_FALSE(p.exit_now) << p.message;
  EXPECT_EQ(p.options.addrs, std::vector<std::string>{"127.0.0.1:2379"});
  EXPECT_EQ(p.options.consistency, Consistency::kOne);
}

TEST(KvbenchFlagsTest, WorkloadFlags) {
  const ParsedFlags p =
      Parse({"--ops", "5000", "--warmup", "2s", "--dist", "zipf", "--zipf-theta", "0.8",
             "--read-ratio", "0.95", "--clients", "1", "--threads", "8", "--timeout", "250ms"});
  ASSERT_FALSE(p.exit_now) << p.message;
  EXPECT_EQ(p.options.ops, 5000u);
  EXPECT_EQ(p.options.warmup, absl::Seconds(2));
  EXPECT_EQ(p.options.dist, Distribution::kZipf);
  EXPECT_EQ(p.options.zipf_theta, 0.8);
  EXPECT_EQ(p.options.read_ratio, 0.95);
  EXPECT_EQ(p.options.threads, 1);  // never more threads than requests in flight
  EXPECT_EQ(p.options.timeout, absl::Milliseconds(250));
}

TEST(KvbenchFlagsTest, BadFlagsExitTwoWithOneLine) {
  ExpectBadFlag({"--duration", "10"}, "--duration");
  ExpectBadFlag({"--duration", "2m", "--ops", "10"}, "not both");
  ExpectBadFlag({"--target", "etcd", "--batch", "16"}, "--batch");
  ExpectBadFlag({"--batch", "0"}, "--batch");
  ExpectBadFlag({"--warmup", "soon"}, "--warmup");
  ExpectBadFlag({"--clients", "0"}, "--clients");
  ExpectBadFlag({"--read-ratio", "1.5"}, "--read-ratio");
  ExpectBadFlag({"--zipf-theta", "1"}, "--zipf-theta");
  ExpectBadFlag({"--dist", "pareto"}, "--dist");
  ExpectBadFlag({"--consistency", "some"}, "--consistency");
  ExpectBadFlag({"--target", "redis"}, "--target");
  ExpectBadFlag({"--key-size", "4"}, "--key-size");
  ExpectBadFlag({"--addr", "nowhere"}, "--addr");
  ExpectBadFlag({"--rate", "-1"}, "--rate");
  ExpectBadFlag({"--rate", "fast"}, "--rate");
  ExpectBadFlag({"--route", "nearest"}, "--route");
  ExpectBadFlag({"--route", "owner", "--target", "etcd"}, "--route owner");
  ExpectBadFlag({"--route", "owner", "--batch", "16"}, "--route owner");
  ExpectBadFlag({"--no-such-flag"}, "no-such-flag");
}

TEST(KvbenchFlagsTest, HelpExitsZero) {
  const ParsedFlags p = Parse({"--help"});
  EXPECT_TRUE(p.exit_now);
  EXPECT_EQ(p.exit_code, 0);
  EXPECT_NE(p.message.find("--read-ratio"), std::string::npos);
}

}  // namespace
}  // namespace kv::bench
