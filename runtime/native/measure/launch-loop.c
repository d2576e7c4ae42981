/*
 * The C baseline of the native runtime's launch cost: calls `mhc_<symbol>_post`
 * of a compiled library from a C loop, exactly as `mhc bench` does from Node
 * (T = 1, bf16, back to back on a non-blocking stream, best of 5 rounds, and
 * T = 0 for the cost of a call that launches nothing). The difference between
 * Node's and this loop's time per call is what Node and koffi add.
 *
 *   nvcc -O2 -o launch-loop runtime/native/measure/launch-loop.c -ldl
 *   ./launch-loop DIR/libmhc_n4.so mhc_n4 4 4096 2000
 *
 * Prints one JSON object. Only the post entry point is called: its arguments
 * are the same for every connection of ABI version 1.
 */
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef int (*post_fn)(const void *x, const void *f, int dtype, int64_t T, int64_t C, const float *h_post, const float *h_res, void *y, cudaStream_t stream);

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

#define CHECK(call)                                                              \
  do {                                                                           \
    cudaError_t e_ = (call);                                                     \
    if (e_ != cudaSuccess) {                                                     \
      fprintf(stderr, "%s: %s\n", #call, cudaGetErrorString(e_));                \
      return 1;                                                                  \
    }                                                                            \
  } while (0)

/* Best of 5 rounds of `calls` back-to-back calls, in microseconds per call. */
static double best_per_call(post_fn post, void *x, void *f, int64_t T, int64_t C, float *hp, float *hr, void *y, cudaStream_t s, int calls, int *status) {
  double best = 1e30;
  for (int round = 0; round < 5; round++) {
    double t0 = now_us();
    for (int i = 0; i < calls; i++) *status |= post(x, f, 1, T, C, hp, hr, y, s);
    double per = (now_us() - t0) / calls;
    cudaStreamSynchronize(s);
    if (per < best) best = per;
  }
  return best;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s LIBRARY SYMBOL N C CALLS\n", argv[0]);
    return 2;
  }
  const int n = atoi(argv[3]);
  const int64_t C = atoll(argv[4]);
  const int calls = atoi(argv[5]);
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  char name[256];
  snprintf(name, sizeof name, "mhc_%s_post", argv[2]);
  post_fn post = (post_fn)dlsym(lib, name);
  if (!post) {
    fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
    return 1;
  }
  void *x, *f, *y;
  float *hp, *hr;
  CHECK(cudaMalloc(&x, (size_t)n * C * 2));
  CHECK(cudaMalloc(&f, (size_t)C * 2));
  CHECK(cudaMalloc(&y, (size_t)n * C * 2));
  CHECK(cudaMalloc((void **)&hp, (size_t)n * 4));
  CHECK(cudaMalloc((void **)&hr, (size_t)n * n * 4));
  CHECK(cudaMemset(x, 0, (size_t)n * C * 2));
  CHECK(cudaMemset(f, 0, (size_t)C * 2));
  CHECK(cudaMemset(hp, 0, (size_t)n * 4));
  CHECK(cudaMemset(hr, 0, (size_t)n * n * 4));
  cudaStream_t s;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  int status = 0;
  for (int i = 0; i < 100; i++) status |= post(x, f, 1, 1, C, hp, hr, y, s);
  CHECK(cudaStreamSynchronize(s));
  double host_us = best_per_call(post, x, f, 1, C, hp, hr, y, s, calls, &status);
  double no_work_us = best_per_call(post, x, f, 0, C, hp, hr, y, s, calls * 10, &status);
  CHECK(cudaStreamSynchronize(s));
  printf("{\"library\": \"%s\", \"n\": %d, \"C\": %lld, \"calls\": %d, \"c_host_post_us\": %.4f, \"c_post_no_work_us\": %.4f, \"status_or\": %d}\n", argv[1], n, (long long)C, calls, host_us, no_work_us, status);
  return status == 0 ? 0 : 1;
}
