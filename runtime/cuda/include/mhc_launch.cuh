// mhc_launch.cuh: host-side checks shared by the generated entry points.
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>
#include "../mhc.h"

namespace mhc {

inline bool aligned(const void* p, size_t bytes) { return (reinterpret_cast<uintptr_t>(p) % bytes) == 0; }

inline size_t residual_size(int dtype) { return dtype == MHC_DTYPE_BF16 ? 2 : 4; }

/// T in [0, 2^31), C in [1, 2^31) and T * n * C (elements) below 2^62.
inline bool valid_shape(int64_t T, int64_t C, int n) {
  if (T < 0 || C < 1 || T > INT32_MAX || C > INT32_MAX) return false;
  const double elems = (double)T * (double)n * (double)C;
  return elems < 4.6e18;
}

inline unsigned grid_for(int64_t items, int threads, int64_t cap = (int64_t)1 << 24) {
  int64_t blocks = (items + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  if (blocks > cap) blocks = cap;
  return (unsigned)blocks;
}

}  // namespace mhc
