// mhc_launch.cuh: host-side checks shared by the generated entry points.
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>
#include <atomic>
#include <type_traits>
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

/// cudaFuncSetAttribute(kernel, attr, value) once per device and process: `done` holds one bit per device
/// ordinal already set (ordinals >= 64 every call).
template <typename Kernel>
inline cudaError_t set_attribute_once(Kernel kernel, cudaFuncAttribute attr, int value, std::atomic<unsigned long long>& done) {
  int dev = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e != cudaSuccess) return e;
  const unsigned long long bit = dev >= 0 && dev < 64 ? 1ull << dev : 0ull;
  if (bit != 0 && (done.load(std::memory_order_acquire) & bit) != 0) return cudaSuccess;
  e = cudaFuncSetAttribute(kernel, attr, value);
  if (e == cudaSuccess) done.fetch_or(bit, std::memory_order_acq_rel);
  return e;
}

/// Raises `kernel`'s dynamic shared-memory limit to `bytes` (a launch above 48 KB needs it), once per device.
template <typename Kernel>
inline cudaError_t allow_dynamic_smem(Kernel kernel, int bytes, std::atomic<unsigned long long>& done) {
  return set_attribute_once(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes, done);
}

/// Sets `kernel`'s preferred shared-memory carveout (percent of the unified L1/shared storage given to shared
/// memory; a hint the driver rounds to a supported split), once per device.
template <typename Kernel>
inline cudaError_t prefer_carveout(Kernel kernel, int percent, std::atomic<unsigned long long>& done) {
  return set_attribute_once(kernel, cudaFuncAttributePreferredSharedMemoryCarveout, percent, done);
}

}  // namespace mhc
