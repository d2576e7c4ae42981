// mhc_small_prenorm.cuh: kernel 1 of design.md 4.2 for a few tokens (decode), optionally with the post of
// the sublayer before it in front (kernel 4: post(l) fused with the prenorm GEMM of l + 1).
//
//   proj[t, k] = sum_r xf[t, r] * phi[r, k]      (r = i * C + c, k < K)
//   ss[t]      = sum_r xf[t, r]^2
//
// At a few tokens the GEMM is a latency problem, not a throughput one: phi (1.5 MB at n = 4, C = 4096) and x
// must come from DRAM spread over every SM, and each block's arithmetic is small. So each block does exactly
// one round of loads, all of its phi rows (cp.async) and all of its x values at once, no pipeline, then one
// 16-token tile of tensor-core MMAs from shared memory: tf32 m16n8k8 with phi as two tf32 terms (hi + lo,
// within 2^-22 of phi); a bf16 residual is exact in tf32, an fp32 one is split into two terms as well (three
// products: the lo x lo one is below fp32 rounding). Each warp takes a slice of the rows; each 8-row step
// goes into a fresh fragment, added to fp32 accumulators; the sums of squares are fp32 FMAs.
//
// Block (blockIdx.x, blockIdx.y) = a tile of 16 tokens x a split of R = N * chunk rows: with POST a contiguous
// range of `chunk` channels of all N streams (rows i * C + c), since the fused post needs every stream of a
// channel (y[t, j, c] mixes x[t, :, c]); without, R contiguous rows of x's N * C (longer runs of each token's
// values; the same split count, ceil(C / chunk)). The partials have prenorm_kernel's layout (proj_part[s, t, K],
// ss_part[s, t]), so the coefficient kernel is the same.
//
// POST: the block first forms y = post(x, f, H_post, H_res) for its tokens and channels with post_kernel's
// arithmetic in its order (the same bits), stores it, and runs the GEMM on y rounded to the residual type
// (what the next sublayer's pre reads). y may alias x: a thread loads all N vectors of an item before it
// stores any, and items (token, channel vector) are disjoint.
#pragma once

#include "mhc_mix.cuh"
#include "mhc_prenorm.cuh"

namespace mhc {

/// Warps of a block (256 threads); each takes every 8th 8-row step of the split's rows.
constexpr int SMALL_WARPS = 8;
/// Tokens of a block: one m16 tile.
constexpr int SMALL_TOKENS = 16;

/// Columns of the MMA tiles (K rounded up to n8 tiles), and the row stride of phi in shared memory (floats):
/// an odd multiple of 8, so that the B fragments' 4 x 8 lanes hit 32 banks, and whole 16-byte quads.
template <int K> __host__ __device__ constexpr int small_cols() { return (K + 7) / 8 * 8; }
template <int K> __host__ __device__ constexpr int small_phi_stride() { return small_cols<K>() % 16 == 8 ? small_cols<K>() : small_cols<K>() + 8; }

/// Row stride (elements) of the x/y tile [16 tokens][R rows] in shared memory: whole 16-byte vectors, and 4 words
/// past a multiple of 32 words, so that the A fragments' 8 token rows x 4 lanes hit distinct banks.
template <typename TR> __host__ __device__ constexpr int small_x_stride(int R) {
  return (R + 128 / (int)sizeof(TR) - 1) / (128 / (int)sizeof(TR)) * (128 / (int)sizeof(TR)) + 16 / (int)sizeof(TR);
}

/// Dynamic shared memory of small_prenorm_kernel for a split of `chunk` channels (bytes): the split's phi rows
/// (fp32) and its x/y tile (the residual type), whose space the warps' sums reuse after the MMAs, and with POST
/// the block's coefficients.
template <typename TR, int N, int K> __host__ __device__ constexpr size_t small_main_bytes(int chunk) {
  const size_t rows = (size_t)N * chunk * small_phi_stride<K>() * sizeof(float) + (size_t)SMALL_TOKENS * small_x_stride<TR>(N * chunk) * sizeof(TR);
  const size_t sums = (size_t)SMALL_WARPS * SMALL_TOKENS * (small_cols<K>() + 1) * sizeof(float);
  return rows > sums ? rows : sums;
}
template <typename TR, int N, int K, bool POST> __host__ __device__ constexpr size_t small_prenorm_smem_bytes(int chunk) {
  return small_main_bytes<TR, N, K>(chunk) + (POST ? (size_t)SMALL_TOKENS * (N * N + N) * sizeof(float) : 0);
}

/// The split plan at small T: `chunk` channels a split (a multiple of 8, at most max_chunk, which keeps a
/// split's rows in shared memory), about `target` blocks over the token tiles. Depends only on its arguments.
__host__ __device__ inline PrenormSplit small_prenorm_split(int64_t T, int64_t C, int ts, int target, int max_chunk) {
  const int64_t tiles = T > 0 ? (T + ts - 1) / ts : 1;
  int64_t per_tile = target / tiles;
  if (per_tile < 1) per_tile = 1;
  int64_t chunk = (C + per_tile - 1) / per_tile;
  chunk = (chunk + 7) / 8 * 8;
  if (chunk > max_chunk) chunk = max_chunk;
  if (chunk < 8) chunk = 8;
  PrenormSplit plan;
  plan.chunk = chunk;
  plan.splits = (C + chunk - 1) / chunk;
  return plan;
}

template <typename TR, int N, int K, bool POST, class Phi>
__global__ void __launch_bounds__(256) small_prenorm_kernel(const TR* x, const TR* __restrict__ f, const float* __restrict__ h_post,
                                                            const float* __restrict__ h_res, TR* y, int64_t T, int64_t C, int chunk, bool vec_ok,
                                                            Phi phi, float* __restrict__ proj_part, float* __restrict__ ss_part) {
  constexpr int TS = SMALL_TOKENS;
  constexpr int KC = small_cols<K>();          // MMA columns
  constexpr int KS = small_phi_stride<K>();     // phi row stride
  constexpr int NT = KC / 8;                    // n8 tiles
  constexpr int KQ = KC / 4;                    // phi quads loaded per row (zeros past K)
  constexpr int VEC = vec16<TR>();
  constexpr int OUT = KC + 1;                   // a token's sums: the columns, then the sum of squares
  static_assert(NT <= 16, "at most 64 accumulators a thread");

  extern __shared__ __align__(16) unsigned char small_smem[];
  const int R = N * chunk;                                 // the split's rows (which rows of x and phi: row_of)
  const int XS = small_x_stride<TR>(R);
  float* const ps = reinterpret_cast<float*>(small_smem);  // [R][KS] phi rows of the split
  TR* const xs = reinterpret_cast<TR*>(ps + R * KS);       // [TS][XS] x (or y) of the tile's tokens, row r at r
  float* const red = ps;                                   // after the MMAs: [SMALL_WARPS][TS][OUT] the warps' sums
  float* const s_res = reinterpret_cast<float*>(small_smem + small_main_bytes<TR, N, K>(chunk));  // POST: [TS][N * N]
  float* const s_post = s_res + TS * N * N;                                                        // POST: [TS][N]

  const int tid = threadIdx.x;
  const int64_t t0 = (int64_t)blockIdx.x * TS;
  const int count = (int)(T - t0 < TS ? T - t0 : TS);
  const int64_t c0 = (int64_t)blockIdx.y * chunk;
  const int width = (int)(C - c0 < chunk ? C - c0 : chunk);  // channels of this split
  // Launched overlapped (mhc_pdl.cuh): nothing is read before the kernels before it have finished.
  wait_prior_grids();
  allow_dependent_grids();

  // The split's rows. With POST, channels c0 .. c0 + chunk - 1 of every stream (the post mixes the streams of a
  // channel): tile row i * chunk + cl is row i * C + c0 + cl of x and phi. Without, the same number of rows but
  // contiguous in x's rows of N * C values (longer runs of each token's row): tile row rr is row s * R + rr.
  const int64_t RT = (int64_t)N * C;
  const int64_t r0 = (int64_t)blockIdx.y * R;
  auto row_of = [&](int rr, bool& live) -> int64_t {
    if constexpr (POST) {
      const int i = rr / chunk, cl = rr - i * chunk;
      live = cl < width;
      return (int64_t)i * C + c0 + cl;
    } else {
      live = r0 + rr < RT;
      return r0 + rr;
    }
  };

  // phi: every row of the split (zeros past K and past the split's rows), one asynchronous round.
  bool phi_async = false;
  if constexpr (Phi::QUADS) phi_async = phi.vec4;
  for (int it = tid; it < R * KQ; it += 256) {
    const int rr = it / KQ, c4 = (it - rr * KQ) * 4;
    bool live;
    const int64_t r = row_of(rr, live);
    live = live && c4 < K;
    float* dst = ps + rr * KS + c4;
    if constexpr (Phi::QUADS) {
      if (phi_async) {
        cp_async16(dst, phi.quad(live ? r : 0, live ? c4 : 0), live ? 16 : 0);
        continue;
      }
    }
    float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (live) phi.load4(r, c4, v);
    *reinterpret_cast<float4*>(dst) = make_float4(v[0], v[1], v[2], v[3]);
  }
  cp_async_commit();

  // x (or, with POST, y) as the residual type in [TS][XS]: token tt, tile row rr. Zeros past T and past the split's
  // rows, so that the MMAs over the whole tile add nothing for them.
  const int cvs = chunk / VEC;  // vectors per stream and token (chunk is a multiple of 8)
  if constexpr (!POST) {
    // Straight copies of each token's R contiguous values: one asynchronous round with phi's.
    for (int it = tid; it < TS * N * cvs; it += 256) {
      const int tt = it % TS, rv = (it / TS) * VEC;
      TR* dst = xs + tt * XS + rv;
      const TR* src = x + (t0 + tt) * RT + r0 + rv;
      if (vec_ok) {
        const bool live = tt < count && r0 + rv < RT;  // N * C % VEC == 0: a vector is whole or past the end
        cp_async16(dst, live ? (const void*)src : (const void*)x, live ? 16 : 0);
      } else {
#pragma unroll
        for (int e = 0; e < VEC; ++e) dst[e] = tt < count && r0 + rv + e < RT ? src[e] : from_float<TR>(0.0f);
      }
    }
    cp_async_commit();
  } else {
    // Items (token, channel vector) with all N streams: y = post(x, f) in registers, stored to y and to the tile.
    const int items = TS * cvs;
    float xv[N][VEC];
    float fv[VEC];
    auto load_item = [&](int it) {
      const int tt = it % TS, cl = (it / TS) * VEC;
      const int64_t t = t0 + tt, c = c0 + cl;
      const bool live = tt < count;
      if (live && vec_ok && cl + VEC <= width) {
#pragma unroll
        for (int i = 0; i < N; ++i) load_vec<TR, VEC>(x + (t * N + i) * C + c, xv[i]);
        load_vec<TR, VEC>(f + t * C + c, fv);
      } else {
#pragma unroll
        for (int e = 0; e < VEC; ++e) {
          const bool in = live && cl + e < width;
#pragma unroll
          for (int i = 0; i < N; ++i) xv[i][e] = in ? to_float(x[(t * N + i) * C + c + e]) : 0.0f;
          fv[e] = in ? to_float(f[t * C + c + e]) : 0.0f;
        }
      }
    };
    if (tid < items) load_item(tid);  // the first item's x and f are in flight while the coefficients are staged
    for (int i = tid; i < TS * N * N; i += 256) s_res[i] = i / (N * N) < count ? h_res[t0 * N * N + i] : 0.0f;
    for (int i = tid; i < TS * N; i += 256) s_post[i] = i / N < count ? h_post[t0 * N + i] : 0.0f;
    __syncthreads();
    for (int it = tid; it < items; it += 256) {
      if (it != tid) load_item(it);
      const int tt = it % TS, cl = (it / TS) * VEC;
      const int64_t t = t0 + tt, c = c0 + cl;
      const float* hr = s_res + tt * N * N;
#pragma unroll
      for (int j = 0; j < N; ++j) {
        float acc[VEC];
        post_stream<N, VEC>(hr + j * N, s_post[tt * N + j], xv, fv, acc);  // post_kernel's arithmetic: the same bits
        if (tt < count) {
          TR* dst = y + (t * N + j) * C + c;
          if (vec_ok && cl + VEC <= width) {
            store_vec<TR, VEC>(dst, acc);
          } else {
#pragma unroll
            for (int e = 0; e < VEC; ++e)
              if (cl + e < width) dst[e] = from_float<TR>(acc[e]);
          }
        }
        // The GEMM sees y as the next sublayer reads it: rounded to the residual type (zero past T and the split).
#pragma unroll
        for (int e = 0; e < VEC; ++e)
          if (tt >= count || cl + e >= width) acc[e] = 0.0f;
        store_vec<TR, VEC>(xs + tt * XS + j * chunk + cl, acc);
      }
    }
  }
  cp_async_wait<0>();
  __syncthreads();

  // The MMAs: warp w takes the 8-row steps w, w + 8, .. of the split; each step's products go into a fresh
  // fragment, the small terms first, then into the fp32 accumulators. The sums of squares from the same A values.
  const int warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, q = lane & 3;
  float acc[NT][4];
#pragma unroll
  for (int j = 0; j < NT; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
  float ss_lo = 0.0f, ss_hi = 0.0f;  // tokens g and g + 8, this lane's rows
#pragma unroll 1
  for (int k0 = warp * 8; k0 < R; k0 += SMALL_WARPS * 8) {
    const TR* xg = xs + g * XS + k0 + q;
    const TR* xg8 = xs + (g + 8) * XS + k0 + q;
    const float av[4] = {to_float(xg[0]), to_float(xg8[0]), to_float(xg[4]), to_float(xg8[4])};
    ss_lo = fmaf(av[0], av[0], ss_lo);
    ss_lo = fmaf(av[2], av[2], ss_lo);
    ss_hi = fmaf(av[1], av[1], ss_hi);
    ss_hi = fmaf(av[3], av[3], ss_hi);
    const float* p0 = ps + (k0 + q) * KS + g;
    const float* p4 = ps + (k0 + q + 4) * KS + g;
    // A: a bf16 value is its own tf32 term; an fp32 one is hi (a) + lo (a_lo).
    uint32_t a[4], a_lo[4];
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      if constexpr (std::is_same<TR, float>::value) {
        a[e] = to_tf32(av[e]);
        a_lo[e] = to_tf32(av[e] - __uint_as_float(a[e]));
      } else {
        a[e] = __float_as_uint(av[e]);
        a_lo[e] = 0u;
      }
    }
#pragma unroll
    for (int j = 0; j < NT; ++j) {
      const float b0 = p0[j * 8], b1 = p4[j * 8];
      const uint32_t hi0 = to_tf32(b0), hi1 = to_tf32(b1);
      const uint32_t lo0 = to_tf32(b0 - __uint_as_float(hi0)), lo1 = to_tf32(b1 - __uint_as_float(hi1));
      float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      if constexpr (std::is_same<TR, float>::value) {
        mma_tf32_16x8x8(d, a_lo, hi0, hi1);
        mma_tf32_16x8x8(d, a, lo0, lo1);
      } else {
        mma_tf32_16x8x8(d, a, lo0, lo1);
      }
      mma_tf32_16x8x8(d, a, hi0, hi1);
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[j][e] += d[e];
    }
  }
  // A token's sum of squares: the four lanes of its row group, in a fixed order (the same bits on each).
  ss_lo += __shfl_xor_sync(0xffffffffu, ss_lo, 1);
  ss_lo += __shfl_xor_sync(0xffffffffu, ss_lo, 2);
  ss_hi += __shfl_xor_sync(0xffffffffu, ss_hi, 1);
  ss_hi += __shfl_xor_sync(0xffffffffu, ss_hi, 2);
  __syncthreads();  // every warp is done with ps and xs: red reuses them
  float* mine = red + warp * TS * OUT;
#pragma unroll
  for (int j = 0; j < NT; ++j) {
    const int col = j * 8 + 2 * q;
    mine[g * OUT + col] = acc[j][0];
    mine[g * OUT + col + 1] = acc[j][1];
    mine[(g + 8) * OUT + col] = acc[j][2];
    mine[(g + 8) * OUT + col + 1] = acc[j][3];
  }
  if (q == 0) {
    mine[g * OUT + KC] = ss_lo;
    mine[(g + 8) * OUT + KC] = ss_hi;
  }
  __syncthreads();
  // The warps' sums added in warp order: the split's partials.
  const int64_t s = blockIdx.y;
  for (int o = tid; o < TS * OUT; o += 256) {
    const int tok = o / OUT, col = o - tok * OUT;
    if (tok >= count || (col >= K && col != KC)) continue;
    float sum = 0.0f;
#pragma unroll
    for (int w = 0; w < SMALL_WARPS; ++w) sum += red[w * TS * OUT + o];
    const int64_t t = t0 + tok;
    if (col < K) proj_part[(s * T + t) * K + col] = sum;
    else ss_part[s * T + t] = sum;
  }
}

}  // namespace mhc
