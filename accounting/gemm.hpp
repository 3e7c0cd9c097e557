// FLOP formulas of the hooked operations. One multiply-add is 2 FLOP (real) or 8 FLOP (complex:
// four real multiplies and four real adds). Results are exact; arguments that BLAS would reject
// give std::nullopt so that a failed call is never counted.
#pragma once

#include <cstdint>
#include <optional>

#include "accounting/exact.hpp"

namespace flopledger {

enum class Field { Real, Complex };

namespace detail {
/// The general, overflow-checked computation behind gemm_flops.
std::optional<u128> gemm_flops_checked(std::int64_t m, std::int64_t n, std::int64_t k, Field field,
                                       bool alpha_is_zero);
} // namespace detail

/// FLOPs of C = alpha*op(A)*op(B) + beta*C with op(A) m x k and op(B) k x n:
/// 2*m*n*k (real) or 8*m*n*k (complex). Zero when m, n or k is zero, or when `alpha_is_zero`
/// (BLAS then only scales C: no multiply-add). nullopt when m, n or k is negative, or when the
/// count would exceed 2^128-1 (possible only with 64-bit sizes).
/// Inline, with a 64-bit fast path for sizes below 2^21 (m*n*k < 2^63): every hooked call
/// computes this, and the general 128-bit path costs about 200 instructions.
inline std::optional<u128> gemm_flops(std::int64_t m, std::int64_t n, std::int64_t k, Field field,
                                      bool alpha_is_zero = false) {
  constexpr std::int64_t kFast = std::int64_t{1} << 21;
  if (m >= 0 && n >= 0 && k >= 0 && m < kFast && n < kFast && k < kFast) {
    if (alpha_is_zero) return u128{0};
    const auto product = static_cast<std::uint64_t>(m * n * k);
    return static_cast<u128>(product) * (field == Field::Real ? 2u : 8u);
  }
  return detail::gemm_flops_checked(m, n, k, field, alpha_is_zero);
}

namespace detail {
/// The general, overflow-checked computation behind batched_gemm_flops.
std::optional<u128> batched_gemm_flops_checked(std::int64_t m, std::int64_t n, std::int64_t k,
                                               std::int64_t batch, Field field, bool alpha_is_zero);
} // namespace detail

/// `batch` GEMMs of the same shape: batch * gemm_flops(...). nullopt when batch is negative or
/// any shape argument is, or when the product exceeds 2^128-1.
/// Inline, with the fast path of gemm_flops and batch counts below 2^31 (the product is then
/// below 2^97): the cuBLAS hooks compute this on every call.
inline std::optional<u128> batched_gemm_flops(std::int64_t m, std::int64_t n, std::int64_t k,
                                              std::int64_t batch, Field field,
                                              bool alpha_is_zero = false) {
  constexpr std::int64_t kFast = std::int64_t{1} << 21, kFastBatch = std::int64_t{1} << 31;
  if (m >= 0 && n >= 0 && k >= 0 && m < kFast && n < kFast && k < kFast && batch >= 0 &&
      batch < kFastBatch) {
    if (alpha_is_zero) return u128{0};
    const auto product = static_cast<std::uint64_t>(m * n * k);
    return static_cast<u128>(product) * static_cast<std::uint64_t>(batch) *
           (field == Field::Real ? 2u : 8u);
  }
  return detail::batched_gemm_flops_checked(m, n, k, batch, field, alpha_is_zero);
}

/// Grouped batched GEMM (cuBLAS ?gemmGroupedBatched, cublasGemmGroupedBatchedEx): group g holds
/// group_size[g] GEMMs of shape m[g] x n[g] x k[g], so the FLOPs are the sum over groups of
/// group_size[g] * gemm_flops(m[g], n[g], k[g]). nullopt when group_count or any size is
/// negative, when a needed array is null, or when the sum exceeds 2^128-1. Zero groups: 0.
template <typename Int>
std::optional<u128> grouped_gemm_flops(const Int *m, const Int *n, const Int *k,
                                       const Int *group_size, std::int64_t group_count,
                                       Field field) {
  if (group_count < 0) return std::nullopt;
  if (group_count > 0 && (m == nullptr || n == nullptr || k == nullptr || group_size == nullptr))
    return std::nullopt;
  u128 total = 0;
  for (std::int64_t g = 0; g < group_count; ++g) {
    const std::optional<u128> group = batched_gemm_flops(m[g], n[g], k[g], group_size[g], field);
    if (!group || !checked_add(total, *group, total)) return std::nullopt;
  }
  return total;
}

/// FLOPs of y = alpha*op(A)*x + beta*y with A m x n: 2*m*n (real) or 8*m*n (complex); zero when m
/// or n is zero or alpha is zero. nullopt when m or n is negative, or (as above) on overflow.
std::optional<u128> gemv_flops(std::int64_t m, std::int64_t n, Field field,
                               bool alpha_is_zero = false);

namespace detail {
// CBLAS enum values (cblas.h): fixed by the CBLAS standard, so spelled out rather than included.
constexpr int kCblasRowMajor = 101;
constexpr int kCblasColMajor = 102;
constexpr int kCblasNoTrans = 111;
constexpr int kCblasTrans = 112;
constexpr int kCblasConjTrans = 113;

inline bool is_trans_char(char c) {
  return c == 'N' || c == 'n' || c == 'T' || c == 't' || c == 'C' || c == 'c';
}
inline bool is_no_trans(char c) {
  return c == 'N' || c == 'n';
}
inline std::int64_t at_least_one(std::int64_t v) {
  return v > 1 ? v : 1;
}
// The Fortran character that reference CBLAS passes on for a CBLAS_TRANSPOSE value, or 0.
inline char fortran_trans(int cblas_trans) {
  switch (cblas_trans) {
  case kCblasNoTrans:
    return 'N';
  case kCblasTrans:
    return 'T';
  case kCblasConjTrans:
    return 'C';
  default:
    return 0;
  }
}
} // namespace detail

// The argument checks below are inline: every hooked call runs one (docs/performance.md).

/// Checks a Fortran BLAS ?gemm call the way the reference BLAS does (xerbla cases):
/// transa/transb in "NnTtCc", m, n, k >= 0, lda >= max(1, nrowa), ldb >= max(1, nrowb),
/// ldc >= max(1, m), where nrowa = m if transa is N else k, nrowb = k if transb is N else n.
/// Returns true when BLAS would perform the call.
inline bool fortran_gemm_args_valid(char transa, char transb, std::int64_t m, std::int64_t n,
                                    std::int64_t k, std::int64_t lda, std::int64_t ldb,
                                    std::int64_t ldc) {
  using namespace detail;
  if (!is_trans_char(transa) || !is_trans_char(transb)) return false;
  if (m < 0 || n < 0 || k < 0) return false;
  const std::int64_t nrowa = is_no_trans(transa) ? m : k;
  const std::int64_t nrowb = is_no_trans(transb) ? k : n;
  return lda >= at_least_one(nrowa) && ldb >= at_least_one(nrowb) && ldc >= at_least_one(m);
}

/// Same for ?gemv: trans in "NnTtCc", m, n >= 0, lda >= max(1, m), incx != 0, incy != 0.
inline bool fortran_gemv_args_valid(char trans, std::int64_t m, std::int64_t n, std::int64_t lda,
                                    std::int64_t incx, std::int64_t incy) {
  using namespace detail;
  return is_trans_char(trans) && m >= 0 && n >= 0 && lda >= at_least_one(m) && incx != 0 &&
         incy != 0;
}

/// Same for cblas_?gemm. layout: 101 (row major) or 102 (column major); trans: 111 (N),
/// 112 (T), 113 (C). Leading dimensions are checked against the layout as CBLAS does.
inline bool cblas_gemm_args_valid(int layout, int transa, int transb, std::int64_t m,
                                  std::int64_t n, std::int64_t k, std::int64_t lda,
                                  std::int64_t ldb, std::int64_t ldc) {
  using namespace detail;
  const char ta = fortran_trans(transa);
  const char tb = fortran_trans(transb);
  if (ta == 0 || tb == 0) return false;
  if (layout == kCblasColMajor) return fortran_gemm_args_valid(ta, tb, m, n, k, lda, ldb, ldc);
  // Reference CBLAS computes a row-major C = op(A) op(B) as the column-major C^T = op(B)^T op(A)^T:
  // B and A swap places, and so do m and n.
  if (layout == kCblasRowMajor) return fortran_gemm_args_valid(tb, ta, n, m, k, ldb, lda, ldc);
  return false;
}

} // namespace flopledger
