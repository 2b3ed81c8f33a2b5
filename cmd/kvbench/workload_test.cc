#include "cmd/kvbench/workload.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace kv::bench {
namespace {

std::vector<uint64_t> Draw(const KeyChooser& chooser, uint64_t seed, int n) {
  Rng rng(seed);
  std::vector<uint64_t> out;
  for (int i = 0; i < n; ++i) out.push_back(chooser.Next(rng));
  return out;
}

TEST(SplitMixRngTest, SameSeedSameSequence) {
  Rng a(7), b(7), c(8);
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    differs |= x != c.Next();
  }
  EXPECT_TRUE(differs);
}

TEST(SplitMixRngTest, ValuesInRange) {
  Rng rng(11);
  for (int i = 0; i < 10000; ++i) {
    const double d = rng.NextDouble();
    EXPECT_GE(d, 0.0);
    EXPECT_LT(d, 1.0);
    EXPECT_LT(rng.Below(10), 10u);
  }
}

TEST(ZipfTest, DeterministicWithASeed) {
  const KeyChooser zipf(Distribution::kZipf, 100000, 0.99);
  EXPECT_EQ(Draw(zipf, 42, 5000), Draw(zipf, 42, 5000));
  EXPECT_NE(Draw(zipf, 42, 5000), Draw(zipf, 43, 5000));
}

TEST(ZipfTest, AllKeysInRange) {
  for (uint64_t n : {1ULL, 2ULL, 3ULL, 1000ULL}) {
    const KeyChooser zipf(Distribution::kZipf, n, 0.99);
    for (uint64_t k : Draw(zipf, 1, 100000)) ASSERT_LT(k, n) << "n=" << n;
  }
  // The extremes of the uniform input map inside the range too.
  const ZipfDistribution z(1000, 0.5);
  EXPECT_EQ(z.Sample(0.0), 0u);
  EXPECT_LT(z.Sample(std::nextafter(1.0, 0.0)), 1000u);
}

TEST(ZipfTest, RankOneIsFarMoreFrequentThanUniform) {
  constexpr uint64_t kKeys = 100000;
  constexpr int kDraws = 200000;
  const KeyChooser zipf(Distribution::kZipf, kKeys, 0.99);
  std::vector<int> counts(kKeys);
  for (uint64_t k : Draw(zipf, 3, kDraws)) ++counts[k];
  // Uniform would give each key kDraws / kKeys = 2 draws.
  double zetan = 0;
  for (uint64_t i = 1; i <= kKeys; ++i) zetan += 1.0 / std::pow(static_cast<double>(i), 0.99);
  const double expected_top = kDraws / zetan;  // about 16000
  EXPECT_GT(counts[0], 1000 * kDraws / static_cast<int>(kKeys));
  EXPECT_NEAR(counts[0], expected_top, expected_top * 0.05);
  // Frequency falls with rank: p(rank 2) / p(rank 1) = 2^-0.99.
  EXPECT_NEAR(static_cast<double>(counts[1]) / counts[0], std::pow(2.0, -0.99), 0.05);
  EXPECT_GT(counts[1], counts[10]);
}

TEST(ZipfTest, LowThetaIsFlatterThanHighTheta) {
  const KeyChooser flat(Distribution::kZipf, 10000, 0.2);
  const KeyChooser steep(Distribution::kZipf, 10000, 0.99);
  int flat_top = 0, steep_top = 0;
  for (uint64_t k : Draw(flat, 5, 50000)) flat_top += k == 0;
  for (uint64_t k : Draw(steep, 5, 50000)) steep_top += k == 0;
  EXPECT_GT(steep_top, 10 * flat_top);
}

TEST(UniformKeysTest, CoversTheKeySpaceEvenly) {
  const KeyChooser uniform(Distribution::kUniform, 100, 0.99);
  std::vector<int> counts(100);
  for (uint64_t k : Draw(uniform, 9, 100000)) {
    ASSERT_LT(k, 100u);
    ++counts[k];
  }
  for (int c : counts) EXPECT_NEAR(c, 1000, 200);
}

TEST(KvbenchKeyTest, KeysHaveTheRequestedSizeAndAreDistinct) {
  std::string a, b;
  FormatKey(42, 16, &a);
  EXPECT_EQ(a, "k000000000000042");
  FormatKey(99999, 6, &b);
  EXPECT_EQ(b, "k99999");
  FormatKey(0, 1, &a);
  EXPECT_EQ(a, "k");
}

TEST(KvbenchKeyTest, KeySizeMustHoldTheKeySpace) {
  EXPECT_TRUE(CheckKeySize(100000, 6).ok());  // k00000 .. k99999
  const absl::Status s = CheckKeySize(100001, 6);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("at least 7"), absl::string_view::npos) << s.message();
  EXPECT_TRUE(CheckKeySize(1, 1).ok());
}

TEST(KvbenchValueTest, ValueHasTheRequestedSizeAndDependsOnTheSeed) {
  EXPECT_EQ(MakeValue(100, 1).size(), 100u);
  EXPECT_EQ(MakeValue(100, 1), MakeValue(100, 1));
  EXPECT_NE(MakeValue(100, 1), MakeValue(100, 2));
  EXPECT_EQ(MakeValue(0, 1), "");
}

}  // namespace
}  // namespace kv::bench
