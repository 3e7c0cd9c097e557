// Reads what a cublasLtMatmul call will compute from its descriptors, through the library's own
// getters (the descriptors are opaque): D (m x n) = op(A) (m x k) * op(B) (k x n), batch times.
#pragma once

#include <cstdint>
#include <optional>

#include <cublasLt.h>

#include "accounting/exact.hpp"
#include "flopledger/tags.h"

namespace flopledger::runtime::gpu {

/// The two getters of the cuBLASLt library that owns the descriptors (the real library's, found
/// at run time in production; the linked library's in the tests).
struct LtGetters {
  cublasStatus_t (*desc_get)(cublasLtMatmulDesc_t, cublasLtMatmulDescAttributes_t, void *, size_t,
                             size_t *) = nullptr;
  cublasStatus_t (*layout_get)(cublasLtMatrixLayout_t, cublasLtMatrixLayoutAttribute_t, void *,
                               size_t, size_t *) = nullptr;
};

struct LtMatmul {
  std::int64_t m = 0, n = 0, k = 0, batch = 1;
  cublasOperation_t transa = CUBLAS_OP_N, transb = CUBLAS_OP_N;
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  cudaDataType_t scale_type = CUDA_R_32F;
  cudaDataType_t a_type = CUDA_R_32F, b_type = CUDA_R_32F, c_type = CUDA_R_32F, d_type = CUDA_R_32F;
  flopledger_precision precision = FLOPLEDGER_PRECISION_OTHER;
  u128 flops = 0; ///< 2*m*n*k*batch (real) or 8*m*n*k*batch (complex)
};

/// Decodes a cublasLtMatmul call: m and n from D's layout, k from A's (its columns when A is not
/// transposed, its rows otherwise), the batch count from D's layout, the transposes, compute and
/// scale types from the matmul descriptor, the four data types from the layouts. nullopt when a
/// descriptor is null, a getter fails, or the shapes disagree (op(B) must be k x n, op(A) m x k,
/// C like D, batch counts of A, B and C 1 or D's): cuBLASLt rejects such a call.
std::optional<LtMatmul> decode_lt_matmul(const LtGetters &getters, cublasLtMatmulDesc_t desc,
                                         cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                         cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d);

/// What the hook needs, with the fewest getter calls (eight): the FLOPs and precision class from
/// TRANSA and COMPUTE_TYPE, A's rows, columns and type, D's rows, columns and batch count. B and C
/// are not read: a call whose shapes disagree fails in cuBLASLt and is not counted anyway.
/// nullopt when a descriptor is null or a getter fails. Agrees with decode_lt_matmul on every
/// call cuBLASLt accepts.
struct LtFlops {
  u128 flops = 0;
  flopledger_precision precision = FLOPLEDGER_PRECISION_OTHER;
};
std::optional<LtFlops> decode_lt_flops(const LtGetters &getters, cublasLtMatmulDesc_t desc,
                                       cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t d);

} // namespace flopledger::runtime::gpu
