/* Calls cblas_sgemm (from fake_cblas.c, which calls sgemm_) with known shapes: call i is
 * m = 10 + i, n = 7 + 2i, k = 5 + 3i, column major, no transposition. Prints the expected FLOPs. */
#include <stdio.h>
#include <stdlib.h>

void cblas_sgemm(int layout, int transa, int transb, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

int main(int argc, char **argv) {
  const int calls = argc > 1 ? atoi(argv[1]) : 5;
  unsigned long long expected = 0;
  for (int i = 0; i < calls; ++i) {
    const int m = 10 + i, n = 7 + 2 * i, k = 5 + 3 * i;
    float *a = calloc((size_t)(m * k), sizeof *a), *b = calloc((size_t)(k * n), sizeof *b);
    float *c = calloc((size_t)(m * n), sizeof *c);
    cblas_sgemm(102, 111, 111, m, n, k, 1.0f, a, m, b, k, 0.0f, c, m);
    expected += 2ULL * (unsigned long long)m * (unsigned long long)n * (unsigned long long)k;
    free(a);
    free(b);
    free(c);
  }
  printf("expected_flops=%llu\n", expected);
  return 0;
}
