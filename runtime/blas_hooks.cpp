// BLAS counter sources: the Fortran ?gemm_/?gemv_ symbols and the CBLAS cblas_?gemm functions.
// Each hook calls the real function first and counts only afterwards, only for arguments the
// library accepts (an invalid call ends in xerbla and computes nothing), and only at the
// outermost hooked level of the thread: a cblas_sgemm implemented on top of sgemm_ counts once.
#include <atomic>
#include <complex>
#include <cstddef>
#include <cstdint>

#include "accounting/gemm.hpp"
#include "counters.hpp"
#include "hook_guard.hpp"
#include "log.hpp"
#include "record.hpp"
#include "resolve.hpp"
#include "source.hpp"

#define FLOPLEDGER_EXPORT extern "C" __attribute__((visibility("default")))

namespace flopledger::runtime {
namespace {

const bool registered_blas =
    register_source({FLOPLEDGER_SOURCE_BLAS_GEMM, "sgemm_ dgemm_ cgemm_ zgemm_"}) &&
    register_source({FLOPLEDGER_SOURCE_BLAS_GEMV, "sgemv_ dgemv_"}) &&
    register_source(
        {FLOPLEDGER_SOURCE_CBLAS_GEMM, "cblas_sgemm cblas_dgemm cblas_cgemm cblas_zgemm"});

template <typename Fn> Fn real_function(std::atomic<Fn> &slot, const char *name) {
  Fn fn = slot.load(std::memory_order_acquire);
  if (fn != nullptr) return fn;
  fn = reinterpret_cast<Fn>(resolve_real_symbol(name));
  if (fn == nullptr) {
    // Unreachable for a program that linked: some loaded object defines the symbol it calls.
    log_line("fatal: no loaded library defines %s; cannot forward the call", name);
    __builtin_trap();
  }
  slot.store(fn, std::memory_order_release);
  return fn;
}

template <typename T> bool is_zero(const T *alpha) {
  return *alpha == T{};
}

using Fortran_len = std::size_t; // gfortran's hidden CHARACTER length arguments, forwarded as is

} // namespace
} // namespace flopledger::runtime

using namespace flopledger;
using namespace flopledger::runtime;

// ---- Fortran ?gemm_ --------------------------------------------------------------------------

#define FLOPLEDGER_FORTRAN_GEMM(NAME, T, PRECISION, FIELD)                                         \
  FLOPLEDGER_EXPORT void NAME(const char *transa, const char *transb, const int *m, const int *n,  \
                              const int *k, const T *alpha, const T *a, const int *lda,            \
                              const T *b, const int *ldb, const T *beta, T *c, const int *ldc,     \
                              Fortran_len transa_len, Fortran_len transb_len) {                    \
    using Fn = void (*)(const char *, const char *, const int *, const int *, const int *,         \
                        const T *, const T *, const int *, const T *, const int *, const T *, T *, \
                        const int *, Fortran_len, Fortran_len);                                    \
    static std::atomic<Fn> real{nullptr};                                                          \
    HookGuard guard;                                                                               \
    real_function(real, #NAME)(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,       \
                               transa_len, transb_len);                                            \
    if (!guard.outermost()) return;                                                                \
    if (!fortran_gemm_args_valid(*transa, *transb, *m, *n, *k, *lda, *ldb, *ldc)) return;          \
    record(FLOPLEDGER_SOURCE_BLAS_GEMM, PRECISION, gemm_flops(*m, *n, *k, FIELD, is_zero(alpha))); \
  }

FLOPLEDGER_FORTRAN_GEMM(sgemm_, float, FLOPLEDGER_PRECISION_FP32, Field::Real)
FLOPLEDGER_FORTRAN_GEMM(dgemm_, double, FLOPLEDGER_PRECISION_FP64, Field::Real)
FLOPLEDGER_FORTRAN_GEMM(cgemm_, std::complex<float>, FLOPLEDGER_PRECISION_FP32, Field::Complex)
FLOPLEDGER_FORTRAN_GEMM(zgemm_, std::complex<double>, FLOPLEDGER_PRECISION_FP64, Field::Complex)

// ---- Fortran ?gemv_ --------------------------------------------------------------------------

#define FLOPLEDGER_FORTRAN_GEMV(NAME, T, PRECISION)                                                \
  FLOPLEDGER_EXPORT void NAME(const char *trans, const int *m, const int *n, const T *alpha,       \
                              const T *a, const int *lda, const T *x, const int *incx,             \
                              const T *beta, T *y, const int *incy, Fortran_len trans_len) {       \
    using Fn = void (*)(const char *, const int *, const int *, const T *, const T *, const int *, \
                        const T *, const int *, const T *, T *, const int *, Fortran_len);         \
    static std::atomic<Fn> real{nullptr};                                                          \
    HookGuard guard;                                                                               \
    real_function(real, #NAME)(trans, m, n, alpha, a, lda, x, incx, beta, y, incy, trans_len);     \
    if (!guard.outermost()) return;                                                                \
    if (!fortran_gemv_args_valid(*trans, *m, *n, *lda, *incx, *incy)) return;                      \
    record(FLOPLEDGER_SOURCE_BLAS_GEMV, PRECISION,                                                 \
           gemv_flops(*m, *n, Field::Real, is_zero(alpha)));                                       \
  }

FLOPLEDGER_FORTRAN_GEMV(sgemv_, float, FLOPLEDGER_PRECISION_FP32)
FLOPLEDGER_FORTRAN_GEMV(dgemv_, double, FLOPLEDGER_PRECISION_FP64)

// ---- CBLAS ?gemm -----------------------------------------------------------------------------
// Enumerations are passed as int (their ABI); complex scalars by pointer, as CBLAS declares them.

#define FLOPLEDGER_CBLAS_GEMM(NAME, SCALAR, PTR, PRECISION, FIELD, ALPHA_IS_ZERO)                  \
  FLOPLEDGER_EXPORT void NAME(int layout, int transa, int transb, int m, int n, int k,             \
                              SCALAR alpha, const PTR *a, int lda, const PTR *b, int ldb,          \
                              SCALAR beta, PTR *c, int ldc) {                                      \
    using Fn = void (*)(int, int, int, int, int, int, SCALAR, const PTR *, int, const PTR *, int,  \
                        SCALAR, PTR *, int);                                                       \
    static std::atomic<Fn> real{nullptr};                                                          \
    HookGuard guard;                                                                               \
    real_function(real, #NAME)(layout, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c,    \
                               ldc);                                                               \
    if (!guard.outermost()) return;                                                                \
    if (!cblas_gemm_args_valid(layout, transa, transb, m, n, k, lda, ldb, ldc)) return;            \
    record(FLOPLEDGER_SOURCE_CBLAS_GEMM, PRECISION, gemm_flops(m, n, k, FIELD, ALPHA_IS_ZERO));    \
  }

FLOPLEDGER_CBLAS_GEMM(cblas_sgemm, float, float, FLOPLEDGER_PRECISION_FP32, Field::Real,
                      alpha == 0.0f)
FLOPLEDGER_CBLAS_GEMM(cblas_dgemm, double, double, FLOPLEDGER_PRECISION_FP64, Field::Real,
                      alpha == 0.0)
FLOPLEDGER_CBLAS_GEMM(cblas_cgemm, const void *, void, FLOPLEDGER_PRECISION_FP32, Field::Complex,
                      is_zero(static_cast<const std::complex<float> *>(alpha)))
FLOPLEDGER_CBLAS_GEMM(cblas_zgemm, const void *, void, FLOPLEDGER_PRECISION_FP64, Field::Complex,
                      is_zero(static_cast<const std::complex<double> *>(alpha)))
