// mhc_vec.cuh: residual element types (fp32, bf16) and vector loads/stores.
// load_vec / store_vec move VEC consecutive elements as one access of
// VEC * sizeof(T) bytes (16 bytes at most); the caller guarantees that alignment.
#pragma once

#include "mhc_common.cuh"

namespace mhc {

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

template <int BYTES> struct RawVec;
template <> struct RawVec<2> { using type = unsigned short; };
template <> struct RawVec<4> { using type = unsigned int; };
template <> struct RawVec<8> { using type = uint2; };
template <> struct RawVec<16> { using type = uint4; };

/// out[i] = float(p[i]) for i < VEC, one access (p aligned to VEC * sizeof(T)).
template <typename T, int VEC>
__device__ __forceinline__ void load_vec(const T* p, float (&out)[VEC]) {
  static_assert(VEC * sizeof(T) <= 16, "at most 16 bytes per access");
  if constexpr (VEC == 1) {
    out[0] = to_float(*p);
  } else {
    using R = typename RawVec<VEC * sizeof(T)>::type;
    union { R raw; T elems[VEC]; } v;
    v.raw = *reinterpret_cast<const R*>(p);
#pragma unroll
    for (int i = 0; i < VEC; ++i) out[i] = to_float(v.elems[i]);
  }
}

/// VEC values of one row starting at reduction index r into fp32: one vector access
/// when aligned and whole, else element by element with zeros past r_end.
template <typename T, int VEC>
__device__ __forceinline__ void load_row_chunk(const T* src, int64_t r, int64_t r_end, bool vec_ok, float (&out)[VEC]) {
  if (vec_ok && r + VEC <= r_end) {
    load_vec<T, VEC>(src, out);
  } else {
#pragma unroll
    for (int e = 0; e < VEC; ++e) out[e] = r + e < r_end ? to_float(src[e]) : 0.0f;
  }
}

/// p[i] = T(in[i]) (round to nearest even for bf16), one access.
template <typename T, int VEC>
__device__ __forceinline__ void store_vec(T* p, const float (&in)[VEC]) {
  static_assert(VEC * sizeof(T) <= 16, "at most 16 bytes per access");
  if constexpr (VEC == 1) {
    *p = from_float<T>(in[0]);
  } else {
    using R = typename RawVec<VEC * sizeof(T)>::type;
    union { R raw; T elems[VEC]; } v;
#pragma unroll
    for (int i = 0; i < VEC; ++i) v.elems[i] = from_float<T>(in[i]);
    *reinterpret_cast<R*>(p) = v.raw;
  }
}

/// Elements per 16-byte access.
template <typename T> __host__ __device__ constexpr int vec16() { return 16 / (int)sizeof(T); }

}  // namespace mhc
