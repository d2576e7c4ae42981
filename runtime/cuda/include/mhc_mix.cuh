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

/// Named barrier `id` (1..15; 0 is __syncthreads) over `threads` threads, a multiple of 32 (whole warps):
/// named_sync waits until that many have arrived, named_arrive counts this warp and goes on. Both order
/// the shared-memory writes before them against the reads after the waiting side's named_sync.
__device__ __forceinline__ void named_sync(int id, int threads) { asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory"); }
__device__ __forceinline__ void named_arrive(int id, int threads) { asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory"); }

/// The pre-mix u[t, c] = sum_i H_pre[t, i] x[t, i, c] of one thread in the coefficient kernel: the items
/// (token, channel vector) of the block's channel slice (blockIdx.y owns a contiguous slice of the channel
/// vectors; items are the flattened (token, vector) pairs, so no thread idles at a token's tail) that the thread of
/// rank `rank` among `ranks` owns: items rank, rank + ranks, ... load_first() loads the first item's x
/// (x does not depend on the coefficients, so this latency overlaps theirs); finish() forms and stores u
/// for every item once H_pre is in shared memory (hp[tt * N + i]), the streams added in order.
template <typename TR, int N, int VEC>
struct PremixItems {
  int64_t t0, C, v0, width, items;
  int rank, ranks;
  bool loaded = false;
  // x as loaded (raw bits, converted at use: half the registers of fp32 values for a bf16 residual).
  using Raw = typename RawVec<VEC * sizeof(TR)>::type;
  Raw xr[N];

  __device__ __forceinline__ PremixItems(int64_t t0_, int count, int64_t C_, int rank_, int ranks_) : t0(t0_), C(C_), rank(rank_), ranks(ranks_) {
    const int64_t vecs = C / VEC;
    const int64_t per = (vecs + gridDim.y - 1) / gridDim.y;
    v0 = (int64_t)blockIdx.y * per;
    width = vecs - v0 < per ? vecs - v0 : per;
    items = width > 0 ? (int64_t)count * width : 0;
  }

  __device__ __forceinline__ void load(const TR* x, int64_t t, int64_t c) {
#pragma unroll
    for (int i = 0; i < N; ++i) xr[i] = *reinterpret_cast<const Raw*>(x + (t * N + i) * C + c);
  }

  __device__ __forceinline__ void load_first(const TR* x) {
    if (rank >= items) return;
    const int64_t q = rank / width;
    load(x, t0 + q, (v0 + rank - q * width) * VEC);
    loaded = true;
  }

  __device__ __forceinline__ void finish(const TR* x, TR* u, const float* hp) {
    // 32-bit index arithmetic when the item count allows (the usual case).
    auto walk = [&](auto zero) {
      using I = decltype(zero);
      const I w = (I)width, n_items = (I)items;
#pragma unroll 1
      for (I it = (I)rank; it < n_items; it += (I)ranks) {
        const I q = it / w;
        const int tt = (int)q;
        const int64_t t = t0 + tt;
        const int64_t c = (v0 + (int64_t)(it - q * w)) * VEC;
        if (!loaded || it != (I)rank) load(x, t, c);
        float acc[VEC];
#pragma unroll
        for (int e = 0; e < VEC; ++e) acc[e] = 0.0f;
#pragma unroll
        for (int i = 0; i < N; ++i) {
          const float h = hp[tt * N + i];
          union { Raw raw; TR e[VEC]; } v;
          v.raw = xr[i];
#pragma unroll
          for (int e = 0; e < VEC; ++e) acc[e] = fmaf(h, to_float(v.e[e]), acc[e]);
        }
        store_vec<TR, VEC>(u + t * C + c, acc);
      }
    };
    if (items <= 0) return;
    if (items <= 0x7fffffff) walk(0u); else walk((int64_t)0);
  }
};

/// Output stream j of the post for one item of VEC channels: out = H_post[j] f + sum_i H_res[j, i] x_i, the
/// streams added in order (hr_j: the token's row j of H_res, hp_j: its H_post[j]). Every kernel that forms y
/// (post_kernel, and the post fused in front of a prenorm GEMM) calls this, so they agree bit for bit.
template <int N, int VEC>
__device__ __forceinline__ void post_stream(const float* hr_j, float hp_j, const float (&xv)[N][VEC], const float (&fv)[VEC], float (&out)[VEC]) {
#pragma unroll
  for (int e = 0; e < VEC; ++e) out[e] = hp_j * fv[e];
#pragma unroll
  for (int i = 0; i < N; ++i) {
    const float w = hr_j[i];
#pragma unroll
    for (int e = 0; e < VEC; ++e) out[e] = fmaf(w, xv[i][e], out[e]);
  }
}

/// Tokens per post block at most (their coefficients are staged in shared memory).
constexpr int POST_MAX_TOKENS = 8;

/// Kernel 3 (launched overlapped, mhc_pdl.cuh). Block (blockIdx.x, blockIdx.y) = tokens [y * tpb, y * tpb + tpb) x a contiguous
/// slice x of the channel vectors. The block copies its tokens' H_post and H_res into shared memory
/// (each thread then reads them as warp-wide broadcasts instead of N^2 + N global loads per item),
/// then walks the flattened (token, vector) items of its slice. A thread's first item's x and f are
/// loaded before the coefficients are staged, so the two loads' latencies overlap (small T: one item
/// a thread, the whole kernel is these two round trips).
template <typename TR, int N, int VEC>
__global__ void __launch_bounds__(256) post_kernel(const TR* x, const TR* f, const float* __restrict__ h_post, const float* __restrict__ h_res, TR* y,
                                                   int64_t T, int64_t C, int tpb) {
  __shared__ __align__(16) float s_res[POST_MAX_TOKENS * N * N];
  __shared__ __align__(16) float s_post[POST_MAX_TOKENS * N];
  wait_prior_grids();  // launched overlapped: nothing is read before the kernels before it have finished
  allow_dependent_grids();  // a kernel launched overlapped after this one still waits for its end before reading
  const int64_t t0 = (int64_t)blockIdx.y * tpb;
  const int count = (int)(T - t0 < tpb ? T - t0 : tpb);
  const int64_t vecs = C / VEC;
  const int64_t per = (vecs + gridDim.x - 1) / gridDim.x;
  const int64_t v0 = (int64_t)blockIdx.x * per;
  const int64_t width = vecs - v0 < per ? vecs - v0 : per;
  const int64_t items = width > 0 ? (int64_t)count * width : 0;
  // 32-bit index arithmetic when the item count allows (the usual case).
  auto walk = [&](auto zero) {
    using I = decltype(zero);
    const I w = (I)(width > 0 ? width : 1), n_items = (I)items;
    float xv[N][VEC];
    float fv[VEC];
    // Item it is token t0 + it / w, channel vector v0 + it % w.
    auto load = [&](int64_t t, int64_t c) {
#pragma unroll
      for (int i = 0; i < N; ++i) load_vec<TR, VEC>(x + (t * N + i) * C + c, xv[i]);
      load_vec<TR, VEC>(f + t * C + c, fv);
    };
    const I first = (I)threadIdx.x;
    if (first < n_items) {
      const I q = first / w;
      load(t0 + (int64_t)q, (v0 + (int64_t)(first - q * w)) * VEC);
    }
    for (int i = threadIdx.x; i < count * N * N; i += blockDim.x) s_res[i] = h_res[t0 * N * N + i];
    for (int i = threadIdx.x; i < count * N; i += blockDim.x) s_post[i] = h_post[t0 * N + i];
    __syncthreads();
#pragma unroll 1
    for (I it = first; it < n_items; it += (I)blockDim.x) {
      const I q = it / w;
      const int tt = (int)q;
      const int64_t t = t0 + tt;
      const int64_t c = (v0 + (int64_t)(it - q * w)) * VEC;
      if (it != first) load(t, c);  // the first item's vectors were loaded above
      const float* hr = s_res + tt * N * N;
#pragma unroll
      for (int j = 0; j < N; ++j) {
        float acc[VEC];
        post_stream<N, VEC>(hr + j * N, s_post[tt * N + j], xv, fv, acc);
        store_vec<TR, VEC>(y + (t * N + j) * C + c, acc);
      }
    }
  };
  if (items <= 0x7fffffff) walk(0u); else walk((int64_t)0);
}

}  // namespace mhc
