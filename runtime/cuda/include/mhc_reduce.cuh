// mhc_reduce.cuh: warp and block reductions (fixed order: deterministic results).
#pragma once

#include "mhc_common.cuh"

namespace mhc {

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

/// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float partial[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = lane < warps ? partial[lane] : 0.0f;
  return warp_sum(v);
}

/// acc + p[first * stride] + p[(first + step) * stride] + ... over indices < end, added in that order. The loads
/// go out SUM_BATCH at a time before their adds (one memory latency per batch instead of per value); the order
/// of the additions, and so the bits of the result, do not depend on the batching.
constexpr int SUM_BATCH = 16;
__device__ __forceinline__ float strided_sum(const float* __restrict__ p, int64_t stride, int64_t first, int64_t end, int64_t step, float acc) {
  int64_t s = first;
  for (; s + (SUM_BATCH - 1) * step < end; s += SUM_BATCH * step) {
    float v[SUM_BATCH];
#pragma unroll
    for (int b = 0; b < SUM_BATCH; ++b) v[b] = p[(s + b * step) * stride];
#pragma unroll
    for (int b = 0; b < SUM_BATCH; ++b) acc += v[b];
  }
  for (; s < end; s += step) acc += p[s * stride];
  return acc;
}

/// Split-K sum of the prenorm partials for the `count` consecutive tokens t0.. of one
/// block, with the whole block (the coefficient kernel's phase 0). Inputs: proj_part
/// [splits, T, K] and ss_part [splits, T] (fp32). Outputs (shared memory):
/// out_proj[tt * K + j] = sum_s proj_part[s, t0 + tt, j], out_ss[tt] = sum_s ss_part[s, t0 + tt].
/// Output o < count*K is out_proj[o], o in [count*K, count*(K+1)) is out_ss[o - count*K]:
/// for a fixed split both runs are contiguous in memory, so neighbouring threads read
/// neighbouring floats. G (a power of two, G * O <= blockDim.x, O = count*(K+1) outputs)
/// groups of threads split the splits: thread w = g*O + o sums splits g, g+G, g+2G, ... in
/// increasing order, then a fixed-shape tree halves the groups (group g adds group g + G/2, then g + G/4, ...). When
/// O > blockDim.x / 2 (G = 1), thread o, o + blockDim.x, ... sums all splits in order.
/// Deterministic: the partition and every addition order depend only on (splits, count,
/// K, blockDim.x), never on scheduling. tmp holds blockDim.x floats. Every thread of the
/// block must call it (it synchronises); the caller synchronises before reading the outputs.
template <int K>
__device__ __forceinline__ void sum_split_partials(const float* __restrict__ proj_part, const float* __restrict__ ss_part, int64_t T, int64_t t0, int count,
                                                   int64_t splits, float* out_proj, float* out_ss, float* tmp) {
  const int O = count * (K + 1);
  const int PK = count * K;
  const int nt = (int)blockDim.x;
  int G = 1;
  while (2 * G * O <= nt && G < splits) G *= 2;
  if (G == 1) {
    for (int o = (int)threadIdx.x; o < O; o += nt) {
      const float* p = o < PK ? proj_part + t0 * K + o : ss_part + t0 + (o - PK);
      const int64_t stride = o < PK ? T * K : T;
      const float acc = strided_sum(p, stride, 0, splits, 1, 0.0f);
      if (o < PK) out_proj[o] = acc; else out_ss[o - PK] = acc;
    }
    return;
  }
  const int w = (int)threadIdx.x;
  const int g = w / O, o = w % O;
  float acc = 0.0f;
  if (g < G) {
    const float* p = o < PK ? proj_part + t0 * K + o : ss_part + t0 + (o - PK);
    const int64_t stride = o < PK ? T * K : T;
    acc = strided_sum(p, stride, g, splits, G, 0.0f);
    tmp[w] = acc;
  }
  for (int half = G / 2; half > 0; half >>= 1) {  // G is uniform over the block: every thread reaches each barrier
    __syncthreads();
    if (g < half) {
      acc += tmp[w + half * O];
      tmp[w] = acc;
    }
  }
  if (g == 0) {
    if (o < PK) out_proj[o] = acc; else out_ss[o - PK] = acc;
  }
}

/// Sum of the forward's split-K partials (proj_part [S, T, K], ss_part [S, T]) into
/// stats [T, K + 1] (proj then ss), splits in increasing order: what the backward needs
/// of the forward besides the coefficients (save_stats, and post_pre for the next sublayer).
__global__ void __launch_bounds__(256) stats_kernel(const float* __restrict__ proj_part, const float* __restrict__ ss_part, int64_t T, int K,
                                                    int64_t splits, float* __restrict__ stats) {
  const int64_t items = T * (K + 1);
  for (int64_t item = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; item < items; item += (int64_t)gridDim.x * blockDim.x) {
    const int64_t t = item / (K + 1);
    const int j = (int)(item - t * (K + 1));
    float acc = 0.0f;
    if (j < K) {
      for (int64_t s = 0; s < splits; ++s) acc += proj_part[(s * T + t) * K + j];
    } else {
      for (int64_t s = 0; s < splits; ++s) acc += ss_part[s * T + t];
    }
    stats[item] = acc;
  }
}

}  // namespace mhc
