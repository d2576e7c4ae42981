// mhc_lanes.cuh: cross-lane helpers of the lane-group constraint code (emit-constraint-lanes.ts).
// A group is G consecutive lanes of a warp (G a power of two <= 32) that computes one token's
// constraint together: lane r of the group owns index r of the distributed axis of a value.
// Every lane of the warp must make each call (full mask): groups whose token is past the block's
// end run on a valid token's data and do not store.
#pragma once

#include "mhc_common.cuh"

namespace mhc {

/// Sum over the G lanes of the group by an xor butterfly. fp addition is commutative, so lane r and
/// lane r ^ o form the same sum at every step: every lane of the group ends with the same bits, and
/// the order (a fixed tree) is the same on every run.
template <int G>
__device__ __forceinline__ float lanes_sum(float v) {
#pragma unroll
  for (int o = G / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o, G);
  return v;
}

/// Maximum over the group's lanes (NaN if any is NaN, as mhc::max_nan).
template <int G>
__device__ __forceinline__ float lanes_max(float v) {
#pragma unroll
  for (int o = G / 2; o > 0; o >>= 1) v = max_nan(v, __shfl_xor_sync(0xffffffffu, v, o, G));
  return v;
}

/// Minimum over the group's lanes (NaN if any is NaN, as mhc::min_nan).
template <int G>
__device__ __forceinline__ float lanes_min(float v) {
#pragma unroll
  for (int o = G / 2; o > 0; o >>= 1) v = min_nan(v, __shfl_xor_sync(0xffffffffu, v, o, G));
  return v;
}

/// Lane `src` (0..G-1, of this lane's group)'s v.
template <int G>
__device__ __forceinline__ float lane_read(float v, int src) {
  return __shfl_sync(0xffffffffu, v, src, G);
}

}  // namespace mhc
