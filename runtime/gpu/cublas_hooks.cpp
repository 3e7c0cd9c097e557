// cuBLAS counter source: every GEMM entry point of cuBLAS 13 (the _v2 API; the legacy v1 API is in
// cublas_legacy_hooks.cpp). The prototypes are the real header's: a definition that disagrees
// with cublas_api.h does not compile. The list and the precision classes are in docs/gpu.md.
#pragma GCC visibility push(default)
#include <cublas_v2.h>
#pragma GCC visibility pop

#include <atomic>
#include <cstdint>

#include "accounting/gemm.hpp"
#include "cuda_types.hpp"
#include "hook_support.hpp"
#include "source.hpp"

#define FLOPLEDGER_EXPORT extern "C" __attribute__((visibility("default")))

namespace flopledger::runtime::gpu {
namespace {

const bool registered_cublas = register_source(
    {FLOPLEDGER_SOURCE_CUBLAS,
     "cublas{S,D,C,Z}gemm{_v2,_v2_64,Batched,StridedBatched}[_64] cublasHgemm* cublas{S,D}gemm"
     "GroupedBatched[_64] cublas{S,C}gemmEx[_64] cublasCgemm3m* cublasZgemm3m[_64] "
     "cublasGemm{,Batched,StridedBatched,GroupedBatched}Ex[_64] cublas{S,D,C,Z}gemm (v1)"});

Planned typed(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t batch,
              flopledger_precision precision, Field field) {
  return {batched_gemm_flops(m, n, k, batch, field), precision};
}

Planned typed_ex(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t batch,
                 cublasComputeType_t compute, cudaDataType_t a_type) {
  return {batched_gemm_flops(m, n, k, batch, field_of(a_type)), precision_of(compute, a_type)};
}

} // namespace
} // namespace flopledger::runtime::gpu

using namespace flopledger;
using namespace flopledger::runtime::gpu;

// One hook: PARAMS is the header's parameter list, ARGS the same names, PLAN what it computes.
#define FLOPLEDGER_CUBLAS_HOOK(NAME, PARAMS, ARGS, PLAN)                                           \
  FLOPLEDGER_EXPORT cublasStatus_t NAME PARAMS {                                                   \
    using Fn = cublasStatus_t(*) PARAMS; /* not decltype: the header overloads some names */       \
    static std::atomic<Fn> real{nullptr};                                                          \
    return metered(                                                                                \
        FLOPLEDGER_SOURCE_CUBLAS, PLAN, [&] { return stream_of_handle(handle); },                  \
        [&] {                                                                                      \
          const auto fn = real_function(real, #NAME, Library::Cublas);                             \
          return fn != nullptr ? fn ARGS : CUBLAS_STATUS_NOT_INITIALIZED;                          \
        });                                                                                        \
  }

// ---- cublas?gemm: C = alpha op(A) op(B) + beta C ----------------------------------------------

#define FLOPLEDGER_GEMM(NAME, INT, T, PRECISION, FIELD)                                            \
  FLOPLEDGER_CUBLAS_HOOK(NAME,                                                                     \
                         (cublasHandle_t handle, cublasOperation_t transa,                         \
                          cublasOperation_t transb, INT m, INT n, INT k, const T *alpha,           \
                          const T *A, INT lda, const T *B, INT ldb, const T *beta, T *C, INT ldc), \
                         (handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc),   \
                         typed(m, n, k, 1, PRECISION, FIELD))

#define FLOPLEDGER_GEMM_BATCHED(NAME, INT, T, PRECISION, FIELD)                                    \
  FLOPLEDGER_CUBLAS_HOOK(NAME,                                                                     \
                         (cublasHandle_t handle, cublasOperation_t transa,                         \
                          cublasOperation_t transb, INT m, INT n, INT k, const T *alpha,           \
                          const T *const Aarray[], INT lda, const T *const Barray[], INT ldb,      \
                          const T *beta, T *const Carray[], INT ldc, INT batchCount),              \
                         (handle, transa, transb, m, n, k, alpha, Aarray, lda, Barray, ldb, beta,  \
                          Carray, ldc, batchCount),                                                \
                         typed(m, n, k, batchCount, PRECISION, FIELD))

#define FLOPLEDGER_GEMM_STRIDED(NAME, INT, T, PRECISION, FIELD)                                    \
  FLOPLEDGER_CUBLAS_HOOK(NAME,                                                                     \
                         (cublasHandle_t handle, cublasOperation_t transa,                         \
                          cublasOperation_t transb, INT m, INT n, INT k, const T *alpha,           \
                          const T *A, INT lda, long long int strideA, const T *B, INT ldb,         \
                          long long int strideB, const T *beta, T *C, INT ldc,                     \
                          long long int strideC, INT batchCount),                                  \
                         (handle, transa, transb, m, n, k, alpha, A, lda, strideA, B, ldb,         \
                          strideB, beta, C, ldc, strideC, batchCount),                             \
                         typed(m, n, k, batchCount, PRECISION, FIELD))

#define FLOPLEDGER_GEMM_GROUPED(NAME, INT, T, PRECISION)                                           \
  FLOPLEDGER_CUBLAS_HOOK(                                                                          \
      NAME,                                                                                        \
      (cublasHandle_t handle, const cublasOperation_t transa_array[],                              \
       const cublasOperation_t transb_array[], const INT m_array[], const INT n_array[],           \
       const INT k_array[], const T alpha_array[], const T *const Aarray[], const INT lda_array[], \
       const T *const Barray[], const INT ldb_array[], const T beta_array[], T *const Carray[],    \
       const INT ldc_array[], INT group_count, const INT group_size[]),                            \
      (handle, transa_array, transb_array, m_array, n_array, k_array, alpha_array, Aarray,         \
       lda_array, Barray, ldb_array, beta_array, Carray, ldc_array, group_count, group_size),      \
      (Planned{                                                                                    \
          grouped_gemm_flops(m_array, n_array, k_array, group_size, group_count, Field::Real),     \
          PRECISION}))

#define FLOPLEDGER_GEMM_FAMILY(PREFIX, T, PRECISION, FIELD)                                        \
  FLOPLEDGER_GEMM_BATCHED(PREFIX##Batched, int, T, PRECISION, FIELD)                               \
  FLOPLEDGER_GEMM_BATCHED(PREFIX##Batched_64, int64_t, T, PRECISION, FIELD)                        \
  FLOPLEDGER_GEMM_STRIDED(PREFIX##StridedBatched, int, T, PRECISION, FIELD)                        \
  FLOPLEDGER_GEMM_STRIDED(PREFIX##StridedBatched_64, int64_t, T, PRECISION, FIELD)

FLOPLEDGER_GEMM(cublasSgemm_v2, int, float, FLOPLEDGER_PRECISION_FP32, Field::Real)
FLOPLEDGER_GEMM(cublasSgemm_v2_64, int64_t, float, FLOPLEDGER_PRECISION_FP32, Field::Real)
FLOPLEDGER_GEMM(cublasDgemm_v2, int, double, FLOPLEDGER_PRECISION_FP64, Field::Real)
FLOPLEDGER_GEMM(cublasDgemm_v2_64, int64_t, double, FLOPLEDGER_PRECISION_FP64, Field::Real)
FLOPLEDGER_GEMM(cublasCgemm_v2, int, cuComplex, FLOPLEDGER_PRECISION_FP32, Field::Complex)
FLOPLEDGER_GEMM(cublasCgemm_v2_64, int64_t, cuComplex, FLOPLEDGER_PRECISION_FP32, Field::Complex)
FLOPLEDGER_GEMM(cublasZgemm_v2, int, cuDoubleComplex, FLOPLEDGER_PRECISION_FP64, Field::Complex)
FLOPLEDGER_GEMM(cublasZgemm_v2_64, int64_t, cuDoubleComplex, FLOPLEDGER_PRECISION_FP64,
                Field::Complex)
FLOPLEDGER_GEMM(cublasHgemm, int, __half, FLOPLEDGER_PRECISION_FP16, Field::Real)
FLOPLEDGER_GEMM(cublasHgemm_64, int64_t, __half, FLOPLEDGER_PRECISION_FP16, Field::Real)
// The 3m forms (Gauss's three real products) are counted as the complex GEMM they compute.
FLOPLEDGER_GEMM(cublasCgemm3m, int, cuComplex, FLOPLEDGER_PRECISION_FP32, Field::Complex)
FLOPLEDGER_GEMM(cublasCgemm3m_64, int64_t, cuComplex, FLOPLEDGER_PRECISION_FP32, Field::Complex)
FLOPLEDGER_GEMM(cublasZgemm3m, int, cuDoubleComplex, FLOPLEDGER_PRECISION_FP64, Field::Complex)
FLOPLEDGER_GEMM(cublasZgemm3m_64, int64_t, cuDoubleComplex, FLOPLEDGER_PRECISION_FP64,
                Field::Complex)

FLOPLEDGER_GEMM_FAMILY(cublasSgemm, float, FLOPLEDGER_PRECISION_FP32, Field::Real)
FLOPLEDGER_GEMM_FAMILY(cublasDgemm, double, FLOPLEDGER_PRECISION_FP64, Field::Real)
FLOPLEDGER_GEMM_FAMILY(cublasHgemm, __half, FLOPLEDGER_PRECISION_FP16, Field::Real)
FLOPLEDGER_GEMM_FAMILY(cublasCgemm, cuComplex, FLOPLEDGER_PRECISION_FP32, Field::Complex)
FLOPLEDGER_GEMM_FAMILY(cublasZgemm, cuDoubleComplex, FLOPLEDGER_PRECISION_FP64, Field::Complex)
FLOPLEDGER_GEMM_FAMILY(cublasCgemm3m, cuComplex, FLOPLEDGER_PRECISION_FP32, Field::Complex)

FLOPLEDGER_GEMM_GROUPED(cublasSgemmGroupedBatched, int, float, FLOPLEDGER_PRECISION_FP32)
FLOPLEDGER_GEMM_GROUPED(cublasSgemmGroupedBatched_64, int64_t, float, FLOPLEDGER_PRECISION_FP32)
FLOPLEDGER_GEMM_GROUPED(cublasDgemmGroupedBatched, int, double, FLOPLEDGER_PRECISION_FP64)
FLOPLEDGER_GEMM_GROUPED(cublasDgemmGroupedBatched_64, int64_t, double, FLOPLEDGER_PRECISION_FP64)

// ---- cublas{S,C}gemmEx, cublasCgemm3mEx: typed scalars, typed data, FP32 compute --------------

#define FLOPLEDGER_GEMM_EX_TYPED(NAME, INT, T)                                                     \
  FLOPLEDGER_CUBLAS_HOOK(                                                                          \
      NAME,                                                                                        \
      (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, INT m, INT n,    \
       INT k, const T *alpha, const void *A, cudaDataType Atype, INT lda, const void *B,           \
       cudaDataType Btype, INT ldb, const T *beta, void *C, cudaDataType Ctype, INT ldc),          \
      (handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc), \
      typed_ex(m, n, k, 1, CUBLAS_COMPUTE_32F, Atype))

FLOPLEDGER_GEMM_EX_TYPED(cublasSgemmEx, int, float)
FLOPLEDGER_GEMM_EX_TYPED(cublasSgemmEx_64, int64_t, float)
FLOPLEDGER_GEMM_EX_TYPED(cublasCgemmEx, int, cuComplex)
FLOPLEDGER_GEMM_EX_TYPED(cublasCgemmEx_64, int64_t, cuComplex)
FLOPLEDGER_GEMM_EX_TYPED(cublasCgemm3mEx, int, cuComplex)
FLOPLEDGER_GEMM_EX_TYPED(cublasCgemm3mEx_64, int64_t, cuComplex)

// ---- cublasGemm*Ex: data and compute types as arguments ---------------------------------------

#define FLOPLEDGER_GEMM_EX(NAME, INT)                                                              \
  FLOPLEDGER_CUBLAS_HOOK(                                                                          \
      NAME,                                                                                        \
      (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, INT m, INT n,    \
       INT k, const void *alpha, const void *A, cudaDataType Atype, INT lda, const void *B,        \
       cudaDataType Btype, INT ldb, const void *beta, void *C, cudaDataType Ctype, INT ldc,        \
       cublasComputeType_t computeType, cublasGemmAlgo_t algo),                                    \
      (handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc,  \
       computeType, algo),                                                                         \
      typed_ex(m, n, k, 1, computeType, Atype))

#define FLOPLEDGER_GEMM_BATCHED_EX(NAME, INT)                                                      \
  FLOPLEDGER_CUBLAS_HOOK(NAME,                                                                     \
                         (cublasHandle_t handle, cublasOperation_t transa,                         \
                          cublasOperation_t transb, INT m, INT n, INT k, const void *alpha,        \
                          const void *const Aarray[], cudaDataType Atype, INT lda,                 \
                          const void *const Barray[], cudaDataType Btype, INT ldb,                 \
                          const void *beta, void *const Carray[], cudaDataType Ctype, INT ldc,     \
                          INT batchCount, cublasComputeType_t computeType, cublasGemmAlgo_t algo), \
                         (handle, transa, transb, m, n, k, alpha, Aarray, Atype, lda, Barray,      \
                          Btype, ldb, beta, Carray, Ctype, ldc, batchCount, computeType, algo),    \
                         typed_ex(m, n, k, batchCount, computeType, Atype))

#define FLOPLEDGER_GEMM_STRIDED_EX(NAME, INT)                                                      \
  FLOPLEDGER_CUBLAS_HOOK(                                                                          \
      NAME,                                                                                        \
      (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, INT m, INT n,    \
       INT k, const void *alpha, const void *A, cudaDataType Atype, INT lda,                       \
       long long int strideA, const void *B, cudaDataType Btype, INT ldb, long long int strideB,   \
       const void *beta, void *C, cudaDataType Ctype, INT ldc, long long int strideC,              \
       INT batchCount, cublasComputeType_t computeType, cublasGemmAlgo_t algo),                    \
      (handle, transa, transb, m, n, k, alpha, A, Atype, lda, strideA, B, Btype, ldb, strideB,     \
       beta, C, Ctype, ldc, strideC, batchCount, computeType, algo),                               \
      typed_ex(m, n, k, batchCount, computeType, Atype))

#define FLOPLEDGER_GEMM_GROUPED_EX(NAME, INT)                                                      \
  FLOPLEDGER_CUBLAS_HOOK(                                                                          \
      NAME,                                                                                        \
      (cublasHandle_t handle, const cublasOperation_t transa_array[],                              \
       const cublasOperation_t transb_array[], const INT m_array[], const INT n_array[],           \
       const INT k_array[], const void *alpha_array, const void *const Aarray[],                   \
       cudaDataType_t Atype, const INT lda_array[], const void *const Barray[],                    \
       cudaDataType_t Btype, const INT ldb_array[], const void *beta_array, void *const Carray[],  \
       cudaDataType_t Ctype, const INT ldc_array[], INT group_count, const INT group_size[],       \
       cublasComputeType_t computeType),                                                           \
      (handle, transa_array, transb_array, m_array, n_array, k_array, alpha_array, Aarray, Atype,  \
       lda_array, Barray, Btype, ldb_array, beta_array, Carray, Ctype, ldc_array, group_count,     \
       group_size, computeType),                                                                   \
      (Planned{                                                                                    \
          grouped_gemm_flops(m_array, n_array, k_array, group_size, group_count, field_of(Atype)), \
          precision_of(computeType, Atype)}))

FLOPLEDGER_GEMM_EX(cublasGemmEx, int)
FLOPLEDGER_GEMM_EX(cublasGemmEx_64, int64_t)
FLOPLEDGER_GEMM_BATCHED_EX(cublasGemmBatchedEx, int)
FLOPLEDGER_GEMM_BATCHED_EX(cublasGemmBatchedEx_64, int64_t)
FLOPLEDGER_GEMM_STRIDED_EX(cublasGemmStridedBatchedEx, int)
FLOPLEDGER_GEMM_STRIDED_EX(cublasGemmStridedBatchedEx_64, int64_t)
FLOPLEDGER_GEMM_GROUPED_EX(cublasGemmGroupedBatchedEx, int)
FLOPLEDGER_GEMM_GROUPED_EX(cublasGemmGroupedBatchedEx_64, int64_t)
