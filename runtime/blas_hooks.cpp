// BLAS counter sources: the Fortran ?gemm_/?gemv_ symbols and the CBLAS cblas_?gemm functions.
// Each hook counts only after the real function returned, only for arguments the library accepts
// (an invalid call ends in xerbla and computes nothing), and only at the outermost hooked level
// of the thread: a cblas_sgemm implemented on top of sgemm_ counts once. The FLOPs are worked
// out from the (input-only) arguments before the call, so that only the result has to survive
// the call, not the argument pointers (docs/performance.md: half the hook's instructions were
// spills and reloads around the call).
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

// The first call of each hook: looks the real function up. Out of line and cold, so that the hook
// itself stays a load and an indirect call.
__attribute__((noinline, cold)) void *resolve_first(std::atomic<void *> &slot, const char *name) {
  void *fn = resolve_real_symbol(name);
  if (fn == nullptr) {
    // Unreachable for a program that linked: some loaded object defines the symbol it calls.
    log_line("fatal: no loaded library defines %s; cannot forward the call", name);
    __builtin_trap();
  }
  slot.store(fn, std::memory_order_release);
  return fn;
}

template <typename Fn> inline Fn real_function(std::atomic<void *> &slot, const char *name) {
  void *fn = slot.load(std::memory_order_acquire);
  if (__builtin_expect(fn == nullptr, 0)) fn = resolve_first(slot, name);
  return reinterpret_cast<Fn>(fn);
}

// What a hook counts once the real call returned, in one word so that only it has to survive
// the call: kNoCount (nothing: not the outermost hook, arguments BLAS rejects, counting off), a
// FLOP count up to 2^63, or kOversized (more than 2^63 FLOPs: counted as 2^63 and reported).
using Pending = std::uint64_t;
constexpr Pending kHotLimit = std::uint64_t{1} << 63;
constexpr Pending kOversized = kHotLimit + 1;
constexpr Pending kNoCount = ~std::uint64_t{0};

inline Pending pending(const std::optional<u128> &flops) {
  if (!flops) return kNoCount;
  return *flops > kHotLimit ? kOversized : static_cast<std::uint64_t>(*flops);
}

// Sizes below 2^20 (the rule, not the exception): m*n*k < 2^60, so even 8*m*n*k fits 63 bits.
constexpr std::int64_t kSmall = std::int64_t{1} << 20;

inline Pending pending_gemm(bool valid, std::int64_t m, std::int64_t n, std::int64_t k, Field field,
                            bool alpha_is_zero) {
  if (!valid || !counting_enabled()) return kNoCount;
  // valid: m, n, k >= 0.
  if (__builtin_expect(m < kSmall && n < kSmall && k < kSmall, 1))
    return alpha_is_zero ? 0
                         : static_cast<std::uint64_t>(m * n * k) * (field == Field::Real ? 2 : 8);
  return pending(gemm_flops(m, n, k, field, alpha_is_zero));
}

inline Pending pending_gemv(bool valid, std::int64_t m, std::int64_t n, bool alpha_is_zero) {
  if (!valid || !counting_enabled()) return kNoCount;
  if (__builtin_expect(m < kSmall && n < kSmall, 1))
    return alpha_is_zero ? 0 : static_cast<std::uint64_t>(m * n) * 2;
  return pending(gemv_flops(m, n, Field::Real, alpha_is_zero));
}

// record() for a Pending: counting_enabled() was checked before the call.
inline void record_pending(flopledger_source source, flopledger_precision precision, Pending p) {
  if (p == kNoCount) return;
  if (__builtin_expect(p > kHotLimit, 0)) {
    count_oversized_call();
    p = kHotLimit;
  }
  count(source, precision, p);
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
    static std::atomic<void *> real{nullptr};                                                      \
    HookGuard guard;                                                                               \
    const Pending p = guard.outermost()                                                            \
                          ? pending_gemm(fortran_gemm_args_valid(*transa, *transb, *m, *n, *k,     \
                                                                 *lda, *ldb, *ldc),                \
                                         *m, *n, *k, FIELD, is_zero(alpha))                        \
                          : kNoCount;                                                              \
    real_function<Fn>(real, #NAME)(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,   \
                                   transa_len, transb_len);                                        \
    record_pending(FLOPLEDGER_SOURCE_BLAS_GEMM, PRECISION, p);                                     \
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
    static std::atomic<void *> real{nullptr};                                                      \
    HookGuard guard;                                                                               \
    const Pending p =                                                                              \
        guard.outermost()                                                                          \
            ? pending_gemv(fortran_gemv_args_valid(*trans, *m, *n, *lda, *incx, *incy), *m, *n,    \
                           is_zero(alpha))                                                         \
            : kNoCount;                                                                            \
    real_function<Fn>(real, #NAME)(trans, m, n, alpha, a, lda, x, incx, beta, y, incy, trans_len); \
    record_pending(FLOPLEDGER_SOURCE_BLAS_GEMV, PRECISION, p);                                     \
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
    static std::atomic<void *> real{nullptr};                                                      \
    HookGuard guard;                                                                               \
    const Pending p =                                                                              \
        guard.outermost()                                                                          \
            ? pending_gemm(cblas_gemm_args_valid(layout, transa, transb, m, n, k, lda, ldb, ldc),  \
                           m, n, k, FIELD, ALPHA_IS_ZERO)                                          \
            : kNoCount;                                                                            \
    real_function<Fn>(real, #NAME)(layout, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta,   \
                                   c, ldc);                                                        \
    record_pending(FLOPLEDGER_SOURCE_CBLAS_GEMM, PRECISION, p);                                    \
  }

FLOPLEDGER_CBLAS_GEMM(cblas_sgemm, float, float, FLOPLEDGER_PRECISION_FP32, Field::Real,
                      alpha == 0.0f)
FLOPLEDGER_CBLAS_GEMM(cblas_dgemm, double, double, FLOPLEDGER_PRECISION_FP64, Field::Real,
                      alpha == 0.0)
FLOPLEDGER_CBLAS_GEMM(cblas_cgemm, const void *, void, FLOPLEDGER_PRECISION_FP32, Field::Complex,
                      is_zero(static_cast<const std::complex<float> *>(alpha)))
FLOPLEDGER_CBLAS_GEMM(cblas_zgemm, const void *, void, FLOPLEDGER_PRECISION_FP64, Field::Complex,
                      is_zero(static_cast<const std::complex<double> *>(alpha)))
