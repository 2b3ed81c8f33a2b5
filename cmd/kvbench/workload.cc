#include "cmd/kvbench/workload.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace kv::bench {

namespace {

double Zeta(uint64_t n, double theta) {
  double sum = 0;
  for (uint64_t i = 1; i <= n; ++i) sum += 1.0 / std::pow(static_cast<double>(i), theta);
  return sum;
}

int Digits(uint64_t v) {
  int d = 1;
  while (v >= 10) {
    v /= 10;
    ++d;
  }
  return d;
}

}  // namespace

ZipfDistribution::ZipfDistribution(uint64_t n, double theta)
    : n_(n),
      alpha_(1.0 / (1.0 - theta)),
      zetan_(Zeta(n, theta)),
      half_pow_theta_(1.0 + std::pow(0.5, theta)) {
  const double zeta2 = Zeta(2, theta);
  eta_ = n < 2
             ? 0.0
             : (1.0 - std::pow(2.0 / static_cast<double>(n), 1.0 - theta)) / (1.0 - zeta2 / zetan_);
}

uint64_t ZipfDistribution::Sample(double u) const {
  const double uz = u * zetan_;
  if (uz < 1.0 || n_ < 2) return 0;
  if (uz < half_pow_theta_) return 1;
  const double r = static_cast<double>(n_) * std::pow(eta_ * u - eta_ + 1.0, alpha_);
  const uint64_t rank = r <= 0 ? 0 : static_cast<uint64_t>(r);
  return rank < n_ ? rank : n_ - 1;
}

KeyChooser::KeyChooser(Distribution dist, uint64_t keys, double theta)
    : keys_(keys),
      zipf_n_(dist == Distribution::kZipf ? keys : 0),
      // Under uniform the zipf part is unused: make it trivial to build.
      zipf_(dist == Distribution::kZipf ? keys : 1, theta) {}

absl::Status CheckKeySize(uint64_t keys, int key_size) {
  const int needed = 1 + (keys <= 1 ? 0 : Digits(keys - 1));  // key 0 is just "k"
  if (key_size < needed) {
    return absl::InvalidArgumentError(absl::StrCat("--key-size ", key_size, " cannot hold ", keys,
                                                   " distinct keys; use at least ", needed));
  }
  return absl::OkStatus();
}

void FormatKey(uint64_t i, int key_size, std::string* out) {
  out->assign(static_cast<size_t>(key_size), '0');
  (*out)[0] = 'k';
  for (size_t pos = out->size() - 1; i > 0 && pos > 0; --pos) {
    (*out)[pos] = static_cast<char>('0' + i % 10);
    i /= 10;
  }
}

std::string MakeValue(int size, uint64_t seed) {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  Rng rng(seed);
  std::string v(static_cast<size_t>(size), ' ');
  for (char& c : v) c = kAlphabet[rng.Below(sizeof(kAlphabet) - 1)];
  return v;
}

}  // namespace kv::bench
