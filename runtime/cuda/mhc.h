/*
 * mhc.h: the C ABI shared by every library that `mhc compile --target cuda` generates.
 *
 * Every entry point returns an `int` status (below): never aborts, never prints. A
 * status other than MHC_OK means nothing was launched, except MHC_ERR_CUDA, which means
 * a CUDA call failed (`mhc_<name>_last_cuda_error()` returns its cudaError_t).
 *
 * Conventions (design.md section 1 and 4.2):
 *   - the residual x is [T, n, C] row-major, dtype MHC_DTYPE_F32 or MHC_DTYPE_BF16;
 *     u, f are [T, C] and y is [T, n, C] of the same dtype;
 *   - coefficients are fp32: h_pre [T, n], h_post [T, n], h_res [T, n, n] indexed
 *     [t, out, in] (x_next = H_res @ x);
 *   - parameters are fp32 with the pinned names phi_pre/phi_post/phi_res [n*C, k],
 *     alpha [3], bias_pre/bias_post/bias_res [k];
 *   - every pointer is a device pointer aligned to its element size; the workspace is
 *     aligned to 16 bytes. 16-byte aligned rows get vectorised loads, others a scalar path.
 */
#ifndef MHC_H
#define MHC_H

#include <stddef.h>
#include <stdint.h>

#define MHC_ABI_VERSION 1

/* Status codes. Stable: never renumbered, never reused. */
#define MHC_OK 0
#define MHC_ERR_NULL_POINTER 1        /* a required pointer is NULL */
#define MHC_ERR_BAD_SHAPE 2           /* T < 0, C < 1, or a size overflows the index types */
#define MHC_ERR_BAD_DTYPE 3           /* dtype is not MHC_DTYPE_F32 or MHC_DTYPE_BF16 */
#define MHC_ERR_MISALIGNED 4          /* a pointer is not aligned to its element size (workspace: 16 bytes) */
#define MHC_ERR_WORKSPACE_TOO_SMALL 5 /* workspace_bytes < mhc_<name>_workspace_size(T, C) */
#define MHC_ERR_CUDA 6                /* a CUDA call failed; see mhc_<name>_last_cuda_error() */
#define MHC_ERR_UNSUPPORTED 7         /* a configuration this build does not implement */

/* Residual dtypes (x, u, f, y). */
#define MHC_DTYPE_F32 0
#define MHC_DTYPE_BF16 1

static inline const char* mhc_status_string(int status) {
  switch (status) {
    case MHC_OK: return "ok";
    case MHC_ERR_NULL_POINTER: return "a required pointer is NULL";
    case MHC_ERR_BAD_SHAPE: return "bad shape (T < 0, C < 1, or too large)";
    case MHC_ERR_BAD_DTYPE: return "bad dtype (expected MHC_DTYPE_F32 or MHC_DTYPE_BF16)";
    case MHC_ERR_MISALIGNED: return "misaligned pointer";
    case MHC_ERR_WORKSPACE_TOO_SMALL: return "workspace too small";
    case MHC_ERR_CUDA: return "CUDA error";
    case MHC_ERR_UNSUPPORTED: return "unsupported configuration";
    default: return "unknown status";
  }
}

#endif /* MHC_H */
