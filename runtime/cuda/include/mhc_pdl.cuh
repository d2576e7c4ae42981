// mhc_pdl.cuh: programmatic dependent launch (Hopper, sm_90+), so that a kernel's launch and block
// start-up overlap the tail of the kernel before it in the stream.
//
// A kernel launched by launch_overlapped (with the attribute) may start once every block of the
// kernel before it has called allow_dependent_grids() (or exited). Such a kernel must call
// wait_prior_grids() before it reads anything another kernel wrote: that waits until the kernels
// before it have completed and their memory is visible. Launched without the attribute (or on an
// older GPU) wait_prior_grids() returns at once and allow_dependent_grids() does nothing, so every
// kernel here runs correctly either way; only the overlap is lost.
#pragma once

#include <cuda_runtime.h>
#include <utility>

namespace mhc {

/// Waits until the grids this one depends on have completed and their writes are visible.
__device__ __forceinline__ void wait_prior_grids() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

/// Lets the next kernel (if launched overlapped) start its blocks now; they still wait for this grid's end.
__device__ __forceinline__ void allow_dependent_grids() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

/// kernel<<<grid, block, smem, stream>>>(args...), with programmatic stream serialisation when `overlap`.
template <typename... Params, typename... Args>
inline cudaError_t launch_overlapped(bool overlap, void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, Args&&... args) {
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  config.attrs = attr;
  config.numAttrs = overlap ? 1 : 0;
  return cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
}

}  // namespace mhc
