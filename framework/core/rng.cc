#include "strata/framework/core/rng.h"

#include <cmath>

namespace strata {
namespace {

constexpr uint32_t kM0 = 0xD2511F53, kM1 = 0xCD9E8D57;  // Philox multipliers
constexpr uint32_t kW0 = 0x9E3779B9, kW1 = 0xBB67AE85;  // Weyl key increments

inline void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

}  // namespace

CounterRng::CounterRng(uint64_t seed, RngPurpose purpose, uint64_t epoch, uint64_t step) : epoch_(epoch), step_(step) {
  // Fold the purpose into the key so streams of different purposes never overlap.
  uint64_t k = seed * 0x9E3779B97F4A7C15ull ^ (static_cast<uint64_t>(purpose) << 56 | static_cast<uint64_t>(purpose));
  key_ = {static_cast<uint32_t>(k), static_cast<uint32_t>(k >> 32)};
}

std::array<uint32_t, 4> CounterRng::block(uint64_t index) const {
  std::array<uint32_t, 4> c = {static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), static_cast<uint32_t>(step_),
                               static_cast<uint32_t>(epoch_) ^ static_cast<uint32_t>(step_ >> 32) * 0x85EBCA6Bu};
  uint32_t k0 = key_[0], k1 = key_[1];
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kM0, c[0], hi0, lo0);
    mulhilo(kM1, c[2], hi1, lo1);
    c = {hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0};
    k0 += kW0;
    k1 += kW1;
  }
  return c;
}

float CounterRng::uniform(uint64_t index) const { return static_cast<float>(u32(index) >> 8) * (1.0f / 16777216.0f); }

float CounterRng::normal(uint64_t index) const {
  auto b = block(index);
  // u1 in (0,1] so the log is finite.
  double u1 = (static_cast<double>(b[0] >> 8) + 1.0) / 16777216.0;
  double u2 = static_cast<double>(b[1] >> 8) / 16777216.0;
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
}

uint64_t CounterRng::below(uint64_t index, uint64_t n) const {
  auto b = block(index);
  uint64_t r = (static_cast<uint64_t>(b[0]) << 32) | b[1];
  return n ? r % n : 0;  // bias is < n / 2^64, negligible for dataset sizes
}

}  // namespace strata
