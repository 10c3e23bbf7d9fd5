// The Threefry-2x32-20 block function (Salmon et al., "Parallel random numbers: as easy
// as 1, 2, 3", the Random123 reference), written once for the CPU's RandomBits kernel and
// the CUDA one, so that both draw bit-identical numbers.
#pragma once
#include <cstdint>

#include "lazuli/backend/common/math.h"  // LAZULI_HD

namespace lazuli::math {

LAZULI_HD inline void threefry_round(uint32_t& x0, uint32_t& x1, int rot) {
  x0 += x1;
  x1 = (x1 << rot) | (x1 >> (32 - rot));
  x1 ^= x0;
}

// Encrypts the counter (c0, c1) under the key (k0, k1) into (x0, x1).
LAZULI_HD inline void threefry2x32_20(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1, uint32_t& x0,
                                      uint32_t& x1) {
  const uint32_t ks[3] = {k0, k1, 0x1BD11BDAu ^ k0 ^ k1};
  x0 = c0 + ks[0], x1 = c1 + ks[1];
  // Five groups of four rounds; the rotations alternate between two sets of four, and the
  // key is injected after each group.
  for (uint32_t g = 1; g <= 5; ++g) {
    const bool odd = g % 2 == 1;
    threefry_round(x0, x1, odd ? 13 : 17);
    threefry_round(x0, x1, odd ? 15 : 29);
    threefry_round(x0, x1, odd ? 26 : 16);
    threefry_round(x0, x1, odd ? 6 : 24);
    x0 += ks[g % 3];
    x1 += ks[(g + 1) % 3] + g;
  }
}

}  // namespace lazuli::math
