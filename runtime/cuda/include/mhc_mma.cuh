// mhc_mma.cuh: kernel 1 of design.md 4.2 on tensor cores (the default path; the SIMT
// prenorm_kernel of mhc_prenorm.cuh stays selectable, knobs.ts PRENORM_TENSOR_CORES).
//
//   proj[t, j] = sum_r xf[t, r] * phi[r, j]      (r < R = n*C, j < K)
//   ss[t]      = sum_r xf[t, r]^2
//
// in ONE pass over x, with mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 (sm_80+).
//
// Accuracy (TF32 keeps 10 explicit mantissa bits, the MMA ignores the low 13 bits of
// each operand):
//   * phi is split once per block and step into hi = rna_tf32(phi) and
//     lo = rna_tf32(phi - hi); |phi - hi - lo| <= 2^-22 |phi|.
//   * bf16 x is exact in TF32 (8-bit mantissa): x . phi = x . hi + x . lo, two MMAs.
//   * fp32 x is split the same way (3xTF32): x_hi . hi + x_hi . lo + x_lo . hi, three
//     MMAs; the dropped x_lo . lo term is ~2^-22 relative.
//   * the products are exact, the sums are fp32 accumulations in the MMA (as the SIMT
//     FMAs), so the result is fp32-grade (verified at 1e-5 relative vs float64).
//   * ss is taken in fp32 from the same registers that carry x to shared memory (the
//     exact x values, not TF32), per thread over its chunks, then a fixed xor-butterfly
//     over the BK / VEC lanes that share a token: deterministic.
//
// Tiling (template parameters, knobs.ts prenormConfig): 256 threads = WM x WN warps; warp
// (wm, wn) owns MT m16 tiles of tokens and NT n8 tiles of columns, so a block owns
// TM = WM * MT * 16 tokens and KP = WN * NT * 8 >= K columns (the columns K..KP-1 are
// zero padding in shared memory, never stored). The reduction walks BK-row steps
// through shared memory (x as fp32 [TM][BK + 4]; phi hi and lo as TF32 [BK][KP (+8)]:
// both padded so that the fragment reads are conflict-free), the next step's global
// loads in flight in registers while this step's MMAs run.
// Split-K as in prenorm_kernel: blockIdx.y takes `chunk` rows (a multiple of BK) and
// writes proj_part[s, t, :] and ss_part[s, t]; the coefficient kernel is unchanged.
#pragma once

#include <type_traits>

#include "mhc_vec.cuh"

namespace mhc {

/// Round to nearest (ties away) to TF32; the result is a float bit pattern with the low 13 bits clear.
__device__ __forceinline__ uint32_t tf32_rna(float v) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(v));
  return r;
}

/// d += a (16x8, row) * b (8x8, col), TF32 inputs, fp32 accumulators.
__device__ __forceinline__ void mma_tf32_16x8x8(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/// Row stride (in words) of the phi tiles in shared memory: == 8 or 24 (mod 32), so the B fragment reads
/// (rows lane % 4, columns lane / 4) hit 32 distinct banks.
template <int KP> __host__ __device__ constexpr int mma_phi_stride() { return KP % 16 == 0 ? KP + 8 : KP; }

template <typename TX, int K, int WN, int NT, int WM, int MT, int BK, class Phi>
__global__ void __launch_bounds__(256) prenorm_mma_kernel(const TX* __restrict__ x, int64_t T, int64_t R, int64_t chunk, bool vec_ok, Phi phi,
                                                          float* __restrict__ proj_part, float* __restrict__ ss_part) {
  static_assert(WN * WM == 8, "256 threads");
  constexpr int TM = WM * MT * 16;
  constexpr int KP = WN * NT * 8;
  static_assert(KP >= K, "the column tile covers K");
  constexpr bool SPLIT_X = std::is_same<TX, float>::value;  // fp32 x: 3xTF32
  constexpr int VEC = vec16<TX>();                           // elements per 16-byte x load
  static_assert(BK % 8 == 0 && BK % VEC == 0, "BK is a multiple of the MMA depth and of the vector width");
  constexpr int CPT = BK / VEC;  // x chunks per token and step
  static_assert(32 % CPT == 0, "the chunks of one token lie in one warp");
  constexpr int XCH = TM * CPT;  // x chunks per step (a multiple of 32: warp-uniform guards)
  constexpr int XPT = (XCH + 255) / 256;
  constexpr int PE = BK * KP;  // phi elements per step
  constexpr int PPT = (PE + 255) / 256;
  constexpr int XS = BK + 4;  // == 4 (mod 32) for BK = 32, conflict-free A fragment reads for BK = 16 too
  constexpr int PS = mma_phi_stride<KP>();

  __shared__ __align__(16) float xs[TM][XS];
  __shared__ __align__(16) uint32_t ph[BK][PS];
  __shared__ __align__(16) uint32_t pl[BK][PS];

  const int tid = threadIdx.x;
  const int warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, tq = lane & 3;  // fragment row group and thread-in-group
  const int wn = warp % WN, wm = warp / WN;
  const int64_t t0 = (int64_t)blockIdx.x * TM;
  const int64_t r_begin = (int64_t)blockIdx.y * chunk;
  const int64_t r_end = r_begin + chunk < R ? r_begin + chunk : R;
  const int steps = (int)((r_end - r_begin + BK - 1) / BK);

  float acc[MT][NT][4];
#pragma unroll
  for (int m = 0; m < MT; ++m)
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[m][j][e] = 0.0f;
  float ss[XPT];
#pragma unroll
  for (int q = 0; q < XPT; ++q) ss[q] = 0.0f;

  float xr[XPT][VEC];
  float pr[PPT];

  auto load_global = [&](int step) {
    const int64_t r0 = r_begin + (int64_t)step * BK;
#pragma unroll
    for (int q = 0; q < XPT; ++q) {
      const int c = tid + q * 256;
      const int tok = c / CPT;
      const int kc = (c % CPT) * VEC;
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

  // Stores this step into shared memory (x as fp32, phi as TF32 hi/lo) and adds the squares of the same x registers.
  auto store_shared = [&]() {
#pragma unroll
    for (int q = 0; q < XPT; ++q) {
      const int c = tid + q * 256;
      if (c < XCH) {
        const int tok = c / CPT;
        const int kc = (c % CPT) * VEC;
#pragma unroll
        for (int e = 0; e < VEC; e += 4)
          *reinterpret_cast<float4*>(&xs[tok][kc + e]) = make_float4(xr[q][e], xr[q][e + 1], xr[q][e + 2], xr[q][e + 3]);
#pragma unroll
        for (int e = 0; e < VEC; ++e) ss[q] = fmaf(xr[q][e], xr[q][e], ss[q]);
      }
    }
#pragma unroll
    for (int q = 0; q < PPT; ++q) {
      const int e = tid + q * 256;
      if (e < PE) {
        const uint32_t hi = tf32_rna(pr[q]);
        ph[e / KP][e % KP] = hi;
        pl[e / KP][e % KP] = tf32_rna(pr[q] - __uint_as_float(hi));
      }
    }
  };

  if (steps > 0) load_global(0);
  for (int step = 0; step < steps; ++step) {
    __syncthreads();  // the previous step's fragment reads are done
    store_shared();
    __syncthreads();
    if (step + 1 < steps) load_global(step + 1);  // in flight during the MMAs below
#pragma unroll
    for (int k0 = 0; k0 < BK; k0 += 8) {
      uint32_t a[MT][4];
      uint32_t alo[SPLIT_X ? MT : 1][4];
#pragma unroll
      for (int m = 0; m < MT; ++m) {
        const int row = wm * MT * 16 + m * 16 + g;
        const float v[4] = {xs[row][k0 + tq], xs[row + 8][k0 + tq], xs[row][k0 + tq + 4], xs[row + 8][k0 + tq + 4]};
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          if constexpr (SPLIT_X) {
            a[m][e] = tf32_rna(v[e]);
            alo[m][e] = tf32_rna(v[e] - __uint_as_float(a[m][e]));
          } else {
            a[m][e] = __float_as_uint(v[e]);  // bf16 -> fp32 is exact in TF32
          }
        }
      }
#pragma unroll
      for (int j = 0; j < NT; ++j) {
        const int col = wn * NT * 8 + j * 8 + g;
        const uint32_t bh0 = ph[k0 + tq][col], bh1 = ph[k0 + tq + 4][col];
        const uint32_t bl0 = pl[k0 + tq][col], bl1 = pl[k0 + tq + 4][col];
#pragma unroll
        for (int m = 0; m < MT; ++m) {
          mma_tf32_16x8x8(acc[m][j], a[m], bl0, bl1);  // small terms first
          if constexpr (SPLIT_X) mma_tf32_16x8x8(acc[m][j], alo[m], bh0, bh1);
          mma_tf32_16x8x8(acc[m][j], a[m], bh0, bh1);
        }
      }
    }
  }

  const int64_t s = blockIdx.y;
  // Accumulator fragment: acc[.][.][0..1] are row g, columns 2 tq, 2 tq + 1; [2..3] row g + 8.
#pragma unroll
  for (int m = 0; m < MT; ++m) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t t = t0 + wm * MT * 16 + m * 16 + g + h * 8;
      if (t >= T) continue;
      float* out = proj_part + (s * T + t) * K;
#pragma unroll
      for (int j = 0; j < NT; ++j) {
        const int col = wn * NT * 8 + j * 8 + 2 * tq;
        if constexpr (K % 2 == 0) {
          if (col < K) *reinterpret_cast<float2*>(out + col) = make_float2(acc[m][j][2 * h], acc[m][j][2 * h + 1]);
        } else {
          if (col < K) out[col] = acc[m][j][2 * h];
          if (col + 1 < K) out[col + 1] = acc[m][j][2 * h + 1];
        }
      }
    }
  }
  // Sum of squares: a fixed butterfly over the CPT consecutive lanes that hold one token's chunks.
#pragma unroll
  for (int q = 0; q < XPT; ++q) {
    float v = ss[q];
#pragma unroll
    for (int o = CPT / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int c = tid + q * 256;
    const int64_t t = t0 + c / CPT;
    if (c < XCH && c % CPT == 0 && t < T) ss_part[s * T + t] = v;
  }
}

}  // namespace mhc
