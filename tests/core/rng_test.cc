// CounterRng: Philox-4x32-10 against the reference implementation's known answers (Random123),
// stream separation by purpose, epoch and step, and the derived draws' ranges.
#include "strata/framework/core/rng.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <set>

namespace strata {
namespace {

using Block = std::array<uint32_t, 4>;

// The key is seed * 0x9E3779B97F4A7C15 ^ (purpose << 56 | purpose); these seeds make the
// Random123 test keys: {0, 0} for kInit, {0xa4093822, 0x299f31d0} for kData.
constexpr uint64_t kZeroKeySeed = 3377281775535878973ull;
constexpr uint64_t kPiKeySeed = 15552240374269142603ull;

TEST(CounterRng, MatchesPhiloxKnownAnswers) {
  // Counter {0, 0, 0, 0}, key {0, 0}.
  EXPECT_EQ(CounterRng(kZeroKeySeed, RngPurpose::kInit).block(0), (Block{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  // Counter {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344} (index, step, epoch), the digits of pi.
  const CounterRng pi(kPiKeySeed, RngPurpose::kData, /*epoch=*/0x03707344, /*step=*/0x13198a2e);
  EXPECT_EQ(pi.block(0x85a308d3243f6a88ull), (Block{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(CounterRng, StreamsDifferByPurposeEpochAndStepAndRepeatExactly) {
  const CounterRng a(7, RngPurpose::kShuffle, 2, 5);
  EXPECT_EQ(a.block(11), CounterRng(7, RngPurpose::kShuffle, 2, 5).block(11));
  std::set<uint32_t> firsts = {a.u32(11),
                               CounterRng(7, RngPurpose::kDropout, 2, 5).u32(11),
                               CounterRng(7, RngPurpose::kShuffle, 3, 5).u32(11),
                               CounterRng(7, RngPurpose::kShuffle, 2, 6).u32(11),
                               CounterRng(8, RngPurpose::kShuffle, 2, 5).u32(11),
                               a.u32(12)};
  EXPECT_EQ(firsts.size(), 6u);
}

TEST(CounterRng, UniformNormalAndBelowStayInRange) {
  const CounterRng r(1, RngPurpose::kData);
  double sum = 0, sum2 = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const float u = r.uniform(static_cast<uint64_t>(i));
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    const double z = r.normal(static_cast<uint64_t>(i));
    ASSERT_TRUE(std::isfinite(z));
    sum += z;
    sum2 += z * z;
    ASSERT_LT(r.below(static_cast<uint64_t>(i), 7), 7u);
  }
  EXPECT_NEAR(sum / n, 0.0, 0.03);  // 4 standard errors
  EXPECT_NEAR(sum2 / n, 1.0, 0.05);
  EXPECT_EQ(r.below(3, 0), 0u);
  // uniform() keeps the top 24 bits of the block's first word.
  EXPECT_EQ(r.uniform(5), static_cast<float>(r.u32(5) >> 8) / 16777216.0f);
}

}  // namespace
}  // namespace strata
