/* The cost of the cuBLAS / cuBLASLt hooks without a GPU: ns per cublasSgemm_v2_64 and per
 * cublasLtMatmul (64x16x32, BF16) through the fake libraries of tests/support/fake_cuda/, best of
 * five rounds of 2,000,000 calls. Run it with and without LD_PRELOAD=libflopledger.so (and a
 * FLOPLEDGER_LEDGER); the difference is the hook. The fakes compute nothing, so this measures
 * the hook and the fake getters only (docs/gpu.md). */
#include <cublasLt.h>
#include <cublas_api.h>
#include <stdio.h>
#include <time.h>
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
int main(void) {
  cublasHandle_t h;
  cublasCreate_v2(&h);
  const int n = 2000000;
  double best = 1e9, bestlt = 1e9;
  cublasLtHandle_t lt;
  cublasLtCreate(&lt);
  cublasLtMatmulDesc_t d;
  cublasLtMatrixLayout_t a, b, c;
  cublasLtMatmulDescCreate(&d, CUBLAS_COMPUTE_32F, CUDA_R_32F);
  cublasLtMatrixLayoutCreate(&a, CUDA_R_16BF, 64, 32, 64);
  cublasLtMatrixLayoutCreate(&b, CUDA_R_16BF, 32, 16, 32);
  cublasLtMatrixLayoutCreate(&c, CUDA_R_16BF, 64, 16, 64);
  for (int rep = 0; rep < 5; rep++) {
    double t0 = now();
    for (int i = 0; i < n; i++)
      cublasSgemm_v2_64(h, CUBLAS_OP_N, CUBLAS_OP_N, 64, 16, 32, 0, 0, 64, 0, 32, 0, 0, 64);
    double t1 = now();
    for (int i = 0; i < n; i++)
      cublasLtMatmul(lt, d, 0, 0, a, 0, b, 0, 0, c, 0, c, 0, 0, 0, 0);
    double t2 = now();
    if ((t1 - t0) / n < best) best = (t1 - t0) / n;
    if ((t2 - t1) / n < bestlt) bestlt = (t2 - t1) / n;
  }
  printf("sgemm_v2_64 %.1f ns/call, cublasLtMatmul %.1f ns/call\n", best * 1e9, bestlt * 1e9);
  return 0;
}
