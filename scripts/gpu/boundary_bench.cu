// boundary_bench.cu: what a kernel boundary costs on this GPU. A chain of 1-3 small kernels captured in a CUDA
// graph (16, 48 or 128 blocks of 256 threads), launched plainly or with programmatic dependent launch (each
// kernel waits for the one before and lets the next start), against one kernel with 0-2 grid-wide barriers
// (cooperative launch) or cluster barriers (clusters of 8 or 16 blocks). Prints JSON: microseconds per
// graph iteration. Build and run on the GPU machine:
//   nvcc -arch=sm_90a -O3 -std=c++17 scripts/gpu/boundary_bench.cu -o /tmp/boundary_bench && /tmp/boundary_bench
#include <cooperative_groups.h>
#include <cstdio>
#include <cuda_runtime.h>
#include "../../runtime/cuda/include/mhc_pdl.cuh"  // the launch and wait the generated kernels use
namespace cg = cooperative_groups;

__global__ void small_kernel(const float* in, float* out) {
  mhc::wait_prior_grids();
  mhc::allow_dependent_grids();
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  out[i] = in[i] * 1.0001f + 1.0f;
}

__global__ void coop_kernel(const float* in, float* out, float* tmp, int syncs) {
  cg::grid_group grid = cg::this_grid();
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = in[i];
  for (int s = 0; s < syncs; ++s) {
    tmp[i] = v * 1.0001f + 1.0f;
    grid.sync();
    v = tmp[(i + 256) % (gridDim.x * blockDim.x)];
  }
  out[i] = v;
}

__global__ void cluster_kernel(const float* in, float* out, float* tmp, int syncs) {
  cg::cluster_group cl = cg::this_cluster();
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = in[i];
  for (int s = 0; s < syncs; ++s) {
    tmp[i] = v * 1.0001f + 1.0f;
    cl.sync();
    unsigned base = (blockIdx.x / cl.num_blocks()) * cl.num_blocks();
    unsigned other = base + (cl.block_rank() + 1) % cl.num_blocks();
    v = tmp[other * blockDim.x + threadIdx.x];
  }
  out[i] = v;
}

static void launch_small(bool pdl, int blocks, const float* in, float* out, cudaStream_t st) {
  mhc::launch_overlapped(pdl, small_kernel, dim3(blocks), dim3(256), 0, st, in, out);
}

template <typename F>
static float graph_us(F body, int reps = 50) {
  cudaStream_t st;
  cudaStreamCreate(&st);
  for (int i = 0; i < 3; ++i) body(st);
  cudaStreamSynchronize(st);
  cudaGraph_t g;
  cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal);
  for (int i = 0; i < reps; ++i) body(st);
  cudaStreamEndCapture(st, &g);
  cudaGraphExec_t ge;
  if (cudaGraphInstantiate(&ge, g, 0) != cudaSuccess) { printf("instantiate failed: %s\n", cudaGetErrorString(cudaGetLastError())); return -1; }
  cudaGraphLaunch(ge, st);
  cudaStreamSynchronize(st);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  float best = 1e30f;
  for (int k = 0; k < 15; ++k) {
    cudaEventRecord(e0, st);
    cudaGraphLaunch(ge, st);
    cudaEventRecord(e1, st);
    cudaEventSynchronize(e1);
    float ms;
    cudaEventElapsedTime(&ms, e0, e1);
    if (ms < best) best = ms;
  }
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) printf("error: %s\n", cudaGetErrorString(err));
  return best * 1000.0f / reps;
}

int main() {
  float *a, *b, *tmp;
  cudaMalloc(&a, 4 << 20);
  cudaMalloc(&b, 4 << 20);
  cudaMalloc(&tmp, 4 << 20);
  cudaMemset(a, 0, 4 << 20);
  printf("{\n");
  for (int blocks : {16, 48, 128}) {
    for (int k : {1, 2, 3}) {
      for (int pdl = 0; pdl < 2; ++pdl) {
        float us = graph_us([&](cudaStream_t st) { for (int j = 0; j < k; ++j) launch_small(pdl, blocks, j % 2 ? b : a, j % 2 ? a : b, st); });
        printf("  \"chain_%d_kernels_%d_blocks_pdl%d_us\": %.3f,\n", k, blocks, pdl, us);
      }
    }
  }
  for (int syncs : {0, 1, 2}) {
    float us = graph_us([&](cudaStream_t st) {
      int s = syncs;
      void* args[] = {&a, &b, &tmp, &s};
      cudaLaunchCooperativeKernel((void*)coop_kernel, dim3(128), dim3(256), args, 0, st);
    });
    printf("  \"coop_128_blocks_%d_grid_syncs_us\": %.3f,\n", syncs, us);
  }
  for (int csize : {8, 16}) {
    cudaFuncSetAttribute(cluster_kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
    for (int syncs : {0, 1, 2}) {
      float us = graph_us([&](cudaStream_t st) {
        cudaLaunchConfig_t c = {};
        c.gridDim = dim3(128);
        c.blockDim = dim3(256);
        c.stream = st;
        cudaLaunchAttribute at[1];
        at[0].id = cudaLaunchAttributeClusterDimension;
        at[0].val.clusterDim.x = csize;
        at[0].val.clusterDim.y = 1;
        at[0].val.clusterDim.z = 1;
        c.attrs = at;
        c.numAttrs = 1;
        cudaLaunchKernelEx(&c, cluster_kernel, (const float*)a, b, tmp, syncs);
      });
      printf("  \"cluster%d_128_blocks_%d_syncs_us\": %.3f,\n", csize, syncs, us);
    }
  }
  printf("  \"done\": 1\n}\n");
  return 0;
}
