#include "src/util/sha1.h"

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace kv::util {
namespace {

std::string Hex(const std::array<uint8_t, kSha1Bytes>& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : digest) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

// FIPS 180-2 test vectors.
TEST(Sha1Test, MatchesTheStandardTestVectors) {
  EXPECT_EQ(Hex(Sha1("")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(Hex(Sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Hex(Sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(Hex(Sha1(std::string(1'000'000, 'a'))), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(Sha1Test, ThreadsHashIndependently) {
  // Each thread has its own digest context; interleaved calls must not mix.
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const bool abc = (i + t) % 2 == 0;
        const std::string got = Hex(Sha1(abc ? "abc" : ""));
        if (got != (abc ? "a9993e364706816aba3e25717850c26c9cd0d89d"
                        : "da39a3ee5e6b4b0d3255bfef95601890afd80709")) {
          ++wrong[t];
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(wrong[t], 0) << t;
}

}  // namespace
}  // namespace kv::util
