// mhc_mix.cuh: the stream mixes of design.md 4.2, kernels 2 (pre-mix half) and 3.
//
//   pre-mix  u[t, c]    = sum_i H_pre[t, i] x[t, i, c]
//   post     y[t, j, c] = sum_i H_res[t, j, i] x[t, i, c] + H_post[t, j] f[t, c]
//
// fp32 accumulation, one rounding to the residual dtype at the store. VEC consecutive
// channels per thread and access (16 bytes when the launcher found the rows aligned,
// else VEC = 1). The post reads (n + 1) C and writes n C elements per token, nothing
// else but the n^2 + n coefficients (L1-resident: neighbouring threads share a token).
// A thread loads all n input vectors before it stores any output, so y may alias x
// (in place).
#pragma once

#include "mhc_vec.cuh"

namespace mhc {

/// u for `count` tokens starting at t0 with H_pre in shared memory (hp[tt * N + i]);
/// channel vectors are spread over blockIdx.y and the block's threads.
template <typename TR, int N, int VEC>
__device__ __forceinline__ void premix_tokens(const TR* x, TR* u, const float* hp, int64_t t0, int count, int64_t C) {
  const int64_t vecs = C / VEC;
  for (int tt = 0; tt < count; ++tt) {
    const int64_t t = t0 + tt;
    float h[N];
#pragma unroll
    for (int i = 0; i < N; ++i) h[i] = hp[tt * N + i];
    for (int64_t v = (int64_t)blockIdx.y * blockDim.x + threadIdx.x; v < vecs; v += (int64_t)gridDim.y * blockDim.x) {
      const int64_t c = v * VEC;
      float acc[VEC];
#pragma unroll
      for (int e = 0; e < VEC; ++e) acc[e] = 0.0f;
#pragma unroll
      for (int i = 0; i < N; ++i) {
        float xv[VEC];
        load_vec<TR, VEC>(x + (t * N + i) * C + c, xv);
#pragma unroll
        for (int e = 0; e < VEC; ++e) acc[e] = fmaf(h[i], xv[e], acc[e]);
      }
      store_vec<TR, VEC>(u + t * C + c, acc);
    }
  }
}

template <typename TR, int N, int VEC>
__global__ void __launch_bounds__(256) post_kernel(const TR* x, const TR* f, const float* __restrict__ h_post, const float* __restrict__ h_res, TR* y,
                                                   int64_t T, int64_t C) {
  const int64_t vecs = C / VEC;
  const int64_t items = T * vecs;
  for (int64_t item = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; item < items; item += (int64_t)gridDim.x * blockDim.x) {
    const int64_t t = item / vecs;
    const int64_t c = (item - t * vecs) * VEC;
    float xv[N][VEC];
#pragma unroll
    for (int i = 0; i < N; ++i) load_vec<TR, VEC>(x + (t * N + i) * C + c, xv[i]);
    float fv[VEC];
    load_vec<TR, VEC>(f + t * C + c, fv);
#pragma unroll
    for (int j = 0; j < N; ++j) {
      float acc[VEC];
      const float hp = __ldg(h_post + t * N + j);
#pragma unroll
      for (int e = 0; e < VEC; ++e) acc[e] = hp * fv[e];
#pragma unroll
      for (int i = 0; i < N; ++i) {
        const float hr = __ldg(h_res + (t * N + j) * N + i);
#pragma unroll
        for (int e = 0; e < VEC; ++e) acc[e] = fmaf(hr, xv[i][e], acc[e]);
      }
      store_vec<TR, VEC>(y + (t * N + j) * C + c, acc);
    }
  }
}

}  // namespace mhc
