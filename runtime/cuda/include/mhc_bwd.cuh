// mhc_bwd.cuh: the backward of design.md 4.2 item 5, the parts that do not depend on the
// constraints (those are generated from the IR's reverse-mode autodiff).
//
// Forward (one sublayer, per token t; r = i*C + c indexes the flattened residual):
//   proj[t, j] = sum_r xf[t, r] phi[r, j]        ss[t] = sum_r xf[t, r]^2
//   u[t, c]    = sum_i H_pre[t, i] x[t, i, c]
//   y[t, j, c] = sum_i H_res[t, j, i] x[t, i, c] + H_post[t, j] f[t, c]
// Backward, given dy, du (and optional dH from outside):
//   post:   dx[t, i, c] = sum_j H_res[t, j, i] dy[t, j, c]      df[t, c] = sum_j H_post[t, j] dy[t, j, c]
//           dH_res[t, j, i] = sum_c dy[t, j, c] x[t, i, c]        dH_post[t, j] = sum_c dy[t, j, c] f[t, c]
//   premix: dH_pre[t, i] += sum_c du[t, c] x[t, i, c]
//   coefficients (generated): dproj[t, j] = G[t, j], d(ss)[t] = s2[t] / 2, parameter gradients
//   prenorm: dx[t, r] = H_pre[t, i] du[t, c] + sum_j G[t, j] phi[r, j] + s2[t] xf[t, r]
//            dphi[r, j] = sum_t xf[t, r] G[t, j]
//
// Determinism: every sum over tokens or channels is taken in a fixed order that depends
// only on (T, C) and the launch shape, never on scheduling: per-thread partial sums in
// index order, a fixed shuffle tree, per-block partials written to a workspace and summed
// over blocks in increasing block order by a second kernel. No floating-point atomics.
#pragma once

#include "mhc_vec.cuh"
#include "mhc_reduce.cuh"

namespace mhc {

/// Channel slices of the per-token reductions (post backward, premix backward): enough
/// slices that T * slices blocks fill the GPU, each slice at least `min_channels` wide and
/// a multiple of 8 channels (so 16-byte vectors never straddle two slices).
struct ChannelSlices {
  int64_t slices;
  int64_t width;  // channels per slice, a multiple of 8 (the last slice may be shorter)
};

__host__ __device__ inline ChannelSlices channel_slices(int64_t T, int64_t C, int target_blocks, int64_t min_channels) {
  int64_t s = T > 0 ? (target_blocks + T - 1) / T : 1;
  int64_t max_s = C / min_channels;
  if (max_s < 1) max_s = 1;
  if (s > max_s) s = max_s;
  if (s < 1) s = 1;
  int64_t w = (C + s - 1) / s;
  w = (w + 7) / 8 * 8;
  ChannelSlices out;
  out.width = w;
  out.slices = (C + w - 1) / w;
  return out;
}

/// Token chunks of the prenorm backward: row blocks of `rows_per_block` rows of R, then
/// the chunk count s (each chunk at least `min_tokens` tokens and a multiple of `tile`)
/// from ceil(target_blocks / row_blocks) up to 4x that whose row_blocks * s blocks fill
/// whole waves of `target_blocks` best (the first of equals): a last wave of few blocks
/// would leave most SMs idle.
struct TokenChunks {
  int64_t chunks;
  int64_t tokens;  // tokens per chunk
};

__host__ __device__ inline TokenChunks token_chunks(int64_t T, int64_t R, int rows_per_block, int target_blocks, int64_t min_tokens, int tile) {
  const int64_t row_blocks = (R + rows_per_block - 1) / rows_per_block;
  int64_t max_s = T / min_tokens;
  if (max_s < 1) max_s = 1;
  int64_t s0 = (target_blocks + row_blocks - 1) / row_blocks;
  if (s0 > max_s) s0 = max_s;
  if (s0 < 1) s0 = 1;
  int64_t best = s0;
  double best_fill = 0.0;
  for (int64_t s = s0; s <= 4 * s0 && s <= max_s; ++s) {
    const int64_t blocks = row_blocks * s;
    const int64_t waves = (blocks + target_blocks - 1) / target_blocks;
    const double fill = (double)blocks / (double)(waves * target_blocks);
    if (fill > best_fill + 1e-9) {
      best_fill = fill;
      best = s;
    }
  }
  int64_t per = (T + best - 1) / best;
  per = (per + tile - 1) / tile * tile;
  if (per < tile) per = tile;
  TokenChunks out;
  out.tokens = per;
  out.chunks = T > 0 ? (T + per - 1) / per : 1;
  return out;
}

__host__ __device__ inline size_t align256(size_t bytes) { return (bytes + 255) / 256 * 256; }

/// Sum over the block of V values per thread, in a fixed order: a shuffle tree per warp,
/// then warp 0..W-1 in order. `red` holds (blockDim.x / 32) * V floats. Thread v < V of
/// the block receives total v in out (other threads: untouched). Every thread must call it.
template <int V>
__device__ __forceinline__ void block_sum_values(float (&vals)[V], float* red, float* out_first_v) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
#pragma unroll
  for (int v = 0; v < V; ++v) {
    const float s = warp_sum(vals[v]);
    if (lane == 0) red[warp * V + v] = s;
  }
  __syncthreads();
  for (int v = threadIdx.x; v < V; v += blockDim.x) {
    float acc = 0.0f;
    for (int w = 0; w < warps; ++w) acc += red[w * V + v];
    out_first_v[v] = acc;
  }
  __syncthreads();
}

/// Post backward, one block per (token, channel slice). Rows of the dH accumulators are
/// taken JB at a time (JB = N for N <= 8, else 4: at most 4 * 17 accumulators a thread);
/// the first chunk also writes dx and df. Partials: part[(s * T + t) * NV + v] with
/// v < N*N the dH_res[j, i] (row-major) and v = N*N + j the dH_post[j]. dx may be NULL (not written).
template <typename TR, int N, int VEC, int JB>
__global__ void __launch_bounds__(256) post_backward_kernel(const TR* __restrict__ x, const TR* __restrict__ f, const float* __restrict__ h_post,
                                                           const float* __restrict__ h_res, const TR* __restrict__ dy, TR* __restrict__ dx,
                                                           TR* __restrict__ df, int64_t T, int64_t C, int64_t width, float* __restrict__ part) {
  static_assert(N % JB == 0, "row chunks divide N");
  constexpr int NV = N * N + N;
  constexpr int V = JB * (N + 1);
  __shared__ float red[8 * V];
  __shared__ float tot[V];
  const int64_t t = blockIdx.x;
  const int64_t s = blockIdx.y;
  const int64_t c_begin = s * width;
  const int64_t c_end = c_begin + width < C ? c_begin + width : C;
  const int64_t v_begin = c_begin / VEC, v_end = c_end / VEC;  // launcher: C % VEC == 0, width % VEC == 0
  // H_res in registers up to N = 8; above, read through L1 where used (256 values would spill).
  constexpr bool HR_REGS = N <= 8;
  float hr[HR_REGS ? N : 1][HR_REGS ? N : 1];
  float hp[N];
#pragma unroll
  for (int j = 0; j < N; ++j) {
    hp[j] = __ldg(h_post + t * N + j);
    if constexpr (HR_REGS) {
#pragma unroll
      for (int i = 0; i < N; ++i) hr[j][i] = __ldg(h_res + (t * N + j) * N + i);
    }
  }
  auto HR = [&](int j, int i) -> float {
    if constexpr (HR_REGS) return hr[j][i];
    else return __ldg(h_res + (t * N + j) * N + i);
  };
  for (int chunk = 0; chunk < N / JB; ++chunk) {
    float acc[V];
#pragma unroll
    for (int v = 0; v < V; ++v) acc[v] = 0.0f;
    for (int64_t v = v_begin + threadIdx.x; v < v_end; v += blockDim.x) {
      const int64_t c = v * VEC;
      float xv[N][VEC];
#pragma unroll
      for (int i = 0; i < N; ++i) load_vec<TR, VEC>(x + (t * N + i) * C + c, xv[i]);
      float fv[VEC];
      load_vec<TR, VEC>(f + t * C + c, fv);
      if (chunk == 0) {
        // dx and df need every row of dy.
        float dyv[N][VEC];
#pragma unroll
        for (int j = 0; j < N; ++j) load_vec<TR, VEC>(dy + (t * N + j) * C + c, dyv[j]);
        float dfv[VEC];
#pragma unroll
        for (int e = 0; e < VEC; ++e) dfv[e] = 0.0f;
#pragma unroll
        for (int j = 0; j < N; ++j)
#pragma unroll
          for (int e = 0; e < VEC; ++e) dfv[e] = fmaf(hp[j], dyv[j][e], dfv[e]);
        store_vec<TR, VEC>(df + t * C + c, dfv);
        if (dx != nullptr) {  // NULL: pre_backward forms H_res^T dy itself
#pragma unroll
          for (int i = 0; i < N; ++i) {
            float d[VEC];
#pragma unroll
            for (int e = 0; e < VEC; ++e) d[e] = 0.0f;
#pragma unroll
            for (int j = 0; j < N; ++j)
#pragma unroll
              for (int e = 0; e < VEC; ++e) d[e] = fmaf(HR(j, i), dyv[j][e], d[e]);
            store_vec<TR, VEC>(dx + (t * N + i) * C + c, d);
          }
        }
#pragma unroll
        for (int jj = 0; jj < JB; ++jj) {
#pragma unroll
          for (int i = 0; i < N; ++i)
#pragma unroll
            for (int e = 0; e < VEC; ++e) acc[jj * (N + 1) + i] = fmaf(dyv[jj][e], xv[i][e], acc[jj * (N + 1) + i]);
#pragma unroll
          for (int e = 0; e < VEC; ++e) acc[jj * (N + 1) + N] = fmaf(dyv[jj][e], fv[e], acc[jj * (N + 1) + N]);
        }
      } else {
#pragma unroll
        for (int jj = 0; jj < JB; ++jj) {
          float dyv[VEC];
          load_vec<TR, VEC>(dy + (t * N + chunk * JB + jj) * C + c, dyv);
#pragma unroll
          for (int i = 0; i < N; ++i)
#pragma unroll
            for (int e = 0; e < VEC; ++e) acc[jj * (N + 1) + i] = fmaf(dyv[e], xv[i][e], acc[jj * (N + 1) + i]);
#pragma unroll
          for (int e = 0; e < VEC; ++e) acc[jj * (N + 1) + N] = fmaf(dyv[e], fv[e], acc[jj * (N + 1) + N]);
        }
      }
    }
    block_sum_values<V>(acc, red, tot);
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
      const int jj = v / (N + 1), i = v % (N + 1);
      const int j = chunk * JB + jj;
      const int out = i < N ? j * N + i : N * N + j;
      part[(s * T + t) * NV + out] = tot[v];
    }
  }
}

/// dH_res, dH_post from the post backward's partials: sums over slices in order.
template <int N>
__global__ void __launch_bounds__(256) post_backward_reduce_kernel(const float* __restrict__ part, int64_t T, int64_t slices, float* __restrict__ dh_post,
                                                                  float* __restrict__ dh_res) {
  constexpr int NV = N * N + N;
  const int64_t items = T * NV;
  for (int64_t item = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; item < items; item += (int64_t)gridDim.x * blockDim.x) {
    const int64_t t = item / NV;
    const int v = (int)(item - t * NV);
    float acc = 0.0f;
    for (int64_t s = 0; s < slices; ++s) acc += part[(s * T + t) * NV + v];
    if (v < N * N) dh_res[t * N * N + v] = acc;
    else dh_post[t * N + (v - N * N)] = acc;
  }
}

/// Premix backward reduction, one block per (token, channel slice): part[(s * T + t) * N + i]
/// = sum over the slice's channels of du[t, c] x[t, i, c].
template <typename TR, int N, int VEC>
__global__ void __launch_bounds__(256) premix_backward_kernel(const TR* __restrict__ x, const TR* __restrict__ du, int64_t T, int64_t C, int64_t width,
                                                             float* __restrict__ part) {
  __shared__ float red[8 * N];
  __shared__ float tot[N];
  const int64_t t = blockIdx.x;
  const int64_t s = blockIdx.y;
  const int64_t c_begin = s * width;
  const int64_t c_end = c_begin + width < C ? c_begin + width : C;
  const int64_t v_begin = c_begin / VEC, v_end = c_end / VEC;
  float acc[N];
#pragma unroll
  for (int i = 0; i < N; ++i) acc[i] = 0.0f;
  for (int64_t v = v_begin + threadIdx.x; v < v_end; v += blockDim.x) {
    const int64_t c = v * VEC;
    float dv[VEC];
    load_vec<TR, VEC>(du + t * C + c, dv);
#pragma unroll
    for (int i = 0; i < N; ++i) {
      float xv[VEC];
      load_vec<TR, VEC>(x + (t * N + i) * C + c, xv);
#pragma unroll
      for (int e = 0; e < VEC; ++e) acc[i] = fmaf(dv[e], xv[e], acc[i]);
    }
  }
  block_sum_values<N>(acc, red, tot);
  for (int i = threadIdx.x; i < N; i += blockDim.x) part[(s * T + t) * N + i] = tot[i];
}

/// Column sums of part [rows, P] in increasing row order: out[v] = sum_b part[b * P + v].
__global__ void __launch_bounds__(256) sum_rows_kernel(const float* __restrict__ part, int64_t rows, int P, float* __restrict__ out) {
  for (int v = blockIdx.x * blockDim.x + threadIdx.x; v < P; v += gridDim.x * blockDim.x) {
    float acc = 0.0f;
    for (int64_t b = 0; b < rows; ++b) acc += part[b * P + v];
    out[v] = acc;
  }
}

/// The element-wise parts of dx, in one pass:
///   dx[t, i, c] = dx_in[t, i, c] + sum_j H_res[t, j, i] dy[t, j, c] + H_pre[t, i] du[t, c]
/// each term optional (dx_in, dy or du nullptr: left out; dx_in may be dx: each element is read before it
/// is written, by the same thread). A connection without a projection gets its whole dx here; with a
/// projection, the post's dx (dy handed to pre_backward) when the tensor-core kernel does not mix it itself.
template <typename TR, int N>
__global__ void __launch_bounds__(256) elementwise_dx_kernel(const float* __restrict__ h_res, const TR* __restrict__ dy, const float* __restrict__ h_pre,
                                                             const TR* __restrict__ du, const TR* dx_in, TR* dx, int64_t T, int64_t C) {
  const int64_t items = T * N * C;
  for (int64_t item = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; item < items; item += (int64_t)gridDim.x * blockDim.x) {
    const int64_t c = item % C;
    const int64_t ti = item / C;
    const int64_t t = ti / N;
    const int i = (int)(ti - t * N);
    float acc = dx_in != nullptr ? to_float(dx_in[item]) : 0.0f;
    if (dy != nullptr) {
#pragma unroll 4
      for (int j = 0; j < N; ++j) acc = fmaf(__ldg(h_res + (t * N + j) * N + i), to_float(dy[(t * N + j) * C + c]), acc);
    }
    if (du != nullptr) acc = fmaf(__ldg(h_pre + ti), to_float(du[t * C + c]), acc);
    dx[item] = from_float<TR>(acc);
  }
}

/// The prenorm backward's two GEMMs, one kernel each (one row r of R = N*C per thread,
/// blockIdx.x * 256 + threadIdx.x; a chunk of tokens per blockIdx.y):
///   DX = true:  dx[t, r] = dx_in[t, r] + H_pre[t, i] du[t, c] + sum_j G[t, j] phi[r, j] + s2[t] xf[t, r]
///               (dx_in optional, nullptr: 0; it may be dx itself)
///   DX = false: part[(s*R + r)*K + j] = sum over the chunk's tokens of xf[t, r] G[t, j], columns
///               KC at a time (one pass over x per KC columns)
/// Each kernel keeps one register array of KC values a thread (phi's row or dphi's), so
/// many warps fit on an SM: the loads of x, du and dx_in are issued TT tokens at a time and
/// their latency hidden by the other warps. G is read from shared memory 16 bytes at a
/// time; BT tokens' G rows, s2 and H_pre are staged there, double buffered (the next BT
/// tokens' values are loaded into registers before this tile's compute and stored after
/// it; one barrier per BT tokens). For K > KC the dx kernel reads phi's other columns
/// through L1.
/// Per-stream projection (a connection's `projection per_stream`): the same GEMMs over the
/// T*n rows of C values, called with T = T*n, N = 1 (h_pre [T*n] is H_pre [T, n], G and s2
/// are per row); du has one row per token, so row t reads du[t / DU_ROWS] (DU_ROWS = n; a
/// compile-time 1 for the flat projection, no division).
template <bool DX, typename TR, int N, int K, int KC, int TT, int BT, class Phi, int DU_ROWS = 1>
__global__ void __launch_bounds__(256, DX ? 3 : 4) prenorm_backward_kernel(const TR* __restrict__ x, int64_t T, int64_t C, int64_t chunk_tokens, Phi phi,
                                                                          const float* __restrict__ G, const float* __restrict__ s2, const float* __restrict__ h_pre,
                                                                          const TR* __restrict__ du, const TR* dx_in, TR* dx, float* __restrict__ part) {
  static_assert(KC % 4 == 0, "column passes of whole float4s");
  static_assert(BT % TT == 0, "register tiles divide the shared tile");
  constexpr int PASSES = DX ? 1 : (K + KC - 1) / KC;
  constexpr int KP = ((K + KC - 1) / KC) * KC;
  constexpr int GV = (BT * KP + 255) / 256;  // staged G values per thread
  constexpr int HV = DX ? (BT * N + 255) / 256 : 1;
  __shared__ __align__(16) float gs[2][BT][KP];
  __shared__ float s2s[2][BT];
  __shared__ float hps[2][BT][N];
  const int64_t R = (int64_t)N * C;
  const int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const bool live = r < R;
  const int i = live ? (int)(r / C) : 0;
  const int64_t c = live ? r - (int64_t)i * C : 0;
  const int64_t t_begin = (int64_t)blockIdx.y * chunk_tokens;
  const int64_t t_end = t_begin + chunk_tokens < T ? t_begin + chunk_tokens : T;
  const int64_t tiles = t_end > t_begin ? (t_end - t_begin + BT - 1) / BT : 0;
  const int64_t s = blockIdx.y;
  const TR* xr = x + r;  // column r of x: token t at xr[t * R]

  float gr[GV], hr[HV], sr = 0.0f;
  auto fetch = [&](int64_t tile) {  // global -> registers
    const int64_t t0 = t_begin + tile * BT;
#pragma unroll
    for (int q = 0; q < GV; ++q) {
      const int e = threadIdx.x + q * 256, tt = e / KP, j = e - tt * KP;
      gr[q] = (e < BT * KP && j < K && t0 + tt < t_end) ? __ldg(G + (t0 + tt) * K + j) : 0.0f;
    }
    if constexpr (DX) {
#pragma unroll
      for (int q = 0; q < HV; ++q) {
        const int e = threadIdx.x + q * 256, tt = e / N, m = e - tt * N;
        hr[q] = (e < BT * N && t0 + tt < t_end) ? __ldg(h_pre + (t0 + tt) * N + m) : 0.0f;
      }
      sr = (threadIdx.x < BT && t0 + threadIdx.x < t_end) ? __ldg(s2 + t0 + threadIdx.x) : 0.0f;
    }
  };
  auto store = [&](int buf) {  // registers -> shared
#pragma unroll
    for (int q = 0; q < GV; ++q) {
      const int e = threadIdx.x + q * 256;
      if (e < BT * KP) gs[buf][e / KP][e % KP] = gr[q];
    }
    if constexpr (DX) {
#pragma unroll
      for (int q = 0; q < HV; ++q) {
        const int e = threadIdx.x + q * 256;
        if (e < BT * N) hps[buf][e / N][e % N] = hr[q];
      }
      if (threadIdx.x < BT) s2s[buf][threadIdx.x] = sr;
    }
  };

  for (int pass = 0; pass < PASSES; ++pass) {
    const int j0 = pass * KC;
    float w[KC];  // DX: phi[r, j0 + jj]; else the dphi accumulators
#pragma unroll
    for (int jj = 0; jj < KC; ++jj) w[jj] = (DX && live && jj < K) ? phi(r, jj) : 0.0f;
    if (tiles > 0) {
      fetch(0);
      __syncthreads();  // the previous pass's reads of the buffers are done
      store(0);
    }
    for (int64_t tile = 0; tile < tiles; ++tile) {
      const int buf = (int)(tile & 1);
      __syncthreads();  // buffer `buf` is stored; the reads of the other one (last tile) are done
      if (tile + 1 < tiles) fetch(tile + 1);  // in flight during this tile's compute
      const int64_t tb = t_begin + tile * BT;
      const int count = (int)(t_end - tb < BT ? t_end - tb : BT);
      if (live) {
        for (int sub = 0; sub < count; sub += TT) {
          // All TT tokens' loads first: TT (DX: 3 TT) independent loads in flight.
          float xv[TT];
#pragma unroll
          for (int tt = 0; tt < TT; ++tt) xv[tt] = sub + tt < count ? to_float(xr[(tb + sub + tt) * R]) : 0.0f;
          if constexpr (DX) {
            float dv[TT], iv[TT];
#pragma unroll
            for (int tt = 0; tt < TT; ++tt) {
              const bool in = sub + tt < count;
              dv[tt] = in ? to_float(du[((tb + sub + tt) / DU_ROWS) * C + c]) : 0.0f;
              iv[tt] = (in && dx_in != nullptr) ? to_float(dx_in[(tb + sub + tt) * R + r]) : 0.0f;
            }
#pragma unroll
            for (int tt = 0; tt < TT; ++tt) {
              const int row = sub + tt;
              float a = iv[tt] + fmaf(s2s[buf][row], xv[tt], hps[buf][row][i] * dv[tt]);
              const float4* g4 = reinterpret_cast<const float4*>(&gs[buf][row][0]);
#pragma unroll
              for (int q = 0; q < KC / 4; ++q) {
                const float4 gv = g4[q];
                a = fmaf(gv.x, w[4 * q + 0], a);
                a = fmaf(gv.y, w[4 * q + 1], a);
                a = fmaf(gv.z, w[4 * q + 2], a);
                a = fmaf(gv.w, w[4 * q + 3], a);
              }
              for (int j = KC; j < K; ++j) a = fmaf(gs[buf][row][j], phi(r, j), a);
              if (row < count) dx[(tb + row) * R + r] = from_float<TR>(a);
            }
          } else {
#pragma unroll
            for (int tt = 0; tt < TT; ++tt) {
              const float4* g4 = reinterpret_cast<const float4*>(&gs[buf][sub + tt][j0]);  // rows past count are zero
#pragma unroll
              for (int q = 0; q < KC / 4; ++q) {
                const float4 gv = g4[q];
                w[4 * q + 0] = fmaf(xv[tt], gv.x, w[4 * q + 0]);
                w[4 * q + 1] = fmaf(xv[tt], gv.y, w[4 * q + 1]);
                w[4 * q + 2] = fmaf(xv[tt], gv.z, w[4 * q + 2]);
                w[4 * q + 3] = fmaf(xv[tt], gv.w, w[4 * q + 3]);
              }
            }
          }
        }
      }
      if (tile + 1 < tiles) store(buf ^ 1);  // nobody reads buf ^ 1 until after the next barrier
    }
    if (!DX && live) {
#pragma unroll
      for (int jj = 0; jj < KC; ++jj)
        if (j0 + jj < K) part[(s * R + r) * K + j0 + jj] = w[jj];
    }
  }
}

/// dphi from the prenorm backward's partials part [S, R, K]: sums over chunks in order and
/// scatters the columns to the maps' gradients ([R, k] each, columns [0, k0), [k0, k0 + k1),
/// [k0 + k1, K); a map with k = 0 has no output).
__global__ void __launch_bounds__(256) dphi_reduce_kernel(const float* __restrict__ part, int64_t R, int K, int64_t chunks, float* __restrict__ out0, int k0,
                                                          float* __restrict__ out1, int k1, float* __restrict__ out2) {
  const int64_t items = R * K;
  for (int64_t item = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; item < items; item += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = item / K;
    const int j = (int)(item - r * K);
    float acc = 0.0f;
    for (int64_t s = 0; s < chunks; ++s) acc += part[s * R * K + item];
    if (j < k0) out0[r * k0 + j] = acc;
    else if (j < k0 + k1) out1[r * k1 + (j - k0)] = acc;
    else out2[r * (K - k0 - k1) + (j - k0 - k1)] = acc;
  }
}

}  // namespace mhc
