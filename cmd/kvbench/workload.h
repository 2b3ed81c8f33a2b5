// What kvbench asks for: which keys, reads or writes, and the value bytes.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace kv::bench {

// A small, fast, seedable generator (SplitMix64). The same seed gives the
// same sequence on every platform. Not thread-safe: one per thread.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double NextDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n); n > 0.
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

 private:
  uint64_t state_;
};

// Zipf-distributed ranks in [0, n): rank r is drawn with probability
// proportional to 1 / (r + 1)^theta. Gray et al., "Quickly generating
// billion-record synthetic databases" (SIGMOD 1994), as in YCSB's
// ZipfianGenerator. Construction is O(n) (it sums the zeta series); sampling
// is O(1). Immutable after construction, so threads may share one.
class ZipfDistribution {
 public:
  // REQUIRES: n >= 1 and 0 < theta < 1.
  ZipfDistribution(uint64_t n, double theta);

  // Maps a uniform u in [0, 1) to a rank in [0, n).
  uint64_t Sample(double u) const;
  uint64_t Sample(Rng& rng) const { return Sample(rng.NextDouble()); }

  uint64_t n() const { return n_; }

 private:
  uint64_t n_;
  double alpha_;  // 1 / (1 - theta)
  double zetan_;  // sum over i in 1..n of 1 / i^theta
  double eta_;
  double half_pow_theta_;  // 1 + 0.5^theta
};

enum class Distribution { kUniform, kZipf };

// Picks key indexes in [0, keys). Under zipf, index 0 is the hottest key,
// index 1 the next, and so on. Immutable; threads share one and bring
// their own Rng.
class KeyChooser {
 public:
  // REQUIRES: keys >= 1; for kZipf, 0 < theta < 1.
  KeyChooser(Distribution dist, uint64_t keys, double theta);
  uint64_t Next(Rng& rng) const { return zipf_n_ == 0 ? rng.Below(keys_) : zipf_.Sample(rng); }

 private:
  uint64_t keys_;
  uint64_t zipf_n_;  // 0 under uniform
  ZipfDistribution zipf_;
};

// The key for index `i`: "k" followed by `i` zero-padded to `key_size` bytes
// in total ("k000000000000042"). Fails when `key_size` cannot hold `keys`
// distinct keys, naming the smallest size that can.
[[nodiscard]] absl::Status CheckKeySize(uint64_t keys, int key_size);
// REQUIRES: CheckKeySize(keys, key_size) passed for some keys > i.
void FormatKey(uint64_t i, int key_size, std::string* out);

// `size` printable bytes derived from `seed`; every write sends these.
std::string MakeValue(int size, uint64_t seed);

}  // namespace kv::bench
