#include "accounting/gemm.hpp"

#include <algorithm>
#include <initializer_list>

namespace flopledger {
namespace {

// CBLAS enum values (cblas.h): fixed by the CBLAS standard, so spelled out rather than included.
constexpr int kCblasRowMajor = 101;
constexpr int kCblasColMajor = 102;
constexpr int kCblasNoTrans = 111;
constexpr int kCblasTrans = 112;
constexpr int kCblasConjTrans = 113;

u128 flops_per_multiply_add(Field field) {
  return field == Field::Real ? 2 : 8;
}

// FLOPs of (product of `dims`) multiply-adds; nullopt on a negative dimension or when the count
// does not fit 128 bits.
std::optional<u128> count(std::initializer_list<std::int64_t> dims, Field field,
                          bool alpha_is_zero) {
  for (std::int64_t d : dims)
    if (d < 0) return std::nullopt;
  if (alpha_is_zero) return u128{0};
  for (std::int64_t d : dims) // before multiplying: a zero must win over an overflowing product
    if (d == 0) return u128{0};
  u128 total = flops_per_multiply_add(field);
  for (std::int64_t d : dims)
    if (!checked_mul(total, static_cast<u128>(d), total)) return std::nullopt;
  return total;
}

bool is_trans_char(char c) {
  return c == 'N' || c == 'n' || c == 'T' || c == 't' || c == 'C' || c == 'c';
}
bool is_no_trans(char c) {
  return c == 'N' || c == 'n';
}

// The Fortran character that reference CBLAS passes on for a CBLAS_TRANSPOSE value, or 0.
char fortran_trans(int cblas_trans) {
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

} // namespace

std::optional<u128> detail::gemm_flops_checked(std::int64_t m, std::int64_t n, std::int64_t k,
                                               Field field, bool alpha_is_zero) {
  return count({m, n, k}, field, alpha_is_zero);
}

std::optional<u128> detail::batched_gemm_flops_checked(std::int64_t m, std::int64_t n,
                                                       std::int64_t k, std::int64_t batch,
                                                       Field field, bool alpha_is_zero) {
  return count({m, n, k, batch}, field, alpha_is_zero);
}

std::optional<u128> gemv_flops(std::int64_t m, std::int64_t n, Field field, bool alpha_is_zero) {
  return count({m, n}, field, alpha_is_zero);
}

bool fortran_gemm_args_valid(char transa, char transb, std::int64_t m, std::int64_t n,
                             std::int64_t k, std::int64_t lda, std::int64_t ldb, std::int64_t ldc) {
  if (!is_trans_char(transa) || !is_trans_char(transb)) return false;
  if (m < 0 || n < 0 || k < 0) return false;
  const std::int64_t nrowa = is_no_trans(transa) ? m : k;
  const std::int64_t nrowb = is_no_trans(transb) ? k : n;
  return lda >= std::max<std::int64_t>(1, nrowa) && ldb >= std::max<std::int64_t>(1, nrowb) &&
         ldc >= std::max<std::int64_t>(1, m);
}

bool fortran_gemv_args_valid(char trans, std::int64_t m, std::int64_t n, std::int64_t lda,
                             std::int64_t incx, std::int64_t incy) {
  return is_trans_char(trans) && m >= 0 && n >= 0 && lda >= std::max<std::int64_t>(1, m) &&
         incx != 0 && incy != 0;
}

bool cblas_gemm_args_valid(int layout, int transa, int transb, std::int64_t m, std::int64_t n,
                           std::int64_t k, std::int64_t lda, std::int64_t ldb, std::int64_t ldc) {
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
