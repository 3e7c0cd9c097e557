/* A fake libcublas.so.13 for the tests: it stands for NVIDIA's cuBLAS library where there is no
 * GPU. Same soname, same symbol version (cublasSgemm_v2@@libcublas.so.13 ...), the real headers'
 * prototypes (cublas.h and cublas_api.h), every GEMM entry point that flopledger hooks. A GEMM
 * checks its arguments as cuBLAS does (no handle: CUBLAS_STATUS_NOT_INITIALIZED; a negative size
 * or batch count: CUBLAS_STATUS_INVALID_VALUE) and computes nothing. cublasSgemm_v2 and
 * cublasGemmEx run through the fake cuBLASLt's cublasLtMatmul, as recent cuBLAS versions do, so
 * that the runtime must not count them twice. It is never part of flopledger. C++ only because
 * cublas_api.h declares the half-precision GEMMs for C++ only; every entry point has C linkage
 * (the header declares them extern "C"). */
#include <cublas.h>
#include <cublasLt.h>

#include <stdint.h>
#include <stdlib.h>

struct FakeHandle {
  cudaStream_t stream;
  cublasLtHandle_t lt;
};

cublasStatus_t cublasCreate_v2(cublasHandle_t *handle) {
  FakeHandle *h = static_cast<FakeHandle *>(calloc(1, sizeof *h));
  cublasLtCreate(&h->lt);
  *handle = (cublasHandle_t)h;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  cublasLtDestroy(((struct FakeHandle *)handle)->lt);
  free(handle);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
  if (handle == NULL) return CUBLAS_STATUS_NOT_INITIALIZED;
  ((struct FakeHandle *)handle)->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, cudaStream_t *stream) {
  if (handle == NULL) return CUBLAS_STATUS_NOT_INITIALIZED;
  *stream = ((struct FakeHandle *)handle)->stream;
  return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t check(cublasHandle_t handle, int64_t m, int64_t n, int64_t k, int64_t batch) {
  if (handle == NULL) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (m < 0 || n < 0 || k < 0 || batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
  return CUBLAS_STATUS_SUCCESS;
}

/* The GEMM as a cuBLASLt matmul: descriptors of the fake cuBLASLt, then cublasLtMatmul (which the
 * preloaded runtime hooks too). */
static cublasStatus_t through_lt(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb,
                                 int64_t m, int64_t n, int64_t k, cudaDataType_t type,
                                 cublasComputeType_t compute) {
  cublasStatus_t status = check(handle, m, n, k, 1);
  if (status != CUBLAS_STATUS_SUCCESS) return status;
  struct FakeHandle *h = (struct FakeHandle *)handle;
  cublasLtMatmulDesc_t desc;
  cublasLtMatrixLayout_t a, b, c;
  cublasLtMatmulDescCreate(&desc, compute, CUDA_R_32F);
  cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
  cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
  cublasLtMatrixLayoutCreate(&a, type, ta == CUBLAS_OP_N ? m : k, ta == CUBLAS_OP_N ? k : m, m);
  cublasLtMatrixLayoutCreate(&b, type, tb == CUBLAS_OP_N ? k : n, tb == CUBLAS_OP_N ? n : k, k);
  cublasLtMatrixLayoutCreate(&c, type, m, n, m);
  status = cublasLtMatmul(h->lt, desc, NULL, NULL, a, NULL, b, NULL, NULL, c, NULL, c, NULL, NULL,
                          0, h->stream);
  cublasLtMatrixLayoutDestroy(a);
  cublasLtMatrixLayoutDestroy(b);
  cublasLtMatrixLayoutDestroy(c);
  cublasLtMatmulDescDestroy(desc);
  return status;
}

#define UNUSED7(a, b, c, d, e, f, g)                                                               \
  (void)(a), (void)(b), (void)(c), (void)(d), (void)(e), (void)(f), (void)(g)

#define FAKE_GEMM(NAME, INT, T)                                                                    \
  cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,   \
                      INT m, INT n, INT k, const T *alpha, const T *A, INT lda, const T *B,        \
                      INT ldb, const T *beta, T *C, INT ldc) {                                     \
    UNUSED7(transa, transb, alpha, A, lda, B, ldb), (void)beta, (void)C, (void)ldc;                \
    return check(handle, m, n, k, 1);                                                              \
  }

#define FAKE_GEMM_BATCHED(NAME, INT, T)                                                            \
  cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,   \
                      INT m, INT n, INT k, const T *alpha, const T *const Aarray[], INT lda,       \
                      const T *const Barray[], INT ldb, const T *beta, T *const Carray[], INT ldc, \
                      INT batchCount) {                                                            \
    UNUSED7(transa, transb, alpha, Aarray, lda, Barray, ldb), (void)beta, (void)Carray, (void)ldc; \
    return check(handle, m, n, k, batchCount);                                                     \
  }

#define FAKE_GEMM_STRIDED(NAME, INT, T)                                                            \
  cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,   \
                      INT m, INT n, INT k, const T *alpha, const T *A, INT lda,                    \
                      long long int strideA, const T *B, INT ldb, long long int strideB,           \
                      const T *beta, T *C, INT ldc, long long int strideC, INT batchCount) {       \
    UNUSED7(transa, transb, alpha, A, lda, strideA, B), (void)ldb, (void)strideB, (void)beta;      \
    (void)C, (void)ldc, (void)strideC;                                                             \
    return check(handle, m, n, k, batchCount);                                                     \
  }

#define FAKE_GEMM_GROUPED(NAME, INT, T)                                                            \
  cublasStatus_t NAME(cublasHandle_t handle, const cublasOperation_t transa_array[],               \
                      const cublasOperation_t transb_array[], const INT m_array[],                 \
                      const INT n_array[], const INT k_array[], const T alpha_array[],             \
                      const T *const Aarray[], const INT lda_array[], const T *const Barray[],     \
                      const INT ldb_array[], const T beta_array[], T *const Carray[],              \
                      const INT ldc_array[], INT group_count, const INT group_size[]) {            \
    UNUSED7(transa_array, transb_array, alpha_array, Aarray, lda_array, Barray, ldb_array);        \
    (void)beta_array, (void)Carray, (void)ldc_array;                                               \
    if (handle == NULL) return CUBLAS_STATUS_NOT_INITIALIZED;                                      \
    if (group_count < 0) return CUBLAS_STATUS_INVALID_VALUE;                                       \
    for (INT g = 0; g < group_count; ++g)                                                          \
      if (check(handle, m_array[g], n_array[g], k_array[g], group_size[g]))                        \
        return CUBLAS_STATUS_INVALID_VALUE;                                                        \
    return CUBLAS_STATUS_SUCCESS;                                                                  \
  }

#define FAKE_GEMM_EX_TYPED(NAME, INT, T)                                                           \
  cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,   \
                      INT m, INT n, INT k, const T *alpha, const void *A, cudaDataType Atype,      \
                      INT lda, const void *B, cudaDataType Btype, INT ldb, const T *beta, void *C, \
                      cudaDataType Ctype, INT ldc) {                                               \
    UNUSED7(transa, transb, alpha, A, Atype, lda, B), (void)Btype, (void)ldb, (void)beta;          \
    (void)C, (void)Ctype, (void)ldc;                                                               \
    return check(handle, m, n, k, 1);                                                              \
  }

#define FAKE_GEMM_EX(NAME, INT, BODY)                                                              \
  cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,   \
                      INT m, INT n, INT k, const void *alpha, const void *A, cudaDataType Atype,   \
                      INT lda, const void *B, cudaDataType Btype, INT ldb, const void *beta,       \
                      void *C, cudaDataType Ctype, INT ldc, cublasComputeType_t computeType,       \
                      cublasGemmAlgo_t algo) {                                                     \
    UNUSED7(transa, transb, alpha, A, Atype, lda, B), (void)Btype, (void)ldb, (void)beta;          \
    (void)C, (void)Ctype, (void)ldc, (void)computeType, (void)algo;                                \
    return BODY;                                                                                   \
  }

#define FAKE_GEMM_BATCHED_EX(NAME, INT)                                                            \
  cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,   \
                      INT m, INT n, INT k, const void *alpha, const void *const Aarray[],          \
                      cudaDataType Atype, INT lda, const void *const Barray[], cudaDataType Btype, \
                      INT ldb, const void *beta, void *const Carray[], cudaDataType Ctype,         \
                      INT ldc, INT batchCount, cublasComputeType_t computeType,                    \
                      cublasGemmAlgo_t algo) {                                                     \
    UNUSED7(transa, transb, alpha, Aarray, Atype, lda, Barray), (void)Btype, (void)ldb;            \
    (void)beta, (void)Carray, (void)Ctype, (void)ldc, (void)computeType, (void)algo;               \
    return check(handle, m, n, k, batchCount);                                                     \
  }

#define FAKE_GEMM_STRIDED_EX(NAME, INT)                                                            \
  cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,   \
                      INT m, INT n, INT k, const void *alpha, const void *A, cudaDataType Atype,   \
                      INT lda, long long int strideA, const void *B, cudaDataType Btype, INT ldb,  \
                      long long int strideB, const void *beta, void *C, cudaDataType Ctype,        \
                      INT ldc, long long int strideC, INT batchCount,                              \
                      cublasComputeType_t computeType, cublasGemmAlgo_t algo) {                    \
    UNUSED7(transa, transb, alpha, A, Atype, lda, strideA), (void)B, (void)Btype, (void)ldb;       \
    (void)strideB, (void)beta, (void)C, (void)Ctype, (void)ldc, (void)strideC;                     \
    (void)computeType, (void)algo;                                                                 \
    return check(handle, m, n, k, batchCount);                                                     \
  }

#define FAKE_GEMM_GROUPED_EX(NAME, INT)                                                            \
  cublasStatus_t NAME(cublasHandle_t handle, const cublasOperation_t transa_array[],               \
                      const cublasOperation_t transb_array[], const INT m_array[],                 \
                      const INT n_array[], const INT k_array[], const void *alpha_array,           \
                      const void *const Aarray[], cudaDataType_t Atype, const INT lda_array[],     \
                      const void *const Barray[], cudaDataType_t Btype, const INT ldb_array[],     \
                      const void *beta_array, void *const Carray[], cudaDataType_t Ctype,          \
                      const INT ldc_array[], INT group_count, const INT group_size[],              \
                      cublasComputeType_t computeType) {                                           \
    UNUSED7(transa_array, transb_array, alpha_array, Aarray, Atype, lda_array, Barray);            \
    (void)Btype, (void)ldb_array, (void)beta_array, (void)Carray, (void)Ctype, (void)ldc_array;    \
    (void)computeType;                                                                             \
    if (handle == NULL) return CUBLAS_STATUS_NOT_INITIALIZED;                                      \
    if (group_count < 0) return CUBLAS_STATUS_INVALID_VALUE;                                       \
    for (INT g = 0; g < group_count; ++g)                                                          \
      if (check(handle, m_array[g], n_array[g], k_array[g], group_size[g]))                        \
        return CUBLAS_STATUS_INVALID_VALUE;                                                        \
    return CUBLAS_STATUS_SUCCESS;                                                                  \
  }

/* cublasSgemm_v2 through cuBLASLt (see the top of the file); its _64 twin computes directly. */
cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa,
                              cublasOperation_t transb, int m, int n, int k, const float *alpha,
                              const float *A, int lda, const float *B, int ldb, const float *beta,
                              float *C, int ldc) {
  UNUSED7(alpha, A, lda, B, ldb, beta, C), (void)ldc;
  return through_lt(handle, transa, transb, m, n, k, CUDA_R_32F, CUBLAS_COMPUTE_32F);
}
FAKE_GEMM(cublasSgemm_v2_64, int64_t, float)
FAKE_GEMM(cublasDgemm_v2, int, double)
FAKE_GEMM(cublasDgemm_v2_64, int64_t, double)
FAKE_GEMM(cublasCgemm_v2, int, cuComplex)
FAKE_GEMM(cublasCgemm_v2_64, int64_t, cuComplex)
FAKE_GEMM(cublasZgemm_v2, int, cuDoubleComplex)
FAKE_GEMM(cublasZgemm_v2_64, int64_t, cuDoubleComplex)
FAKE_GEMM(cublasHgemm, int, __half)
FAKE_GEMM(cublasHgemm_64, int64_t, __half)
FAKE_GEMM(cublasCgemm3m, int, cuComplex)
FAKE_GEMM(cublasCgemm3m_64, int64_t, cuComplex)
FAKE_GEMM(cublasZgemm3m, int, cuDoubleComplex)
FAKE_GEMM(cublasZgemm3m_64, int64_t, cuDoubleComplex)

#define FAKE_FAMILY(PREFIX, T)                                                                     \
  FAKE_GEMM_BATCHED(PREFIX##Batched, int, T)                                                       \
  FAKE_GEMM_BATCHED(PREFIX##Batched_64, int64_t, T)                                                \
  FAKE_GEMM_STRIDED(PREFIX##StridedBatched, int, T)                                                \
  FAKE_GEMM_STRIDED(PREFIX##StridedBatched_64, int64_t, T)

FAKE_FAMILY(cublasSgemm, float)
FAKE_FAMILY(cublasDgemm, double)
FAKE_FAMILY(cublasHgemm, __half)
FAKE_FAMILY(cublasCgemm, cuComplex)
FAKE_FAMILY(cublasZgemm, cuDoubleComplex)
FAKE_FAMILY(cublasCgemm3m, cuComplex)

FAKE_GEMM_GROUPED(cublasSgemmGroupedBatched, int, float)
FAKE_GEMM_GROUPED(cublasSgemmGroupedBatched_64, int64_t, float)
FAKE_GEMM_GROUPED(cublasDgemmGroupedBatched, int, double)
FAKE_GEMM_GROUPED(cublasDgemmGroupedBatched_64, int64_t, double)

FAKE_GEMM_EX_TYPED(cublasSgemmEx, int, float)
FAKE_GEMM_EX_TYPED(cublasSgemmEx_64, int64_t, float)
FAKE_GEMM_EX_TYPED(cublasCgemmEx, int, cuComplex)
FAKE_GEMM_EX_TYPED(cublasCgemmEx_64, int64_t, cuComplex)
FAKE_GEMM_EX_TYPED(cublasCgemm3mEx, int, cuComplex)
FAKE_GEMM_EX_TYPED(cublasCgemm3mEx_64, int64_t, cuComplex)

/* cublasGemmEx through cuBLASLt; the others directly. */
FAKE_GEMM_EX(cublasGemmEx, int, through_lt(handle, transa, transb, m, n, k, Atype, computeType))
FAKE_GEMM_EX(cublasGemmEx_64, int64_t, check(handle, m, n, k, 1))
FAKE_GEMM_BATCHED_EX(cublasGemmBatchedEx, int)
FAKE_GEMM_BATCHED_EX(cublasGemmBatchedEx_64, int64_t)
FAKE_GEMM_STRIDED_EX(cublasGemmStridedBatchedEx, int)
FAKE_GEMM_STRIDED_EX(cublasGemmStridedBatchedEx_64, int64_t)
FAKE_GEMM_GROUPED_EX(cublasGemmGroupedBatchedEx, int)
FAKE_GEMM_GROUPED_EX(cublasGemmGroupedBatchedEx_64, int64_t)

/* The legacy (v1) API: errors are kept for cublasGetError. */
static cublasStatus_t g_legacy_error = CUBLAS_STATUS_SUCCESS;

cublasStatus_t cublasGetError(void) {
  const cublasStatus_t e = g_legacy_error;
  g_legacy_error = CUBLAS_STATUS_SUCCESS;
  return e;
}

static int is_trans(char c) {
  return c == 'N' || c == 'n' || c == 'T' || c == 't' || c == 'C' || c == 'c';
}

#define FAKE_LEGACY_GEMM(NAME, T)                                                                  \
  void NAME(char transa, char transb, int m, int n, int k, T alpha, const T *A, int lda,           \
            const T *B, int ldb, T beta, T *C, int ldc) {                                          \
    (void)alpha, (void)A, (void)B, (void)beta, (void)C;                                            \
    const int nrowa = (transa == 'N' || transa == 'n') ? m : k;                                    \
    const int nrowb = (transb == 'N' || transb == 'n') ? k : n;                                    \
    if (!is_trans(transa) || !is_trans(transb) || m < 0 || n < 0 || k < 0 ||                       \
        lda < (nrowa > 1 ? nrowa : 1) || ldb < (nrowb > 1 ? nrowb : 1) || ldc < (m > 1 ? m : 1))   \
      g_legacy_error = CUBLAS_STATUS_INVALID_VALUE;                                                \
  }

FAKE_LEGACY_GEMM(cublasSgemm, float)
FAKE_LEGACY_GEMM(cublasDgemm, double)
FAKE_LEGACY_GEMM(cublasCgemm, cuComplex)
FAKE_LEGACY_GEMM(cublasZgemm, cuDoubleComplex)
