/* A CBLAS built on top of the Fortran BLAS symbol, as the reference CBLAS is: cblas_sgemm here
 * calls sgemm_ through the PLT. Stands for such a CBLAS in test_reentry.py, which checks that
 * the runtime counts a call routed cblas_sgemm -> sgemm_ once, not twice. Column-major only. */
#include <stddef.h>

void sgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k,
            const float *alpha, const float *a, const int *lda, const float *b, const int *ldb,
            const float *beta, float *c, const int *ldc, size_t transa_len, size_t transb_len);

void cblas_sgemm(int layout, int transa, int transb, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  (void)layout; /* the test uses column major (102) only */
  const char ta = transa == 111 ? 'N' : 'T';
  const char tb = transb == 111 ? 'N' : 'T';
  sgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc, 1, 1);
}
