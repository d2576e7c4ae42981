// mhc_prenorm.cuh: kernel 1 of design.md 4.2, the prenorm projection.
//
//   proj[t, j] = sum_r xf[t, r] * phi[r, j]      (r < R = n*C, j < K = k_pre + k_post + k_res)
//   ss[t]      = sum_r xf[t, r]^2
//
// in ONE pass over x. This is a SIMT (CUDA-core, fp32 FMA) GEMM: every x element is
// converted to fp32 once, squared once and multiplied by all K columns from registers.
//
// Tiling (template parameters, chosen by the code generator from K):
//   a block of 256 threads = WM x WN warps owns TM = WM * 32 * RM tokens and all
//   KP = WN * RN (>= K, a multiple of 4) columns; lane l of a warp owns tokens
//   l, l + 32, ... (RM of them) and RN consecutive columns, so the x operand read from
//   shared memory is conflict-free and the phi operand is a 16-byte broadcast.
//   The reduction dimension is walked in BK-row steps through shared memory, the next
//   step's global loads in flight (register double buffering) while this one computes.
// Split-K: blockIdx.y takes a contiguous `chunk` of the R reduction rows and writes
// fp32 partials proj_part[s, t, :] and ss_part[s, t]; the coefficient kernel sums
// them in a fixed order (deterministic). blockIdx.x is the token tile, so blocks that
// run together share one phi slice in L2.
//
// Tensor cores: mhc_mma.cuh's prenorm_mma_kernel (bf16 mma.sync, phi split into bf16 parts)
// is the default for a bf16 residual; this SIMT kernel serves an fp32 residual (and every
// residual where knobs.ts PRENORM_TENSOR_CORES = false or the MMA tile does not fit).
// Both write the same split-K partial layout, so the coefficient kernel is the same.
#pragma once

#include "mhc_vec.cuh"
#include "mhc_pdl.cuh"

namespace mhc {

struct PrenormSplit {
  int64_t splits;  // number of reduction chunks (gridDim.y)
  int64_t chunk;   // rows of R per chunk, a multiple of bk
};

/// The split-K plan for T tokens and R = n*C reduction rows. Depends only on its arguments
/// (not on the device, not on the dtype), so the workspace size is a pure function of (T, C)
/// for a given connection (K, tm, bk, slots are compile-time constants of the kernel).
///   tiles = ceil(T / tm), steps = ceil(R / bk);
///   s <= steps / min_steps (each split walks at least min_steps BK-row steps);
///   s <= the most splits whose fp32 partials (T*(K+1) floats a split, written and read once)
///        move at most 1/traffic_div of the bytes the GEMM reads (T*R*2 of x, R*K*4 of phi);
///   s <= 2 * slots / tiles (more splits only add waves);
///   among those, the s with the least modelled time waves(s) * (ceil(steps / s) + overhead),
///   waves(s) = ceil(tiles * s / slots), `slots` the blocks the GPU runs at once: one wave
///   filled as evenly as the tile count allows, many small splits when T is small. Ties go to
///   the fewest splits (least partial traffic).
__host__ __device__ inline PrenormSplit prenorm_split(int64_t T, int64_t R, int tm, int bk, int slots, int min_steps, int K, int traffic_div,
                                                      int overhead_steps) {
  const int64_t tiles = T > 0 ? (T + tm - 1) / tm : 1;
  const int64_t steps = R > 0 ? (R + bk - 1) / bk : 1;
  int64_t max_s = steps / min_steps;
  if (traffic_div > 0 && K > 0 && T > 0) {
    const double read_bytes = (double)T * (double)R * 2.0 + (double)R * (double)K * 4.0;
    const double per_split = 2.0 * (double)T * (double)(K + 1) * 4.0;
    const double lim = read_bytes / ((double)traffic_div * per_split);
    if ((double)max_s > lim) max_s = (int64_t)lim;
  }
  const int64_t wave_cap = (2 * (int64_t)slots + tiles - 1) / tiles;
  if (max_s > wave_cap) max_s = wave_cap;
  if (max_s < 1) max_s = 1;
  int64_t best = 1;
  double best_cost = 0.0;
  for (int64_t s = 1; s <= max_s; ++s) {
    const int64_t per = (steps + s - 1) / s;
    const int64_t used = (steps + per - 1) / per;  // splits this chunk length really gives
    if (used != s) continue;
    const int64_t waves = (tiles * s + slots - 1) / slots;
    const double cost = (double)waves * (double)(per + overhead_steps);
    if (s == 1 || cost < best_cost) {
      best = s;
      best_cost = cost;
    }
  }
  const int64_t steps_per = (steps + best - 1) / best;
  PrenormSplit plan;
  plan.chunk = steps_per * bk;
  plan.splits = R > 0 ? (R + plan.chunk - 1) / plan.chunk : 1;
  if (plan.splits < 1) plan.splits = 1;
  return plan;
}

/// Bytes of the proj_part region [S, T, K] fp32, rounded up to 256 (ss_part follows it).
__host__ __device__ inline size_t prenorm_proj_bytes(int64_t T, int64_t splits, int K) {
  return ((size_t)splits * (size_t)T * (size_t)K * sizeof(float) + 255) / 256 * 256;
}

/// Bytes of workspace: proj_part [S, T, K] then ss_part [S, T], each 256-byte aligned; 0 when K = 0.
__host__ __device__ inline size_t prenorm_workspace_bytes(int64_t T, int64_t splits, int K) {
  const size_t ss = ((size_t)splits * (size_t)T * sizeof(float) + 255) / 256 * 256;
  return K > 0 ? prenorm_proj_bytes(T, splits, K) + ss : 0;
}

template <typename TX, int K, int WN, int RN, int WM, int RM, int BK, class Phi>
__global__ void __launch_bounds__(256, 2) prenorm_kernel(const TX* __restrict__ x, int64_t T, int64_t R, int64_t chunk, bool vec_ok, Phi phi,
                                                      float* __restrict__ proj_part, float* __restrict__ ss_part) {
  static_assert(WN * WM == 8, "256 threads");
  static_assert(RN % 4 == 0, "RN is a multiple of 4 (16-byte phi reads)");
  constexpr int TM = WM * 32 * RM;
  constexpr int KP = WN * RN;
  static_assert(KP >= K, "the column tile covers K");
  constexpr int VEC = vec16<TX>();      // elements per 16-byte x load
  static_assert(BK % VEC == 0, "BK is a multiple of the vector width");
  constexpr int XCH = TM * (BK / VEC);  // x chunks per step
  constexpr int XPT = (XCH + 255) / 256;
  constexpr int PE = BK * KP;           // phi elements per step
  constexpr int PPT = (PE + 255) / 256;

  __shared__ float xs[BK][TM + 1];             // +1: conflict-free transposed stores
  __shared__ __align__(16) float ps[BK][KP];

  const int tid = threadIdx.x;
  const int warp = tid >> 5, lane = tid & 31;
  const int wn = warp % WN, wm = warp / WN;
  const int64_t t0 = (int64_t)blockIdx.x * TM;
  const int64_t r_begin = (int64_t)blockIdx.y * chunk;
  const int64_t r_end = r_begin + chunk < R ? r_begin + chunk : R;
  const int steps = (int)((r_end - r_begin + BK - 1) / BK);
  // The coefficient kernel (launched overlapped) may place its blocks now; it reads the partials only after this grid's end.
  wait_prior_grids();
  allow_dependent_grids();

  float acc[RM][RN];
  float ss[RM];
#pragma unroll
  for (int m = 0; m < RM; ++m) {
    ss[m] = 0.0f;
#pragma unroll
    for (int j = 0; j < RN; ++j) acc[m][j] = 0.0f;
  }

  float xr[XPT][VEC];
  float pr[PPT];

  auto load_global = [&](int step) {
    const int64_t r0 = r_begin + (int64_t)step * BK;
#pragma unroll
    for (int q = 0; q < XPT; ++q) {
      const int c = tid + q * 256;
      const int tok = c / (BK / VEC);
      const int kc = (c % (BK / VEC)) * VEC;
      const int64_t t = t0 + tok;
      const int64_t r = r0 + kc;
      if (c < XCH && t < T) {
        load_row_chunk<TX, VEC>(x + t * R + r, r, r_end, vec_ok, xr[q]);
      } else {
#pragma unroll
        for (int e = 0; e < VEC; ++e) xr[q][e] = 0.0f;
      }
    }
#pragma unroll
    for (int q = 0; q < PPT; ++q) {
      const int e = tid + q * 256;
      const int kk = e / KP, col = e % KP;
      const int64_t r = r0 + kk;
      pr[q] = (e < PE && col < K && r < r_end) ? phi(r, col) : 0.0f;
    }
  };

  auto store_shared = [&]() {
#pragma unroll
    for (int q = 0; q < XPT; ++q) {
      const int c = tid + q * 256;
      if (c < XCH) {
        const int tok = c / (BK / VEC);
        const int kc = (c % (BK / VEC)) * VEC;
#pragma unroll
        for (int e = 0; e < VEC; ++e) xs[kc + e][tok] = xr[q][e];
      }
    }
#pragma unroll
    for (int q = 0; q < PPT; ++q) {
      const int e = tid + q * 256;
      if (e < PE) ps[e / KP][e % KP] = pr[q];
    }
  };

  if (steps > 0) load_global(0);
  for (int step = 0; step < steps; ++step) {
    __syncthreads();  // the previous step's reads of xs/ps are done
    store_shared();
    __syncthreads();
    if (step + 1 < steps) load_global(step + 1);  // in flight during the FMAs below
#pragma unroll 4
    for (int kk = 0; kk < BK; ++kk) {
      float a[RM];
#pragma unroll
      for (int m = 0; m < RM; ++m) a[m] = xs[kk][wm * 32 * RM + m * 32 + lane];
      if (wn == 0) {
#pragma unroll
        for (int m = 0; m < RM; ++m) ss[m] = fmaf(a[m], a[m], ss[m]);
      }
#pragma unroll
      for (int j4 = 0; j4 < RN / 4; ++j4) {
        const float4 b = *reinterpret_cast<const float4*>(&ps[kk][wn * RN + j4 * 4]);
#pragma unroll
        for (int m = 0; m < RM; ++m) {
          acc[m][j4 * 4 + 0] = fmaf(a[m], b.x, acc[m][j4 * 4 + 0]);
          acc[m][j4 * 4 + 1] = fmaf(a[m], b.y, acc[m][j4 * 4 + 1]);
          acc[m][j4 * 4 + 2] = fmaf(a[m], b.z, acc[m][j4 * 4 + 2]);
          acc[m][j4 * 4 + 3] = fmaf(a[m], b.w, acc[m][j4 * 4 + 3]);
        }
      }
    }
  }

  const int64_t s = blockIdx.y;
#pragma unroll
  for (int m = 0; m < RM; ++m) {
    const int64_t t = t0 + wm * 32 * RM + m * 32 + lane;
    if (t >= T) continue;
    float* out = proj_part + (s * T + t) * K;
#pragma unroll
    for (int j = 0; j < RN; ++j) {
      const int col = wn * RN + j;
      if (col < K) out[col] = acc[m][j];
    }
    if (wn == 0) ss_part[s * T + t] = ss[m];
  }
}

}  // namespace mhc

#include "mhc_mma.cuh"
