// mhc_mix.cuh: the stream mixes of design.md 4.2, kernels 2 (pre-mix half) and 3.
//
//   pre-mix  u[t, c]    = sum_i H_pre[t, i] x[t, i, c]
//   post     y[t, j, c] = sum_i H_res[t, j, i] x[t, i, c] + H_post[t, j] f[t, c]
//
// fp32 accumulation, one rounding to the residual dtype at the store. VEC consecutive
// channels per thread and access (16 bytes when the launcher found the rows aligned,
// else VEC = 1). The post reads (n + 1) C and writes n C elements per token, nothing
// else but the n^2 + n coefficients (staged once per block in shared memory).
// A thread loads all n input vectors before it stores any output, so y may alias x
// (in place).
#pragma once

#include "mhc_vec.cuh"
#include "mhc_pdl.cuh"

namespace mhc {

/// body(tt, v) for the flattened items (tt < count, v < width) of one block, spread over the block's
/// threads from `first` on (item = threadIdx.x - first, then + blockDim.x - first, ...): 32-bit index
/// arithmetic when the item count allows (the usual case).
template <typename Body>
__device__ __forceinline__ void for_items(int count, int64_t width, int first, Body body) {
  const int64_t items = (int64_t)count * width;
  const unsigned start = threadIdx.x - first, stride = blockDim.x - first;
  if (items <= 0x7fffffff) {
    const unsigned w = (unsigned)width;
#pragma unroll 1
    for (unsigned item = start; item < (unsigned)items; item += stride) {
      const unsigned tt = item / w;
      body((int)tt, (int64_t)(item - tt * w));
    }
  } else {
#pragma unroll 1
    for (int64_t item = start; item < items; item += stride) {
      const int64_t tt = item / width;
      body((int)tt, item - tt * width);
    }
  }
}

/// u for `count` tokens starting at t0 with H_pre in shared memory (hp[tt * N + i]). blockIdx.y
/// owns a contiguous slice of the channel vectors; the block's threads from `first` on walk the
/// flattened (token, vector) items of its slice, so no thread idles at a token's tail.
template <typename TR, int N, int VEC>
__device__ __forceinline__ void premix_tokens(const TR* x, TR* u, const float* hp, int64_t t0, int count, int64_t C, int first) {
  const int64_t vecs = C / VEC;
  const int64_t per = (vecs + gridDim.y - 1) / gridDim.y;
  const int64_t v0 = (int64_t)blockIdx.y * per;
  const int64_t width = vecs - v0 < per ? vecs - v0 : per;
  if (width <= 0) return;
  for_items(count, width, first, [&](int tt, int64_t v) {
    const int64_t t = t0 + tt;
    const int64_t c = (v0 + v) * VEC;
    float xv[N][VEC];
#pragma unroll
    for (int i = 0; i < N; ++i) load_vec<TR, VEC>(x + (t * N + i) * C + c, xv[i]);
    float acc[VEC];
#pragma unroll
    for (int e = 0; e < VEC; ++e) acc[e] = 0.0f;
#pragma unroll
    for (int i = 0; i < N; ++i) {
      const float h = hp[tt * N + i];
#pragma unroll
      for (int e = 0; e < VEC; ++e) acc[e] = fmaf(h, xv[i][e], acc[e]);
    }
    store_vec<TR, VEC>(u + t * C + c, acc);
  });
}

/// Tokens per post block at most (their coefficients are staged in shared memory).
constexpr int POST_MAX_TOKENS = 8;

/// Kernel 3 (launched overlapped, mhc_pdl.cuh). Block (blockIdx.x, blockIdx.y) = tokens [y * tpb, y * tpb + tpb) x a contiguous
/// slice x of the channel vectors. The block first copies its tokens' H_post and H_res into
/// shared memory (each thread then reads them as warp-wide broadcasts instead of N^2 + N
/// global loads per item), then walks the flattened (token, vector) items of its slice.
template <typename TR, int N, int VEC>
__global__ void __launch_bounds__(256) post_kernel(const TR* x, const TR* f, const float* __restrict__ h_post, const float* __restrict__ h_res, TR* y,
                                                   int64_t T, int64_t C, int tpb) {
  __shared__ __align__(16) float s_res[POST_MAX_TOKENS * N * N];
  __shared__ __align__(16) float s_post[POST_MAX_TOKENS * N];
  wait_prior_grids();  // launched overlapped: nothing is read before the kernels before it have finished
  const int64_t t0 = (int64_t)blockIdx.y * tpb;
  const int count = (int)(T - t0 < tpb ? T - t0 : tpb);
  for (int i = threadIdx.x; i < count * N * N; i += blockDim.x) s_res[i] = h_res[t0 * N * N + i];
  for (int i = threadIdx.x; i < count * N; i += blockDim.x) s_post[i] = h_post[t0 * N + i];
  __syncthreads();
  const int64_t vecs = C / VEC;
  const int64_t per = (vecs + gridDim.x - 1) / gridDim.x;
  const int64_t v0 = (int64_t)blockIdx.x * per;
  const int64_t width = vecs - v0 < per ? vecs - v0 : per;
  if (width <= 0) return;
  for_items(count, width, 0, [&](int tt, int64_t v) {
    const int64_t t = t0 + tt;
    const int64_t c = (v0 + v) * VEC;
    float xv[N][VEC];
#pragma unroll
    for (int i = 0; i < N; ++i) load_vec<TR, VEC>(x + (t * N + i) * C + c, xv[i]);
    float fv[VEC];
    load_vec<TR, VEC>(f + t * C + c, fv);
    const float* hr = s_res + tt * N * N;
#pragma unroll
    for (int j = 0; j < N; ++j) {
      float acc[VEC];
      const float hp = s_post[tt * N + j];
#pragma unroll
      for (int e = 0; e < VEC; ++e) acc[e] = hp * fv[e];
#pragma unroll
      for (int i = 0; i < N; ++i) {
        const float w = hr[j * N + i];
#pragma unroll
        for (int e = 0; e < VEC; ++e) acc[e] = fmaf(w, xv[i][e], acc[e]);
      }
      store_vec<TR, VEC>(y + (t * N + j) * C + c, acc);
    }
  });
}

}  // namespace mhc
