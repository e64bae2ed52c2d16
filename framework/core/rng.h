// Counter-based random numbers (Philox-4x32-10) keyed by (seed, purpose) and indexed by
// (epoch, step, index): every draw can be recomputed from those numbers alone, so the state
// needed to resume training bit-exactly is just counters (docs/design.md "Determinism contract").
// Stateless and thread-safe: any thread may draw any index.
#pragma once

#include <array>
#include <cstdint>

namespace strata {

enum class RngPurpose : uint32_t { kInit = 1, kShuffle = 2, kDropout = 3, kAugment = 4, kData = 5 };

class CounterRng {
 public:
  CounterRng(uint64_t seed, RngPurpose purpose, uint64_t epoch = 0, uint64_t step = 0);

  // Four independent 32-bit words for one index.
  std::array<uint32_t, 4> block(uint64_t index) const;
  uint32_t u32(uint64_t index) const { return block(index)[0]; }
  // Uniform in [0, 1) with 24 random bits.
  float uniform(uint64_t index) const;
  // Standard normal (Box-Muller from the block of this index).
  float normal(uint64_t index) const;
  // Uniform integer in [0, n).
  uint64_t below(uint64_t index, uint64_t n) const;

 private:
  std::array<uint32_t, 2> key_;
  uint64_t epoch_, step_;
};

}  // namespace strata
