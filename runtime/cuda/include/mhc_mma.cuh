// mhc_mma.cuh: kernel 1 of design.md 4.2 on tensor cores, for a bf16 residual (the default
// path; an fp32 residual runs the SIMT prenorm_kernel of mhc_prenorm.cuh).
//
//   proj[t, j] = sum_r xf[t, r] * phi[r, j]      (r < R = n*C, j < K)
//   ss[t]      = sum_r xf[t, r]^2
//
// in ONE pass over x, with mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 (sm_80+).
//
// Accuracy (fp32-grade, verified at 1e-5 relative against float64):
//   * x is bf16, so it is exact as an MMA operand.
//   * phi (fp32) is split once per block and step into PARTS bf16 terms,
//     phi = p0 + p1 + p2 with p0 = bf16(phi), p1 = bf16(phi - p0), p2 = bf16(phi - p0 - p1)
//     (each subtraction exact in fp32): |phi - p0 - p1 - p2| <= 2^-27 |phi|, below fp32's
//     own rounding. x . phi = x . p0 + x . p1 + x . p2: PARTS MMAs, products exact.
//   * The MMA's fp32 accumulation truncates (it does not round to nearest), so a long chain
//     of MMAs into one accumulator drifts (a TF32 kernel that accumulated whole split-K
//     chunks in the MMA missed 1e-5 by 2x). Here each warp accumulates one BK-row step in a
//     fresh fragment (PARTS * BK / 16 MMAs) and adds it to its fp32 accumulators with an
//     ordinary (round-to-nearest) FADD, as the SIMT kernel's FMAs do.
//   * ss goes through the tensor cores too: with A the x tile, the products A . A^T of the
//     tile's tokens 0-7 and 8-15 (their B fragments are A's own registers) have the sums of
//     squares on their diagonals; the same per-step fresh fragment, then FADD.
//
// Tiling (template parameters, knobs.ts prenormMmaConfig): 256 threads = WM x WN warps; warp
// (wm, wn) owns MT m16 tiles of tokens and NT n8 tiles of columns, so a block owns
// TM = WM * MT * 16 tokens and KP = WN * NT * 8 >= K columns (columns K..KP-1 are zero
// padding, never stored). The reduction walks BK-row steps through a STAGES-deep ring of
// dynamic shared memory: x (raw bf16 [TM][BK + 8]) and phi (raw fp32 [BK][KP]) both arrive
// by cp.async, 16 bytes at a time, zero-filled past T, past K and past the chunk (phi as
// whole float4s where Phi::QUADS and the pointers allow, else element by element). At each
// step the block splits that step's phi into the bf16 parts [PARTS][BK][PS] (one buffer),
// then runs the MMAs: A fragments by ldmatrix, B fragments by ldmatrix.trans, both layouts
// padded so that the 8 rows of each 8x8 matrix fall in distinct banks.
// Split-K as in prenorm_kernel: blockIdx.y takes `chunk` rows (a multiple of BK) and writes
// proj_part[s, t, :] and ss_part[s, t]; the coefficient kernel is the same for both kernels.
//
// PRESPLIT: where many token tiles walk the same phi (large T), every block splitting every
// step of phi repeats the same work once per tile (at n = 8 the splits issued more instructions
// than the MMAs). Then split_phi_kernel splits phi once per call into the workspace, parts
// [PARTS][R][KP] bf16 (columns K..KP-1 zero), and the ring carries the parts themselves by
// cp.async: no raw fp32 tile, no split phase and one barrier per step. Same parts, same MMAs in
// the same order: the results are bit-identical to the in-block split.
#pragma once

#include "mhc_vec.cuh"
#include "mhc_pdl.cuh"

namespace mhc {

__device__ __forceinline__ uint32_t smem_addr(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }

/// 16 bytes global -> shared, asynchronously; bytes < 16 zero-fills the rest (0: all zeros, nothing read).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(bytes) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
/// Waits until at most N of this thread's committed groups are still in flight.
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }

/// Four 8x8 b16 matrices; lanes 8q..8q+7 give the row addresses of matrix q.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p))
               : "memory");
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p))
               : "memory");
}

/// d += a (16x16, row) * b (16x8, col), bf16 inputs, fp32 accumulators.
__device__ __forceinline__ void mma_bf16_16x8x16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/// d += a (16x8, row) * b (8x8, col), tf32 inputs (fp32 bit patterns; the low 13 mantissa bits are ignored), fp32 accumulators.
/// Lane (g = lane / 4, q = lane % 4) holds a = {A[g][q], A[g + 8][q], A[g][q + 4], A[g + 8][q + 4]}, b = {B[q][g], B[q + 4][g]}
/// and d = {D[g][2q], D[g][2q + 1], D[g + 8][2q], D[g + 8][2q + 1]}.
__device__ __forceinline__ void mma_tf32_16x8x8(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/// v rounded to tf32 (nearest, ties away), as the fp32 bit pattern an mma reads.
__device__ __forceinline__ uint32_t to_tf32(float v) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(v));
  return r;
}

/// Row stride (bf16 elements) of the phi parts in shared memory: half of it an odd multiple of 4 words, so
/// the 8 rows an ldmatrix phase reads (16 bytes each) cover all 32 banks.
template <int KP> __host__ __device__ constexpr int mma_phi_stride() { return KP % 16 == 0 ? KP + 8 : KP; }

/// Dynamic shared memory of prenorm_mma_kernel: STAGES x (x tile, bf16, + raw phi tile, fp32) + one set of phi parts (bf16).
template <int TM, int KP, int BK, int STAGES, int PARTS> __host__ __device__ constexpr int mma_smem_bytes() {
  return STAGES * (TM * (BK + 8) * 2 + BK * KP * 4) + PARTS * BK * mma_phi_stride<KP>() * 2;
}

/// Dynamic shared memory of prenorm_mma_kernel with PRESPLIT: STAGES x (x tile + the step's phi parts), both bf16.
template <int TM, int KP, int BK, int STAGES, int PARTS> __host__ __device__ constexpr int mma_presplit_smem_bytes() {
  return STAGES * (TM * (BK + 8) * 2 + PARTS * BK * mma_phi_stride<KP>() * 2);
}

/// Bytes of the pre-split phi, parts [PARTS][R][KP] bf16, rounded up to 256.
__host__ __device__ inline size_t mma_phi_parts_bytes(int64_t R, int KP, int PARTS) {
  return ((size_t)PARTS * (size_t)R * (size_t)KP * 2 + 255) / 256 * 256;
}

/// Splits v into PARTS bf16 terms, largest first (each remainder exact in fp32).
template <int PARTS>
__device__ __forceinline__ void split_bf16(float v, __nv_bfloat16 (&p)[PARTS]) {
#pragma unroll
  for (int q = 0; q < PARTS; ++q) {
    p[q] = __float2bfloat16_rn(v);
    v -= __bfloat162float(p[q]);
  }
}

/// Four consecutive values split into PARTS bf16 terms each (split_bf16): part[s] holds term s of the four, in order,
/// as one 8-byte word ready for a store into a parts row.
template <int PARTS>
__device__ __forceinline__ void split_quad(const float (&v)[4], uint2 (&part)[PARTS]) {
  union { uint2 raw; __nv_bfloat16 e[4]; } w[PARTS];
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    __nv_bfloat16 p[PARTS];
    split_bf16<PARTS>(v[e], p);
#pragma unroll
    for (int s = 0; s < PARTS; ++s) w[s].e[e] = p[s];
  }
#pragma unroll
  for (int s = 0; s < PARTS; ++s) part[s] = w[s].raw;
}

/// phi (R rows of K columns, through the Phi accessor) into parts [PARTS][R][KP] bf16, columns K..KP-1 zero:
/// the same split_bf16 terms prenorm_mma_kernel forms in shared memory, once for every token tile.
template <int K, int KP, int PARTS, class Phi>
__global__ void __launch_bounds__(256) split_phi_kernel(Phi phi, int64_t R, __nv_bfloat16* __restrict__ parts) {
  static_assert(KP % 4 == 0 && KP >= K, "whole quads, K covered");
  const int64_t quads = R * (KP / 4);
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < quads; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = i / (KP / 4);
    const int c4 = (int)(i - r * (KP / 4)) * 4;
    float v[4];
    phi.load4(r, c4, v);  // zeros past K
    uint2 part[PARTS];
    split_quad<PARTS>(v, part);
#pragma unroll
    for (int s = 0; s < PARTS; ++s) *reinterpret_cast<uint2*>(parts + ((int64_t)s * R + r) * KP + c4) = part[s];
  }
}

template <int K, int WN, int NT, int WM, int MT, int BK, int STAGES, int PARTS, int MIN_BLOCKS, bool PRESPLIT, class Phi>
__global__ void __launch_bounds__(256, MIN_BLOCKS) prenorm_mma_kernel(const __nv_bfloat16* __restrict__ x, int64_t T, int64_t R, int64_t chunk, bool vec_ok,
                                                                      Phi phi, const __nv_bfloat16* __restrict__ phi_parts, float* __restrict__ proj_part,
                                                                      float* __restrict__ ss_part) {
  static_assert(WN * WM == 8, "256 threads");
  static_assert(BK % 32 == 0, "BK is a multiple of 32 (B fragments of two k16 steps per ldmatrix.x4)");
  static_assert(STAGES >= 2, "at least double buffering");
  static_assert(PARTS >= 1 && PARTS <= 3, "1 to 3 bf16 parts of phi");
  constexpr int TM = WM * MT * 16;
  constexpr int KP = WN * NT * 8;
  static_assert(KP >= K, "the column tile covers K");
  constexpr int XS = BK + 8;  // x row stride (elements): rows 16 bytes apart modulo 128
  constexpr int PS = mma_phi_stride<KP>();
  constexpr int X_STAGE = TM * XS;        // bf16 elements
  constexpr int R_STAGE = BK * KP;        // fp32 elements
  constexpr int CPR = BK / 8;             // 16-byte x chunks per token and step
  constexpr int XCH = TM * CPR;
  constexpr int XPT = (XCH + 255) / 256;
  constexpr int P4 = KP / 4;              // phi quads (4 consecutive columns of one row) per row
  constexpr int PITEMS = BK * P4;
  constexpr int PPT = (PITEMS + 255) / 256;
  constexpr int KK = BK / 16;
  // n8 tiles whose MMA chains run interleaved: up to four independent fresh fragments per k16 step (JG x MT).
  constexpr int JG = 4 / MT < 1 ? 1 : (4 / MT > NT ? NT : 4 / MT);
  constexpr int P_STAGE = PARTS * BK * PS;  // PRESPLIT: bf16 elements of one step's parts
  constexpr int PCH = KP / 8;               // PRESPLIT: 16-byte chunks of a part row
  constexpr int QITEMS = PARTS * BK * PCH;
  constexpr int QPT = (QITEMS + 255) / 256;
  static_assert(!PRESPLIT || KP % 8 == 0, "whole 16-byte chunks of a part row");

  extern __shared__ __align__(16) unsigned char mma_smem[];
  __nv_bfloat16* const xs = reinterpret_cast<__nv_bfloat16*>(mma_smem);                  // [STAGES][TM][XS]
  // In-block split: [STAGES][BK][KP] raw fp32 phi, then one [PARTS][BK][PS] set of parts.
  float* const raw = reinterpret_cast<float*>(mma_smem + STAGES * X_STAGE * 2);
  __nv_bfloat16* const ps = reinterpret_cast<__nv_bfloat16*>(raw + STAGES * R_STAGE);
  // PRESPLIT: [STAGES][PARTS][BK][PS] parts right after the x ring.
  __nv_bfloat16* const pring = reinterpret_cast<__nv_bfloat16*>(mma_smem + STAGES * X_STAGE * 2);

  const int tid = threadIdx.x;
  const int warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, tq = lane & 3;  // fragment row group and thread-in-group
  const int wn = warp % WN, wm = warp / WN;
  const int64_t t0 = (int64_t)blockIdx.x * TM;
  const int64_t r_begin = (int64_t)blockIdx.y * chunk;
  const int64_t r_end = r_begin + chunk < R ? r_begin + chunk : R;
  const int steps = (int)((r_end - r_begin + BK - 1) / BK);
  bool phi_async = false;  // raw phi by cp.async (Phi::QUADS layouts with 16-byte aligned pointers)
  if constexpr (Phi::QUADS) phi_async = phi.vec4;
  // The coefficient kernel (launched overlapped) may place its blocks now; it reads the partials only after this grid's end.
  wait_prior_grids();
  allow_dependent_grids();

  float acc[MT][NT][4];
#pragma unroll
  for (int m = 0; m < MT; ++m)
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[m][j][e] = 0.0f;
  float ss[MT][2];  // sums of squares of tokens g and g + 8 of each m tile (meaningful where tq == g / 2)
#pragma unroll
  for (int m = 0; m < MT; ++m) ss[m][0] = ss[m][1] = 0.0f;

  // Token rows a live warp reads: whole warp rows (MT m tiles) up to the one holding the block's last token. The rows
  // past them are never loaded (small T: one 16-token tile of TM; H100, T = 16, n = 4: the GEMM's zero-filled copies
  // of the 112 empty rows cost ~0.2 us of the decode step); rows past T inside them are zero-filled. Only in the
  // in-block-split instantiation, which serves small T: in the pre-split one (large T, full tiles) the test made
  // the n = 8 and n = 16 GEMMs 2-3% slower (H100, T = 8192, C = 4096).
  const int64_t rows_left = T - t0;
  const int live_rows = PRESPLIT || rows_left >= TM ? TM : (int)((rows_left + MT * 16 - 1) / (MT * 16)) * MT * 16;

  // x and raw phi of `step` into ring slot `slot`: cp.async where the layout allows 16-byte copies, else element by element.
  auto load_stage = [&](int slot, int step) {
    const int64_t r0 = r_begin + (int64_t)step * BK;
    __nv_bfloat16* xdst = xs + slot * X_STAGE;
#pragma unroll
    for (int q = 0; q < XPT; ++q) {
      const int c = tid + q * 256;
      if (XCH % 256 != 0 && c >= XCH) break;
      const int tok = c / CPR;
      if (!PRESPLIT && tok >= live_rows) break;  // c grows with q: every later chunk of this thread lies past them too
      const int kc = (c % CPR) * 8;
      const int64_t t = t0 + tok;
      const int64_t r = r0 + kc;
      __nv_bfloat16* dst = xdst + tok * XS + kc;
      if (vec_ok) {
        const bool live = t < T && r < r_end;  // R % 8 == 0: a chunk is whole or past the end
        cp_async16(dst, live ? (const void*)(x + t * R + r) : (const void*)x, live ? 16 : 0);
      } else {
        union { uint4 raw; __nv_bfloat16 e[8]; } v;
#pragma unroll
        for (int e = 0; e < 8; ++e) v.e[e] = (t < T && r + e < r_end) ? x[t * R + r + e] : __float2bfloat16_rn(0.0f);
        *reinterpret_cast<uint4*>(dst) = v.raw;
      }
    }
    if constexpr (PRESPLIT) {
      __nv_bfloat16* pdst = pring + slot * P_STAGE;
#pragma unroll
      for (int q = 0; q < QPT; ++q) {
        const int it = tid + q * 256;
        if (QITEMS % 256 != 0 && it >= QITEMS) break;
        const int row = it / PCH;  // s * BK + kk
        const int ch = it - row * PCH;
        const int s = row / BK, kk = row - s * BK;
        const int64_t r = r0 + kk;
        const bool live = r < r_end;
        cp_async16(pdst + row * PS + ch * 8, live ? (const void*)(phi_parts + ((int64_t)s * R + r) * KP + ch * 8) : (const void*)phi_parts, live ? 16 : 0);
      }
      return;
    }
    float* rdst = raw + slot * R_STAGE;
#pragma unroll
    for (int q = 0; q < PPT; ++q) {
      const int it = tid + q * 256;
      if (PITEMS % 256 != 0 && it >= PITEMS) break;
      const int kk = it / P4, c4 = (it % P4) * 4;
      const int64_t r = r0 + kk;
      float* dst = rdst + kk * KP + c4;
      if constexpr (Phi::QUADS) {
        if (phi_async) {
          const bool live = r < r_end && c4 < K;  // K % 4 == 0 here: a quad is whole or past the end
          cp_async16(dst, phi.quad(live ? r : 0, live ? c4 : 0), live ? 16 : 0);
          continue;
        }
      }
      float v[4];
      if (r < r_end) {
        phi.load4(r, c4, v);
      } else {
#pragma unroll
        for (int e = 0; e < 4; ++e) v[e] = 0.0f;
      }
      *reinterpret_cast<float4*>(dst) = make_float4(v[0], v[1], v[2], v[3]);
    }
  };
  // The raw phi of ring slot `slot` into the bf16 parts.
  auto split_phi = [&](int slot) {
    const float* src = raw + slot * R_STAGE;
#pragma unroll
    for (int q = 0; q < PPT; ++q) {
      const int it = tid + q * 256;
      if (PITEMS % 256 != 0 && it >= PITEMS) break;
      const int kk = it / P4, c4 = (it % P4) * 4;
      const float4 v4 = *reinterpret_cast<const float4*>(src + kk * KP + c4);
      const float v[4] = {v4.x, v4.y, v4.z, v4.w};
      uint2 part[PARTS];
      split_quad<PARTS>(v, part);
#pragma unroll
      for (int s = 0; s < PARTS; ++s) *reinterpret_cast<uint2*>(ps + (s * BK + kk) * PS + c4) = part[s];
    }
  };

  // A warp whose MT tiles of tokens all lie past T (small T: one 16-token tile of the block's TM) has nothing to
  // compute: its accumulators are never stored. It still loads and splits its share of every step.
  const bool warp_live = t0 + wm * MT * 16 < T;
  auto compute = [&](int slot) {
    if (!warp_live) return;
    const __nv_bfloat16* xt = xs + slot * X_STAGE;
    const __nv_bfloat16* pt = PRESPLIT ? pring + slot * P_STAGE : ps;
    uint32_t a[KK][MT][4];
#pragma unroll
    for (int k = 0; k < KK; ++k)
#pragma unroll
      for (int m = 0; m < MT; ++m) {
        // matrices: rows 0-7 / 8-15 of the m tile (lanes 0-7 / 8-15), k 0-7, then the same at k 8-15 (lanes 16-31)
        const int row = wm * MT * 16 + m * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
        ldmatrix_x4(a[k][m], xt + row * XS + k * 16 + (lane >> 4) * 8);
      }
    if (wn == 0) {
      // Sums of squares: A . A^T for the tile's tokens 0-7 (B = a0, a2) and 8-15 (B = a1, a3); the diagonal
      // entry of token g sits in the lane with tq == g / 2 (c0 or c1 for tokens 0-7, c2 or c3 for 8-15).
#pragma unroll
      for (int m = 0; m < MT; ++m) {
        float lo[4] = {0.0f, 0.0f, 0.0f, 0.0f}, hi[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int k = 0; k < KK; ++k) {
          mma_bf16_16x8x16(lo, a[k][m], a[k][m][0], a[k][m][2]);
          mma_bf16_16x8x16(hi, a[k][m], a[k][m][1], a[k][m][3]);
        }
        ss[m][0] += (g & 1) ? lo[1] : lo[0];
        ss[m][1] += (g & 1) ? hi[3] : hi[2];
      }
    }
    // JG n8 tiles at a time: per tile and m tile, the step's PARTS x BK / 16 MMAs into one fresh fragment, smallest
    // part first, then one FADD into the accumulators. Each fragment is a chain of dependent MMAs; a group gives the
    // tensor pipe JG x MT independent chains (the stall that dominated with one tile at a time on an H100: waiting on
    // the previous MMA of the chain) while every fragment sees the same MMAs in the same order, so the sums are
    // bit-identical. (A fresh fragment per part instead, three chains per tile, measured slower on an H100: 230
    // instead of 216 us at n = 4, 618 instead of 568 at n = 8.)
#pragma unroll
    for (int j0 = 0; j0 < NT; j0 += JG) {
      float d[JG][MT][4];
#pragma unroll
      for (int jj = 0; jj < JG; ++jj)
#pragma unroll
        for (int m = 0; m < MT; ++m)
#pragma unroll
          for (int e = 0; e < 4; ++e) d[jj][m][e] = 0.0f;
#pragma unroll
      for (int s = PARTS - 1; s >= 0; --s) {  // small parts first
#pragma unroll
        for (int k2 = 0; k2 < KK / 2; ++k2) {
          uint32_t b[JG][4];  // per tile: k 0-7, 8-15 of k16 step 2 k2, then of step 2 k2 + 1: lane l gives row k2 * 32 + l
#pragma unroll
          for (int jj = 0; jj < JG; ++jj)
            if (j0 + jj < NT) ldmatrix_x4_trans(b[jj], pt + (s * BK + k2 * 32 + lane) * PS + (wn * NT + j0 + jj) * 8);
#pragma unroll
          for (int h = 0; h < 2; ++h)
#pragma unroll
            for (int m = 0; m < MT; ++m)
#pragma unroll
              for (int jj = 0; jj < JG; ++jj)
                if (j0 + jj < NT) mma_bf16_16x8x16(d[jj][m], a[2 * k2 + h][m], b[jj][2 * h], b[jj][2 * h + 1]);
        }
      }
#pragma unroll
      for (int jj = 0; jj < JG; ++jj)
        if (j0 + jj < NT)
#pragma unroll
          for (int m = 0; m < MT; ++m)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[m][j0 + jj][e] += d[jj][m][e];
    }
  };

  // Prologue: ring slots 0 .. STAGES-2. One commit per slot (empty past the end) keeps the group count uniform.
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < steps) load_stage(s, s);
    cp_async_commit();
  }
  for (int step = 0; step < steps; ++step) {
    cp_async_wait<STAGES - 2>();  // this thread's copies of `step` have landed
    __syncthreads();              // everyone's copies of `step` are visible; everyone is done with step - 1 (its slot, the parts)
    if constexpr (!PRESPLIT) split_phi(step % STAGES);  // PRESPLIT: the ring slot holds the parts already
    const int next = step + STAGES - 1;
    if (next < steps) load_stage(next % STAGES, next);  // into step - 1's slot, in flight during the MMAs below
    cp_async_commit();
    if constexpr (!PRESPLIT) __syncthreads();  // the parts are visible
    compute(step % STAGES);
  }
  cp_async_wait<0>();

  const int64_t sp = blockIdx.y;
  // Accumulator fragment: acc[.][.][0..1] are row g, columns 2 tq, 2 tq + 1; [2..3] row g + 8.
#pragma unroll
  for (int m = 0; m < MT; ++m) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t t = t0 + wm * MT * 16 + m * 16 + g + h * 8;
      if (t >= T) continue;
      float* out = proj_part + (sp * T + t) * K;
#pragma unroll
      for (int j = 0; j < NT; ++j) {
        const int col = (wn * NT + j) * 8 + 2 * tq;
        if constexpr (K % 2 == 0) {
          if (col < K) *reinterpret_cast<float2*>(out + col) = make_float2(acc[m][j][2 * h], acc[m][j][2 * h + 1]);
        } else {
          if (col < K) out[col] = acc[m][j][2 * h];
          if (col + 1 < K) out[col + 1] = acc[m][j][2 * h + 1];
        }
      }
      if (wn == 0 && tq == (g >> 1)) ss_part[sp * T + t] = ss[m][h];
    }
  }
}

}  // namespace mhc
