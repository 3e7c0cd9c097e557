// The legacy (v1) cuBLAS GEMMs of cublas.h: no handle, no status (errors go to cublasGetError,
// which clears them, so the hook must not call it). A call is counted when the real function is
// found and its arguments are ones cuBLAS accepts (the reference BLAS checks, as for ?gemm_); a
// call made before cublasInit cannot be told apart and is counted. See docs/gpu.md.
#pragma GCC visibility push(default)
#include <cublas.h>
#pragma GCC visibility pop

#include <atomic>
#include <cstdint>
#include <optional>

#include "accounting/gemm.hpp"
#include "hook_support.hpp"

#define FLOPLEDGER_EXPORT extern "C" __attribute__((visibility("default")))

using namespace flopledger;
using namespace flopledger::runtime::gpu;

#define FLOPLEDGER_LEGACY_GEMM(NAME, T, PRECISION, FIELD)                                          \
  FLOPLEDGER_EXPORT void NAME(char transa, char transb, int m, int n, int k, T alpha, const T *A,  \
                              int lda, const T *B, int ldb, T beta, T *C, int ldc) {               \
    using Fn =                                                                                     \
        void (*)(char, char, int, int, int, T, const T *, int, const T *, int, T, T *, int);       \
    static std::atomic<Fn> real{nullptr};                                                          \
    const bool valid = fortran_gemm_args_valid(transa, transb, m, n, k, lda, ldb, ldc);            \
    const Planned plan{valid ? gemm_flops(m, n, k, FIELD) : std::nullopt, PRECISION};              \
    metered(                                                                                       \
        FLOPLEDGER_SOURCE_CUBLAS, plan, [] { return std::uintptr_t{0}; },                          \
        [&] {                                                                                      \
          const Fn fn = real_function(real, #NAME, Library::Cublas);                               \
          if (fn == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;                                 \
          fn(transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);                        \
          return CUBLAS_STATUS_SUCCESS;                                                            \
        });                                                                                        \
  }

FLOPLEDGER_LEGACY_GEMM(cublasSgemm, float, FLOPLEDGER_PRECISION_FP32, Field::Real)
FLOPLEDGER_LEGACY_GEMM(cublasDgemm, double, FLOPLEDGER_PRECISION_FP64, Field::Real)
FLOPLEDGER_LEGACY_GEMM(cublasCgemm, cuComplex, FLOPLEDGER_PRECISION_FP32, Field::Complex)
FLOPLEDGER_LEGACY_GEMM(cublasZgemm, cuDoubleComplex, FLOPLEDGER_PRECISION_FP64, Field::Complex)
