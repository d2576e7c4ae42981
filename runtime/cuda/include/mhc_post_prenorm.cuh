// mhc_post_prenorm.cuh: design.md 4.2 kernel plan item 4 for a bf16 residual: the post of
// sublayer l (kernel 3) fused with the prenorm GEMM of sublayer l + 1 (kernel 1), one pass.
//
//   y[t, j, c]  = bf16( sum_i H_res[t, j, i] x[t, i, c] + H_post[t, j] f[t, c] )   (as post_kernel)
//   proj[t, k]  = sum_r y[t, r] * phi[r, k]      (r = j * C + c, phi of sublayer l + 1)
//   ss[t]       = sum_r y[t, r]^2
//
// In a stack of sublayers of one connection y is the next sublayer's x, so the split-K partials
// of its prenorm GEMM can be formed from the y values just computed (rounded to bf16 first, so
// they are exactly what the unfused prenorm GEMM would read), saving one read of the residual.
//
// y[t, j, c] needs x[t, i, c] of all n streams, so one reduction step is BC channels of ALL n
// streams: the step's A tile holds, for each token, the N * BC values y[t, j, c0 + cl] at
// column kk = j * BC + cl, and the B tile the matching phi rows j * C + c0 + cl. A split is a
// contiguous range of channels (a multiple of BC) across all streams. The K-reduction order
// differs from prenorm_mma_kernel's, so the partials differ from the unfused ones in fp32
// rounding only; their layout (proj_part[s, t, K], ss_part[s, t]) is the one the coefficient
// kernel reads.
//
// Per step, as prenorm_mma_kernel (mhc_mma.cuh, whose helpers this reuses): the raw x tile
// (laid out as the A tile: [TM][N * BC + 8]), the f tile and the raw phi tile arrive by
// cp.async through a STAGES-deep ring; the block splits phi into PARTS bf16 terms and
// computes y in place over the ring slot's x tile (each item reads its N inputs before it
// writes its N outputs, the items are disjoint), storing y to global memory as it goes; then
// the MMAs, MK rows at a time (fresh fragment per chunk, FADD into fp32 accumulators; sums of squares as A . A^T).
// A step is wide in channels (BC of them: 64 or 32 bytes of each row of x, f and y) so that the residual moves
// in longer runs and the per-step costs spread over more of it; the MMA chunk stays short so that the A
// fragments fit in registers. Off by default (compiler/codegen/cuda/post-prenorm.ts POST_PRENORM_FUSED): on an
// H200 the kernel was slower than post_kernel + prenorm_mma_kernel, its phases (the post's arithmetic, the phi
// split, the MMAs) running one after another in each step.
// y may alias x: a block reads and writes only its own tokens x channels.
#pragma once

#include "mhc_mix.cuh"
#include "mhc_mma.cuh"

namespace mhc {

/// cp_async16 (mhc_mma.cuh) with an L2 prefetch of the PREFETCH-byte block around the source (0: none): a step
/// reads BC * 2 bytes of each row, and the prefetch makes the DRAM fetch the rest of the line for the next steps.
template <int PREFETCH>
__device__ __forceinline__ void cp_async16_prefetch(void* dst, const void* src, int bytes) {
  static_assert(PREFETCH == 0 || PREFETCH == 64 || PREFETCH == 128 || PREFETCH == 256, "L2 prefetch of 0, 64, 128 or 256 bytes");
  if constexpr (PREFETCH == 256) {
    asm volatile("cp.async.cg.shared.global.L2::256B [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(bytes) : "memory");
  } else if constexpr (PREFETCH == 128) {
    asm volatile("cp.async.cg.shared.global.L2::128B [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(bytes) : "memory");
  } else if constexpr (PREFETCH == 64) {
    asm volatile("cp.async.cg.shared.global.L2::64B [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(bytes) : "memory");
  } else {
    cp_async16(dst, src, bytes);
  }
}

/// Dynamic shared memory of post_prenorm_mma_kernel: STAGES x (x/y tile, bf16, + f tile, bf16, + raw phi tile,
/// fp32) + one set of phi parts (bf16) + the block's coefficients (fp32, rows padded by one float).
template <int N, int TM, int KP, int BC, int STAGES, int PARTS> __host__ __device__ constexpr int post_prenorm_smem_bytes() {
  return STAGES * (TM * (N * BC + 8) * 2 + TM * BC * 2 + N * BC * KP * 4) + PARTS * N * BC * mma_phi_stride<KP>() * 2 +
         TM * (N * N + 1 + N + 1) * 4;
}

template <int N, int K, int WN, int NT, int WM, int MT, int BC, int MK, int STAGES, int PARTS, int PREFETCH, int MIN_BLOCKS, class Phi>
__global__ void __launch_bounds__(256, MIN_BLOCKS)
    post_prenorm_mma_kernel(const __nv_bfloat16* x, const __nv_bfloat16* __restrict__ f, const float* __restrict__ h_post, const float* __restrict__ h_res,
                            __nv_bfloat16* y, int64_t T, int64_t C, int64_t chunk, bool vec_ok, Phi phi, float* __restrict__ proj_part,
                            float* __restrict__ ss_part) {
  constexpr int BK = N * BC;  // reduction rows per step
  static_assert(WN * WM == 8, "256 threads");
  static_assert(MK % 32 == 0, "MK is a multiple of 32 (B fragments of two k16 steps per ldmatrix.x4)");
  static_assert(BK % MK == 0, "whole MMA chunks per step");
  static_assert(BC % 8 == 0, "a step's channels are whole 16-byte chunks");
  static_assert(STAGES >= 2, "at least double buffering");
  static_assert(PARTS >= 1 && PARTS <= 3, "1 to 3 bf16 parts of phi");
  constexpr int TM = WM * MT * 16;
  constexpr int KP = WN * NT * 8;
  static_assert(KP >= K, "the column tile covers K");
  constexpr int XS = BK + 8;  // x/y row stride (elements): rows 16 bytes apart modulo 128
  constexpr int PS = mma_phi_stride<KP>();
  constexpr int X_STAGE = TM * XS;  // bf16 elements
  constexpr int F_STAGE = TM * BC;  // bf16 elements
  constexpr int R_STAGE = BK * KP;  // fp32 elements
  constexpr int CPS = BC / 8;       // 16-byte chunks per token, stream and step
  constexpr int XCH = TM * N * CPS;
  constexpr int XPT = (XCH + 255) / 256;
  constexpr int FCH = TM * CPS;
  constexpr int FPT = (FCH + 255) / 256;
  constexpr int P4 = KP / 4;
  constexpr int PITEMS = BK * P4;
  constexpr int PPT = (PITEMS + 255) / 256;
  constexpr int KK = MK / 16;  // k16 steps per MMA chunk
  // The post's vector: 8 channels (16 bytes), 4 above n = 8 (at most 64 fp32 inputs per item).
  constexpr int VEC = N <= 8 ? 8 : 4;
  static_assert(BC % VEC == 0, "whole vectors per step");
  constexpr int VPS = BC / VEC;     // vectors per token and step
  constexpr int ITEMS = TM * VPS;
  constexpr int RS = N * N + 1;     // coefficient row strides (padded: the tokens of a warp fall in distinct banks)
  constexpr int PSS = N + 1;

  extern __shared__ __align__(16) unsigned char mma_smem[];
  __nv_bfloat16* const xs = reinterpret_cast<__nv_bfloat16*>(mma_smem);                    // [STAGES][TM][XS]
  __nv_bfloat16* const fs = xs + STAGES * X_STAGE;                                            // [STAGES][TM][BC]
  float* const raw = reinterpret_cast<float*>(fs + STAGES * F_STAGE);                        // [STAGES][BK][KP]
  __nv_bfloat16* const ps = reinterpret_cast<__nv_bfloat16*>(raw + STAGES * R_STAGE);      // [PARTS][BK][PS]
  float* const s_res = reinterpret_cast<float*>(ps + PARTS * BK * PS);                       // [TM][RS]
  float* const s_post = s_res + TM * RS;                                                      // [TM][PSS]
  static_assert((X_STAGE * 2) % 16 == 0 && (F_STAGE * 2) % 16 == 0, "16-byte aligned regions");
  static_assert((PARTS * BK * PS * 2) % 4 == 0, "4-byte aligned coefficients");

  const int tid = threadIdx.x;
  const int warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, tq = lane & 3;
  const int wn = warp % WN, wm = warp / WN;
  const int64_t t0 = (int64_t)blockIdx.x * TM;
  const int64_t c_begin = (int64_t)blockIdx.y * chunk;
  const int64_t c_end = c_begin + chunk < C ? c_begin + chunk : C;
  const int steps = (int)((c_end - c_begin + BC - 1) / BC);
  bool phi_async = false;
  if constexpr (Phi::QUADS) phi_async = phi.vec4;

  // The block's coefficients (zeros past T: those tokens' y is zero and never stored).
  for (int i = tid; i < TM * N * N; i += 256) {
    const int tok = i / (N * N), o = i - tok * (N * N);
    s_res[tok * RS + o] = t0 + tok < T ? h_res[(t0 + tok) * N * N + o] : 0.0f;
  }
  for (int i = tid; i < TM * N; i += 256) {
    const int tok = i / N, o = i - tok * N;
    s_post[tok * PSS + o] = t0 + tok < T ? h_post[(t0 + tok) * N + o] : 0.0f;
  }

  float acc[MT][NT][4];
#pragma unroll
  for (int m = 0; m < MT; ++m)
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[m][j][e] = 0.0f;
  float ss[MT][2];
#pragma unroll
  for (int m = 0; m < MT; ++m) ss[m][0] = ss[m][1] = 0.0f;

  // x (all N streams), f and raw phi of `step` into ring slot `slot`; zeros past T and past the split's channels.
  auto load_stage = [&](int slot, int step) {
    const int64_t c0 = c_begin + (int64_t)step * BC;
    __nv_bfloat16* xdst = xs + slot * X_STAGE;
#pragma unroll
    for (int q = 0; q < XPT; ++q) {
      const int ch = tid + q * 256;
      if (XCH % 256 != 0 && ch >= XCH) break;
      const int tok = ch / (N * CPS);
      const int rem = ch - tok * (N * CPS);
      const int i = rem / CPS;
      const int cl = (rem - i * CPS) * 8;
      const int64_t t = t0 + tok, c = c0 + cl;
      __nv_bfloat16* dst = xdst + tok * XS + i * BC + cl;
      const __nv_bfloat16* src = x + (t * N + i) * C + c;
      if (vec_ok) {
        const bool live = t < T && c < c_end;  // C % 8 == 0: a chunk is whole or past the end
        cp_async16_prefetch<PREFETCH>(dst, live ? (const void*)src : (const void*)x, live ? 16 : 0);
      } else {
        union { uint4 raw; __nv_bfloat16 e[8]; } v;
#pragma unroll
        for (int e = 0; e < 8; ++e) v.e[e] = (t < T && c + e < c_end) ? src[e] : __float2bfloat16_rn(0.0f);
        *reinterpret_cast<uint4*>(dst) = v.raw;
      }
    }
    __nv_bfloat16* fdst = fs + slot * F_STAGE;
#pragma unroll
    for (int q = 0; q < FPT; ++q) {
      const int ch = tid + q * 256;
      if (FCH % 256 != 0 && ch >= FCH) break;
      const int tok = ch / CPS;
      const int cl = (ch - tok * CPS) * 8;
      const int64_t t = t0 + tok, c = c0 + cl;
      __nv_bfloat16* dst = fdst + tok * BC + cl;
      const __nv_bfloat16* src = f + t * C + c;
      if (vec_ok) {
        const bool live = t < T && c < c_end;
        cp_async16_prefetch<PREFETCH>(dst, live ? (const void*)src : (const void*)f, live ? 16 : 0);
      } else {
        union { uint4 raw; __nv_bfloat16 e[8]; } v;
#pragma unroll
        for (int e = 0; e < 8; ++e) v.e[e] = (t < T && c + e < c_end) ? src[e] : __float2bfloat16_rn(0.0f);
        *reinterpret_cast<uint4*>(dst) = v.raw;
      }
    }
    float* rdst = raw + slot * R_STAGE;
#pragma unroll
    for (int q = 0; q < PPT; ++q) {
      const int it = tid + q * 256;
      if (PITEMS % 256 != 0 && it >= PITEMS) break;
      const int kk = it / P4, c4 = (it % P4) * 4;
      const int i = kk / BC, cl = kk - i * BC;
      const int64_t c = c0 + cl;
      const int64_t r = (int64_t)i * C + c;  // phi row of stream i, channel c
      float* dst = rdst + kk * KP + c4;
      if constexpr (Phi::QUADS) {
        if (phi_async) {
          const bool live = c < c_end && c4 < K;
          cp_async16(dst, phi.quad(live ? r : 0, live ? c4 : 0), live ? 16 : 0);
          continue;
        }
      }
      float v[4];
      if (c < c_end) {
        phi.load4(r, c4, v);
      } else {
#pragma unroll
        for (int e = 0; e < 4; ++e) v[e] = 0.0f;
      }
      *reinterpret_cast<float4*>(dst) = make_float4(v[0], v[1], v[2], v[3]);
    }
  };

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

  // The post for the step's tokens and channels: y over x in the ring slot (bf16, what the next sublayer
  // reads), and to global memory. The arithmetic is post_kernel's, in its order: the same bits.
  auto post = [&](int slot, int step) {
    const int64_t c0 = c_begin + (int64_t)step * BC;
    __nv_bfloat16* xt = xs + slot * X_STAGE;
    const __nv_bfloat16* ft = fs + slot * F_STAGE;
#pragma unroll 1
    for (int item = tid; item < ITEMS; item += 256) {
      const int tok = item / VPS;
      const int cl = (item - tok * VPS) * VEC;
      __nv_bfloat16* row = xt + tok * XS + cl;
      float xv[N][VEC];
#pragma unroll
      for (int i = 0; i < N; ++i) load_vec<__nv_bfloat16, VEC>(row + i * BC, xv[i]);
      float fv[VEC];
      load_vec<__nv_bfloat16, VEC>(ft + tok * BC + cl, fv);
      const float* hr = s_res + tok * RS;
      const int64_t t = t0 + tok, c = c0 + cl;
      const bool live = t < T;
#pragma unroll
      for (int j = 0; j < N; ++j) {
        float a[VEC];
        post_stream<N, VEC>(hr + j * N, s_post[tok * PSS + j], xv, fv, a);
        store_vec<__nv_bfloat16, VEC>(row + j * BC, a);
        if (live) {
          __nv_bfloat16* dst = y + (t * N + j) * C + c;
          if (vec_ok) {
            if (c < c_end) store_vec<__nv_bfloat16, VEC>(dst, a);
          } else {
#pragma unroll
            for (int e = 0; e < VEC; ++e)
              if (c + e < c_end) dst[e] = __float2bfloat16_rn(a[e]);
          }
        }
      }
    }
  };

  // The MMAs of one ring slot, MK rows (a multiple of 32) at a time: each chunk's A fragments are loaded, its
  // PARTS x MK / 16 MMAs per n8 tile go into a fresh fragment, then one FADD into the accumulators (as
  // prenorm_mma_kernel does per BK-row step, so the accumulation error is the same).
  auto compute = [&](int slot) {
    const __nv_bfloat16* xt = xs + slot * X_STAGE;
    const __nv_bfloat16* pt = ps;
#pragma unroll 1
    for (int kc = 0; kc < BK / MK; ++kc) {
      uint32_t a[KK][MT][4];
#pragma unroll
      for (int k = 0; k < KK; ++k)
#pragma unroll
        for (int m = 0; m < MT; ++m) {
          const int row = wm * MT * 16 + m * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
          ldmatrix_x4(a[k][m], xt + row * XS + kc * MK + k * 16 + (lane >> 4) * 8);
        }
      if (wn == 0) {
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
#pragma unroll
      for (int j = 0; j < NT; ++j) {
        float d[MT][4];
#pragma unroll
        for (int m = 0; m < MT; ++m)
#pragma unroll
          for (int e = 0; e < 4; ++e) d[m][e] = 0.0f;
        const int col = (wn * NT + j) * 8;
#pragma unroll
        for (int s = PARTS - 1; s >= 0; --s) {
#pragma unroll
          for (int k2 = 0; k2 < KK / 2; ++k2) {
            uint32_t b[4];
            ldmatrix_x4_trans(b, pt + (s * BK + kc * MK + k2 * 32 + lane) * PS + col);
#pragma unroll
            for (int m = 0; m < MT; ++m) {
              mma_bf16_16x8x16(d[m], a[2 * k2][m], b[0], b[1]);
              mma_bf16_16x8x16(d[m], a[2 * k2 + 1][m], b[2], b[3]);
            }
          }
        }
#pragma unroll
        for (int m = 0; m < MT; ++m)
#pragma unroll
          for (int e = 0; e < 4; ++e) acc[m][j][e] += d[m][e];
      }
    }
  };

#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < steps) load_stage(s, s);
    cp_async_commit();
  }
  for (int step = 0; step < steps; ++step) {
    cp_async_wait<STAGES - 2>();
    __syncthreads();  // step's tiles visible; step - 1's MMAs done (its slot, the parts); the coefficients visible
    split_phi(step % STAGES);
    post(step % STAGES, step);
    const int next = step + STAGES - 1;
    if (next < steps) load_stage(next % STAGES, next);
    cp_async_commit();
    __syncthreads();  // the parts and the y tile are visible
    compute(step % STAGES);
  }
  cp_async_wait<0>();

  const int64_t sp = blockIdx.y;
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
