#include "accounting/gemm.hpp"

#include <algorithm>
#include <initializer_list>

namespace flopledger {
namespace {

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

} // namespace flopledger
