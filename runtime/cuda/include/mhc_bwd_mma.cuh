// mhc_bwd_mma.cuh: the prenorm backward of design.md 4.2 item 5 on tensor cores, for a bf16 residual
// with a flat projection (mhc_bwd.cuh's SIMT prenorm_backward_kernel covers everything else).
//
// With G = dproj [T, K] and s2 [T] from the coefficient backward, per token t and row r = i*C + c of R = N*C:
//   dx[t, r]   = dx_in[t, r] + H_pre[t, i] du[t, c] + s2[t] x[t, r] + sum_j G[t, j] phi[r, j]
//   dphi[r, j] = sum_t x[t, r] G[t, j]
// where dx_in is either given (a gradient of x from elsewhere) or the post backward's dx,
// sum_j H_res[t, j, i] dy[t, j, c], formed here from dy so that it never goes through memory.
// Both GEMMs in ONE pass over x: a block (TR / 16 warps) owns the N streams of CG = TR / N channels
// (rounded down to 8; TR = 128 or 256 rows of R, fewer where 8 N does not divide TR) and a chunk of
// tokens; it streams BT-token
// tiles of x, dy or dx_in and du (bf16), of G (split into bf16 parts once by split_g_kernel), s2,
// H_pre and H_res through a STAGES-deep ring of shared memory (cp.async, 16 bytes at a time), and for
// each tile
//   * dphi:  x^T (rows x BT) . G (BT x K), warp w owning rows 16w..16w+15 of the tile and all columns;
//   * dx:    G (BT x K) . phi^T (K x rows), warp w owning the same 16 rows of R (as columns of dx) for
//            all the tile's tokens, then the element-wise terms and the mix of dy over the streams (where
//            N divides 16 on tensor cores, a block-diagonal 16 x 16 H_res^T per group of 16 / N tokens
//            times dy, rounded to bf16 in place of dy as the unfused post backward stored its dx; else per
//            element); the bf16 results replace x in its tile and the block stores whole runs of CG
//            channels (storing from the MMA fragments, 16 bytes of each of 8 rows an instruction, took
//            20% longer on an H200).
//
// Accuracy:
//   * dphi is a parameter gradient (fp32): x is exact in bf16 and G is split into three bf16 parts
//     (|G - g0 - g1 - g2| <= 2^-27 |G|), so every product is exact; as in prenorm_mma_kernel each tile's
//     MMAs go into a fresh fragment that is then added to fp32 accumulators with a rounding FADD (the
//     MMA's own fp32 accumulation truncates).
//   * dx is stored in bf16 (8 significant bits): G and phi are each split into two bf16 parts and the
//     three products g0 p0 + g0 p1 + g1 p0 kept, ~2^-16 relative to sum |G phi|, far below bf16's 2^-9.
// Determinism: no atomics; each block writes its chunk's dphi partials to part[s, r, :], summed over
// chunks in order by dphi_reduce_kernel (mhc_bwd.cuh), as the SIMT path does.
//
// Requirements (checked by prenorm_backward_mma_fits on the host; otherwise the SIMT kernel runs):
// C % 8 == 0 (a 16-byte run of 8 rows never straddles two streams), x, du, dx, dx_in or dy, H_pre and
// H_res 16-byte aligned (G and s2 live in the 256-byte aligned workspace).
#pragma once

#include "mhc_mma.cuh"

namespace mhc {

/// Tile columns between the starts of two streams in prenorm_backward_mma_kernel's x and dy tiles (see
/// BwdMmaLayout::SS): cg itself unless the dy mix runs on tensor cores (n divides 16) with n > 1.
constexpr int bwd_mma_stream_stride(int n, int cg) {
  if (16 % n != 0 || n == 1) return cg;
  int ss = cg;
  while ((ss / 8) % (16 / n) != 8 / n) ss += 8;
  return ss;
}

/// Shared-memory layout of prenorm_backward_mma_kernel (bytes), shared by the kernel and its launcher.
/// A block's TR rows of R are the N streams of CG channels (stream i, channel c0 + cc at tile column
/// i * CG + cc, held in shared memory at column i * SS + cc), so the mix of the post backward's dy over
/// streams stays inside the block's tile.
template <int N, int K, int TR, int BT, int STAGES>
struct BwdMmaLayout {
  static constexpr int CG = TR / N / 8 * 8;        // channels per block: whole 16-byte runs of each stream
  static constexpr int ROWS = N * CG;              // live columns of a tile (the rest, up to TR, stay zero)
  static constexpr int KP8 = (K + 7) / 8 * 8;      // dphi: n8 tiles of columns
  static constexpr int KP16 = (K + 15) / 16 * 16;  // dx: k16 steps over the columns
  // The dy mix on tensor cores (N divides 16; then ROWS == TR): per stage the tile's token groups'
  // block-diagonal H_res^T in two bf16 parts [groups][2][16][AS] (mix_blocks_kernel); the mix replaces dy in its tile.
  static constexpr bool TC_MIX = 16 % N == 0;
  // Tile columns: stream i's CG channels start at column i * SS. The mix reads and writes 8 rows of
  // (token, stream) at once; with SS = CG (128 bytes at N = 4) the streams of a token share banks (4-way
  // conflicts), so where it runs SS is CG rounded up to a multiple of 8 whose count of 16-byte units has
  // the N streams of a token on 8 / N-apart units (odd at N = 8, 2 mod 4 at N = 4, 4 mod 8 at N = 2) and
  // the tokens, an odd number of units apart (XS), on the units between.
  static constexpr int SS = bwd_mma_stream_stride(N, CG);
  static constexpr int XS = (TC_MIX ? N * SS : TR) + 8;  // tile row stride (bf16): an odd number of 16-byte units
  /// Shared-memory column of tile column col (stream col / CG, channel col % CG).
  static __device__ __forceinline__ constexpr int at(int col) { return col + (col / CG) * (SS - CG); }
  static constexpr int DS = CG + 8;                // du tile row stride (bf16)
  static constexpr int GS = KP16 + 8;              // parts row stride (bf16), likewise
  static constexpr int TILE = BT * XS * 2;         // one bf16 tile [BT][XS]
  static constexpr int DU = BT * DS * 2;           // du [BT][DS]: one row per token, shared by the streams
  static constexpr int G_PARTS = 3 * BT * GS * 2;  // the tile's G in three bf16 parts [3][BT][GS]
  static constexpr int S2 = BT * 4;
  static constexpr int HP = (BT * N * 4 + 15) / 16 * 16;
  static constexpr int HR = (BT * N * N * 4 + 15) / 16 * 16;  // H_res [BT][N][N] (read when dy is mixed in)
  static constexpr int STAGE = 2 * TILE + DU + G_PARTS + S2 + HP + HR;  // x, dx_in or dy, du, G parts, s2, H_pre, H_res
  static constexpr int PHI_PARTS = 2 * TR * GS * 2;                     // phi hi/lo of the block's rows [2][TR][GS]
  static constexpr int MIX_GROUPS = TC_MIX ? BT * N / 16 : 0;  // groups of 16 / N tokens in a tile
  static constexpr int AS = 24;                                 // A row stride (bf16): 8 rows of an ldmatrix hit all banks
  static constexpr int MIX_A = MIX_GROUPS * 2 * 16 * AS * 2;
  static constexpr int BYTES = STAGES * (STAGE + MIX_A) + PHI_PARTS;
  static_assert(CG >= 8, "at least one 16-byte run of each stream (N <= TR / 8)");
  static_assert((XS / 8) % 2 == 1, "token rows an odd number of 16-byte units apart: ldmatrix rows of 8 tokens hit 8 bank groups");
  static_assert(!TC_MIX || ROWS == TR, "the padded stream layout covers every tile column");
};

/// G [T, K] (fp32) into three bf16 parts [3][T][KP16], columns K .. KP16 - 1 zero: the operand the
/// tensor-core prenorm backward streams (split once here rather than by every block of rows).
template <int K, int KP16>
__global__ void __launch_bounds__(256) split_g_kernel(const float* __restrict__ G, int64_t T, __nv_bfloat16* __restrict__ parts) {
  const int64_t items = T * KP16;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < items; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t t = e / KP16;
    const int j = (int)(e - t * KP16);
    __nv_bfloat16 p[3];
    split_bf16<3>(j < K ? G[t * K + j] : 0.0f, p);
#pragma unroll
    for (int q = 0; q < 3; ++q) parts[q * items + e] = p[q];
  }
}

/// The post backward's mix as 16 x 16 blocks for the tensor cores (N divides 16): group q holds tokens
/// q * G .. q * G + G - 1 (G = 16 / N) and its block is block-diagonal, row g * N + i, column g * N + j
/// holding H_res[t, j, i] for token t = q * G + g (zero off the diagonal blocks and past T), in two bf16
/// parts (|h - hi - lo| <= 2^-18 |h|): blocks [groups][2][16][16], so mix[(g, i), c] = A (16 x 16) . dy[(g, j), c].
template <int N>
__global__ void __launch_bounds__(256) mix_blocks_kernel(const float* __restrict__ h_res, int64_t T, __nv_bfloat16* __restrict__ blocks) {
  static_assert(16 % N == 0, "N divides 16");
  constexpr int G = 16 / N;
  const int64_t groups = (T + G - 1) / G;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < groups * 256; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t q = e / 256;
    const int r = (int)(e - q * 256) / 16, k = (int)(e - q * 256) % 16;
    const int64_t t = q * G + r / N;
    const float v = (r / N == k / N && t < T) ? h_res[(t * N + k % N) * N + r % N] : 0.0f;
    __nv_bfloat16 p[2];
    split_bf16<2>(v, p);
    blocks[(q * 2 + 0) * 256 + r * 16 + k] = p[0];
    blocks[(q * 2 + 1) * 256 + r * 16 + k] = p[1];
  }
}

/// Whether the tensor-core prenorm backward takes these operands (else the SIMT kernel runs).
template <typename TR>
inline bool prenorm_backward_mma_fits(int64_t C, const TR* x, const TR* du, const TR* in, const TR* dx, const float* h_pre, const float* h_res) {
  return C % 8 == 0 && aligned(x, 16) && aligned(du, 16) && aligned(dx, 16) && (in == nullptr || aligned(in, 16)) && aligned(h_pre, 16) && (h_res == nullptr || aligned(h_res, 16));
}

/// MIX_DY = false: `in` is dx_in (nullptr: zero), added to dx as it is.
/// MIX_DY = true:  `in` is the post backward's dy [T, N, C] and dx gets sum_j H_res[t, j, i] dy[t, j, c]
///                 (h_res [T, N, N] as the forward wrote it): the post backward's dx, never stored. Where N
///                 divides 16 the mix runs on tensor cores from mix_blocks (mix_blocks_kernel), else per element.
/// Per-stream projection (a connection's `projection per_stream`): called with N = 1 over the T*n rows
/// of C values (G, s2, H_pre per row) and DU_ROWS = n, since du has one row per token: row t reads
/// du[t / DU_ROWS] (as the SIMT kernel does).
template <int N, int K, int TR, int BT, int STAGES, int MIN_BLOCKS, bool MIX_DY, class Phi, int DU_ROWS = 1>
__global__ void __launch_bounds__(2 * TR, MIN_BLOCKS) prenorm_backward_mma_kernel(const __nv_bfloat16* __restrict__ x, int64_t T, int64_t C, int64_t chunk_tokens, Phi phi,
                                                                             const __nv_bfloat16* __restrict__ g_parts, const float* __restrict__ s2, const float* __restrict__ h_pre,
                                                                             const __nv_bfloat16* __restrict__ du, const __nv_bfloat16* in, const float* __restrict__ h_res,
                                                                             const __nv_bfloat16* __restrict__ mix_blocks, __nv_bfloat16* dx, float* __restrict__ part) {
  using L = BwdMmaLayout<N, K, TR, BT, STAGES>;
  static_assert(TR == 128 || TR == 256, "TR / 16 warps of 16 rows of R (2 TR threads)");
  constexpr int THREADS = 2 * TR, WARPS = TR / 16;
  static_assert(BT % 16 == 0, "whole k16 steps of tokens");
  static_assert(STAGES >= 2, "at least double buffering");
  static_assert(DU_ROWS == 1 || (N == 1 && !MIX_DY), "du rows shared by several rows of x: the per-stream form, N = 1, no mix");
  constexpr int XS = L::XS, DS = L::DS, GS = L::GS, KP16 = L::KP16, CG = L::CG;
  constexpr int NP = KP16 / 16;      // dphi: pairs of n8 tiles (the B fragments of one ldmatrix.x4)
  constexpr int NT = L::KP8 / 8;     // dphi n8 tiles that hold columns < K
  constexpr int KS = KP16 / 16;      // dx k16 steps
  constexpr int CPR = TR / 8;        // 16-byte chunks per tile row
  constexpr int CHUNKS = BT * CPR;   // per tile
  constexpr int CPT = (CHUNKS + THREADS - 1) / THREADS;

  extern __shared__ __align__(16) unsigned char bwd_smem[];
  constexpr int SLOT = L::STAGE + L::MIX_A;  // bytes of one ring slot
  __nv_bfloat16* const pp = reinterpret_cast<__nv_bfloat16*>(bwd_smem + STAGES * SLOT);  // [2][TR][GS]
  auto at = [&](int slot, int offset) { return bwd_smem + slot * SLOT + offset; };
  auto tile_x = [&](int slot) { return reinterpret_cast<__nv_bfloat16*>(at(slot, 0)); };
  auto tile_in = [&](int slot) { return reinterpret_cast<__nv_bfloat16*>(at(slot, L::TILE)); };
  auto tile_du = [&](int slot) { return reinterpret_cast<__nv_bfloat16*>(at(slot, 2 * L::TILE)); };
  auto tile_g = [&](int slot) { return reinterpret_cast<__nv_bfloat16*>(at(slot, 2 * L::TILE + L::DU)); };  // [3][BT][GS]
  auto tile_s2 = [&](int slot) { return reinterpret_cast<float*>(at(slot, 2 * L::TILE + L::DU + L::G_PARTS)); };
  auto tile_hp = [&](int slot) { return reinterpret_cast<float*>(at(slot, 2 * L::TILE + L::DU + L::G_PARTS + L::S2)); };
  auto tile_hr = [&](int slot) { return reinterpret_cast<float*>(at(slot, 2 * L::TILE + L::DU + L::G_PARTS + L::S2 + L::HP)); };
  auto tile_a = [&](int slot) { return reinterpret_cast<__nv_bfloat16*>(at(slot, L::STAGE)); };  // [MIX_GROUPS][2][16][AS]
  constexpr bool TC_MIX = MIX_DY && L::TC_MIX;

  const int tid = threadIdx.x;
  const int warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, tq = lane & 3;
  const int64_t R = (int64_t)N * C;
  const int64_t c0 = (int64_t)blockIdx.x * CG;  // the block's channels c0 .. c0 + CG - 1 of every stream
  const int64_t t_begin = (int64_t)blockIdx.y * chunk_tokens;
  const int64_t t_end = t_begin + chunk_tokens < T ? t_begin + chunk_tokens : T;
  const int steps = t_end > t_begin ? (int)((t_end - t_begin + BT - 1) / BT) : 0;
  // Row of R of tile column col (stream col / CG, channel c0 + col % CG), or -1 past the streams or C.
  auto row_of = [&](int col) -> int64_t {
    const int i = col / CG, cc = col - i * CG;
    return col < L::ROWS && c0 + cc < C ? i * C + c0 + cc : -1;
  };

  // This thread's 16-byte chunks of each bf16 tile: the same rows of R at every step, the token moving
  // by BT. C % 8 == 0 and CG % 8 == 0: a chunk is whole or dead.
  int64_t chunk_off[CPT];  // from the tile's first element: token row * R + row of R of the chunk's first column, -1 where dead
#pragma unroll
  for (int q = 0; q < CPT; ++q) {
    const int ch = tid + q * THREADS;
    const int64_t r = ch < CHUNKS ? row_of((ch % CPR) * 8) : -1;
    chunk_off[q] = r >= 0 ? (ch / CPR) * R + r : -1;
  }
  // The G parts: rows of KP16 bf16 (whole 16-byte chunks); du: CG / 8 chunks a token; s2 [T], H_pre [T, N]
  // and H_res [T, N, N] hold a tile's values contiguously: 16-byte copies, the last one partial (cp.async
  // zero-fills the rest of a short copy).
  constexpr int GCR = KP16 / 8, GCH = 3 * BT * GCR;
  constexpr int DCR = CG / 8, DCH = BT * DCR;
  constexpr int SQ = BT / 4, HQ = BT * N / 4, RQ = (MIX_DY && !TC_MIX) ? BT * N * N / 4 : 0;
  constexpr int ACH = TC_MIX ? L::MIX_GROUPS * 2 * 16 * 2 : 0;  // 16-byte chunks of the tile's A blocks (two a row)
  static_assert((BT * N) % 4 == 0 && BT % 4 == 0, "whole quads per tile");

  // Tile `step` (tokens tb .. tb + BT - 1) into ring slot `slot`; rows past the chunk are zero-filled.
  // Every loop has a trip count known at compile time (a thread's items are fixed: tid + k * THREADS),
  // so it unrolls into straight-line copies.
  auto load_stage = [&](int slot, int step) {
    const int64_t tb = t_begin + (int64_t)step * BT;
    const int rows = (int)(t_end - tb < BT ? t_end - tb : BT);
    const int64_t tile0 = tb * R;
    const bool has_in = MIX_DY || in != nullptr;  // dy is always given when it is mixed
    __nv_bfloat16* xd = tile_x(slot);
    __nv_bfloat16* id = tile_in(slot);
#pragma unroll
    for (int q = 0; q < CPT; ++q) {
      const int ch = tid + q * THREADS;
      const int tl = ch / CPR, at_smem = tl * XS + L::at((ch % CPR) * 8);
      const bool live = chunk_off[q] >= 0 && tl < rows;
      const int64_t src = live ? tile0 + chunk_off[q] : 0;
      cp_async16(xd + at_smem, x + src, live ? 16 : 0);
      cp_async16(id + at_smem, has_in ? in + src : x, (live && has_in) ? 16 : 0);
    }
    auto quad = [&](float* dst, const float* from, int qd, int valid) {  // valid: floats of the tile that exist
      int bytes = (valid - 4 * qd) * 4;
      bytes = bytes < 0 ? 0 : (bytes > 16 ? 16 : bytes);
      cp_async16(dst + 4 * qd, bytes > 0 ? from + 4 * qd : from, bytes);
    };
    __nv_bfloat16* gd = tile_g(slot);
    __nv_bfloat16* ud = tile_du(slot);
    if constexpr (TC_MIX) {
      __nv_bfloat16* ad = tile_a(slot);
      const int64_t g0 = tb / (16 / N);  // the tile's first group (tb is a multiple of BT, so of 16 / N)
      const int live_groups = (rows * N + 15) / 16;
#pragma unroll
      for (int k = 0; k < (ACH + THREADS - 1) / THREADS; ++k) {
        const int e = tid + k * THREADS;
        if (ACH % THREADS != 0 && e >= ACH) break;
        const int row = e / 2, half = e - row * 2;  // row = (group * 2 + part) * 16 + r
        const bool live = row / 32 < live_groups;
        cp_async16(ad + row * L::AS + half * 8, live ? mix_blocks + (g0 * 32 + row) * 16 + half * 8 : mix_blocks, live ? 16 : 0);
      }
    }
    constexpr int ITEMS = GCH + DCH + SQ + HQ + RQ;
#pragma unroll
    for (int k = 0; k < (ITEMS + THREADS - 1) / THREADS; ++k) {
      const int e = tid + k * THREADS;
      if (ITEMS % THREADS != 0 && e >= ITEMS) break;
      if (e < GCH) {
        const int row = e / GCR, part = row / BT, tl = row - part * BT, c8 = (e - row * GCR) * 8;
        const bool live = tl < rows;
        cp_async16(gd + row * GS + c8, live ? g_parts + ((int64_t)part * T + tb + tl) * KP16 + c8 : g_parts, live ? 16 : 0);
      } else if (e < GCH + DCH) {
        const int d = e - GCH, tl = d / DCR, c8 = (d - tl * DCR) * 8;
        const bool live = tl < rows && c0 + c8 < C;
        cp_async16(ud + tl * DS + c8, live ? du + (tb + tl) / DU_ROWS * C + c0 + c8 : du, live ? 16 : 0);
      } else if (e < GCH + DCH + SQ) {
        quad(tile_s2(slot), s2 + tb, e - GCH - DCH, rows);
      } else if (e < GCH + DCH + SQ + HQ) {
        quad(tile_hp(slot), h_pre + tb * N, e - GCH - DCH - SQ, rows * N);
      } else {
        quad(tile_hr(slot), h_res + tb * N * N, e - GCH - DCH - SQ - HQ, rows * N * N);
      }
    }
  };

  // Warp w's columns of the tile: 16w .. 16w + 15 (dphi rows, dx columns); each n8 tile lies in one
  // stream (CG % 8 == 0): its stream and the channel offset of its first column.
  const int wrow = 16 * warp;
  int stream_of[2], cc_of[2];
#pragma unroll
  for (int nt = 0; nt < 2; ++nt) {
    const int col = wrow + nt * 8;
    const int i = col / CG;
    stream_of[nt] = i < N ? i : 0;  // dead columns: any stream (their phi rows are zero, nothing is stored)
    cc_of[nt] = col - i * CG;
  }
  float acc[2 * NP][4];  // dphi: rows wrow + g (+8), columns 8 nt + 2 tq (+1); tiles NT.. are padding
#pragma unroll
  for (int nt = 0; nt < 2 * NP; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) acc[nt][e] = 0.0f;

  auto compute = [&](int slot, int64_t tb) {
    __nv_bfloat16* xt = tile_x(slot);
    const __nv_bfloat16* gp = tile_g(slot);
    // ---- dphi += x^T G over the tile's tokens ----
    uint32_t a[BT / 16][4];  // x^T fragments (rows of R x tokens), from the [token][row] tile by ldmatrix.trans
#pragma unroll
    for (int kk = 0; kk < BT / 16; ++kk) ldmatrix_x4_trans(a[kk], xt + (kk * 16 + (lane >> 4) * 8 + (lane & 7)) * XS + L::at(wrow) + ((lane >> 3) & 1) * 8);
#pragma unroll
    for (int np = 0; np < NP; ++np) {
      float d[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
#pragma unroll
      for (int s = 2; s >= 0; --s) {  // small parts first
#pragma unroll
        for (int kk = 0; kk < BT / 16; ++kk) {
          // k 0-7 and 8-15 of n8 tile 2 np (lanes 0-15), then of tile 2 np + 1 (lanes 16-31)
          uint32_t b[4];
          ldmatrix_x4_trans(b, gp + (s * BT + kk * 16 + (lane & 15)) * GS + (2 * np + (lane >> 4)) * 8);
          if (2 * np < NT) mma_bf16_16x8x16(d[0], a[kk], b[0], b[1]);
          if (2 * np + 1 < NT) mma_bf16_16x8x16(d[1], a[kk], b[2], b[3]);
        }
      }
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        acc[2 * np][e] += d[0][e];
        acc[2 * np + 1][e] += d[1][e];
      }
    }
    // ---- dx = G phi^T (+ the element-wise terms) for the tile's tokens x the warp's 16 columns ----
    float o[BT / 16][2][4];
#pragma unroll
    for (int mt = 0; mt < BT / 16; ++mt)
#pragma unroll
      for (int nt = 0; nt < 2; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) o[mt][nt][e] = 0.0f;
#pragma unroll
    for (int ks = 0; ks < KS; ++ks) {
      uint32_t b[2][4];  // phi part p: n8 tiles 0 and 1 of the warp, k 0-7 and 8-15 of step ks
#pragma unroll
      for (int p = 0; p < 2; ++p) ldmatrix_x4(b[p], pp + (p * TR + wrow + (lane & 7) + (lane >> 4) * 8) * GS + ks * 16 + ((lane >> 3) & 1) * 8);
#pragma unroll
      for (int mt = 0; mt < BT / 16; ++mt) {
        uint32_t ga[2][4];  // G parts 0 and 1, tokens of m tile mt
#pragma unroll
        for (int s = 0; s < 2; ++s) ldmatrix_x4(ga[s], gp + (s * BT + mt * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * GS + ks * 16 + (lane >> 4) * 8);
#pragma unroll
        for (int nt = 0; nt < 2; ++nt) {  // g1 p0 + g0 p1 + g0 p0, small terms first
          mma_bf16_16x8x16(o[mt][nt], ga[1], b[0][2 * nt], b[0][2 * nt + 1]);
          mma_bf16_16x8x16(o[mt][nt], ga[0], b[1][2 * nt], b[1][2 * nt + 1]);
          mma_bf16_16x8x16(o[mt][nt], ga[0], b[0][2 * nt], b[0][2 * nt + 1]);
        }
      }
    }
    if constexpr (TC_MIX) {
      // ---- the post's dx, H_res^T dy, on tensor cores: per (token group, 8 channels) a 16 x 16 block of
      // H_res^T (hi and lo parts) times dy's 16 rows (the group's tokens x streams), rounded to bf16 over
      // those same 16 rows of the dy tile (the pair's warp alone reads and writes them), after which the
      // tile holds the post's dx as the unfused path stored it. 4 (group, 8-channel) pairs a
      // warp, two channel groups per ldmatrix of dy.
      constexpr int TPG = 16 / N, CGS = CG / 8;  // tokens per group, 8-channel groups per stream
      static_assert(L::MIX_GROUPS * CGS == 4 * WARPS && CGS % 2 == 0, "4 pairs a warp, in twos");
      const __nv_bfloat16* at_ = tile_a(slot);
      __nv_bfloat16* dyt = tile_in(slot);
#pragma unroll
      for (int q = 0; q < 2; ++q) {
        const int pair = warp * 4 + q * 2;
        const int grp = pair / CGS, cg = pair % CGS;
        uint32_t a[2][4];
#pragma unroll
        for (int part = 0; part < 2; ++part) ldmatrix_x4(a[part], at_ + ((grp * 2 + part) * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * L::AS + (lane >> 4) * 8);
        uint32_t b[4];  // k = token-in-group * N + stream; lanes 0-15 channel group cg, 16-31 cg + 1
        const int k = lane & 15;
        ldmatrix_x4_trans(b, dyt + (grp * TPG + k / N) * XS + (k % N) * L::SS + (cg + (lane >> 4)) * 8);
        __syncwarp();  // every lane's rows read (by other lanes' addresses) before the mix is written over them
#pragma unroll
        for (int h2 = 0; h2 < 2; ++h2) {
          float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
          mma_bf16_16x8x16(d, a[1], b[2 * h2], b[2 * h2 + 1]);  // lo part first
          mma_bf16_16x8x16(d, a[0], b[2 * h2], b[2 * h2 + 1]);
#pragma unroll
          for (int hh = 0; hh < 2; ++hh) {  // rows g and g + 8: token grp * TPG + row / N, stream row % N
            const int row = g + 8 * hh;
            const int tl = grp * TPG + row / N, col = (row % N) * L::SS + (cg + h2) * 8 + 2 * tq;
            *reinterpret_cast<__nv_bfloat162*>(dyt + tl * XS + col) = __floats2bfloat162_rn(d[2 * hh], d[2 * hh + 1]);
          }
        }
      }
      __syncthreads();  // the tile's mix is complete
    }
    // Epilogue: each dx pair replaces its x pair in the slot's x tile (only this warp reads its columns of
    // x, and this thread the pair: the dy tile stays whole for the other streams' mixes), then the block
    // stores the tile's rows, 16 bytes a lane: runs of CG channels of each stream.
    __syncwarp();  // the warp's ldmatrix reads of its x columns (dphi, other lanes' addresses) before its writes below
    const __nv_bfloat16* it = tile_in(slot);
    const __nv_bfloat16* ut = tile_du(slot);
    const float* st = tile_s2(slot);
    const float* ht = tile_hp(slot);
    const float* rt = tile_hr(slot);
#pragma unroll
    for (int mt = 0; mt < BT / 16; ++mt)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int tl = mt * 16 + g + 8 * h;
        const float s2t = st[tl];
#pragma unroll
        for (int nt = 0; nt < 2; ++nt) {
          const int col = L::at(wrow + nt * 8) + 2 * tq, cc = cc_of[nt] + 2 * tq, i = stream_of[nt];  // col: shared-memory column
          const float hp = ht[tl * N + i];
          __nv_bfloat162* xo = reinterpret_cast<__nv_bfloat162*>(xt + tl * XS + col);
          const float2 xv = __bfloat1622float2(*xo);
          const float2 uv = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(ut + tl * DS + cc));
          float2 iv;
          if constexpr (MIX_DY && !TC_MIX) {
            iv = make_float2(0.0f, 0.0f);
#pragma unroll
            for (int j = 0; j < N; ++j) {  // the post backward's dx: sum_j H_res[t, j, i] dy[t, j, c]
              const float hr = rt[(tl * N + j) * N + i];
              const float2 dv = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(it + tl * XS + j * L::SS + cc));
              iv.x = fmaf(hr, dv.x, iv.x);
              iv.y = fmaf(hr, dv.y, iv.y);
            }
          } else {
            iv = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(it + tl * XS + col));
          }
          const float v0 = o[mt][nt][2 * h] + iv.x + fmaf(s2t, xv.x, hp * uv.x);
          const float v1 = o[mt][nt][2 * h + 1] + iv.y + fmaf(s2t, xv.y, hp * uv.y);
          *xo = __floats2bfloat162_rn(v0, v1);
        }
      }
    __syncthreads();  // the tile's dx is complete
#pragma unroll
    for (int q = 0; q < CPT; ++q) {
      const int ch = tid + q * THREADS;
      const int tl = ch / CPR;
      const int64_t t = tb + tl;
      if (chunk_off[q] >= 0 && t < t_end) *reinterpret_cast<uint4*>(dx + tb * R + chunk_off[q]) = *reinterpret_cast<const uint4*>(xt + tl * XS + L::at((ch % CPR) * 8));
    }
  };

  // Prologue: ring slots 0 .. STAGES-2, one commit each (empty past the end) so the group count is uniform.
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < steps) load_stage(s, s);
    cp_async_commit();
  }

  // phi's rows of this block, split once into hi/lo parts (zero for dead columns and past K), while the
  // first tiles load.
#pragma unroll 8
  for (int e = tid; e < TR * KP16; e += THREADS) {
    const int rr = e / KP16, j = e - rr * KP16;
    const int64_t r = row_of(rr);
    const float v = (r >= 0 && j < K) ? phi(r, j) : 0.0f;
    __nv_bfloat16 p[2];
    split_bf16<2>(v, p);
    pp[rr * GS + j] = p[0];
    pp[(TR + rr) * GS + j] = p[1];
  }

  for (int step = 0; step < steps; ++step) {
    const int slot = step % STAGES;
    cp_async_wait<STAGES - 2>();  // this thread's copies of `step` have landed
    __syncthreads();              // everyone's have; everyone is done with step - 1 (its slot); the phi parts are written
    const int next = step + STAGES - 1;
    if (next < steps) load_stage(next % STAGES, next);  // in flight during the MMAs below
    cp_async_commit();
    compute(slot, t_begin + (int64_t)step * BT);
  }
  cp_async_wait<0>();

  // dphi partials of this chunk: part[(s * R + r) * K + j].
  const int64_t sp = blockIdx.y;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int64_t r = row_of(wrow + g + 8 * h);
    if (r < 0) continue;
    float* out = part + (sp * R + r) * K;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      const int j = nt * 8 + 2 * tq;
      if constexpr (K % 2 == 0) {
        if (j < K) *reinterpret_cast<float2*>(out + j) = make_float2(acc[nt][2 * h], acc[nt][2 * h + 1]);
      } else {
        if (j < K) out[j] = acc[nt][2 * h];
        if (j + 1 < K) out[j + 1] = acc[nt][2 * h + 1];
      }
    }
  }
}

}  // namespace mhc
