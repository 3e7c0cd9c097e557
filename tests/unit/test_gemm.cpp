#include <doctest/doctest.h>

#include "u128_printer.hpp"

#include <cstdint>
#include <limits>

#include "accounting/gemm.hpp"

using namespace flopledger;

namespace {

constexpr std::int64_t kMaxInt32 = std::numeric_limits<std::int32_t>::max();
constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();

// cblas.h values
constexpr int kRowMajor = 101, kColMajor = 102;
constexpr int kNoTrans = 111, kTrans = 112, kConjTrans = 113;

} // namespace

TEST_CASE("gemm_flops: 2mnk real, 8mnk complex") {
  CHECK(gemm_flops(2, 3, 4, Field::Real) == u128{48});
  CHECK(gemm_flops(2, 3, 4, Field::Complex) == u128{192});
  CHECK(gemm_flops(1, 1, 1, Field::Real) == u128{2});
  CHECK(gemm_flops(4096, 4096, 4096, Field::Real) == u128{137438953472});
}

TEST_CASE("gemm_flops: nothing to multiply gives zero") {
  CHECK(gemm_flops(0, 3, 4, Field::Real) == u128{0});
  CHECK(gemm_flops(2, 0, 4, Field::Complex) == u128{0});
  CHECK(gemm_flops(2, 3, 0, Field::Real) == u128{0});
  CHECK(gemm_flops(2, 3, 4, Field::Real, true) == u128{0});
  CHECK(gemm_flops(2, 3, 4, Field::Complex, true) == u128{0});
}

TEST_CASE("gemm_flops: negative dimensions are not countable") {
  CHECK_FALSE(gemm_flops(-1, 3, 4, Field::Real).has_value());
  CHECK_FALSE(gemm_flops(2, -3, 4, Field::Real).has_value());
  CHECK_FALSE(gemm_flops(2, 3, -4, Field::Complex).has_value());
  CHECK_FALSE(gemm_flops(-1, 3, 4, Field::Real, true).has_value()); // invalid even when alpha = 0
  CHECK_FALSE(gemm_flops(0, -1, 4, Field::Real).has_value());
}

TEST_CASE("gemm_flops is exact for the largest 32-bit shapes") {
  // 2 * (2^31-1)^3 needs 94 bits.
  const u128 side = static_cast<u128>(kMaxInt32);
  CHECK(gemm_flops(kMaxInt32, kMaxInt32, kMaxInt32, Field::Real) == 2 * side * side * side);
  CHECK(to_decimal(*gemm_flops(kMaxInt32, kMaxInt32, kMaxInt32, Field::Real)) ==
        "19807040600895968300706562046");
  CHECK(gemm_flops(kMaxInt32, kMaxInt32, kMaxInt32, Field::Complex) == 8 * side * side * side);
}

TEST_CASE("gemm_flops and gemv_flops refuse counts above 2^128-1") {
  CHECK_FALSE(gemm_flops(kMaxInt64, kMaxInt64, kMaxInt64, Field::Real).has_value());
  CHECK_FALSE(gemv_flops(kMaxInt64, kMaxInt64, Field::Complex).has_value());
  // (2^63-1)^2 * 2 < 2^127: fits
  const u128 side = static_cast<u128>(kMaxInt64);
  CHECK(gemv_flops(kMaxInt64, kMaxInt64, Field::Real) == 2 * side * side);
}

TEST_CASE("the 64-bit fast path of gemm_flops agrees with the 128-bit path at its edges") {
  const std::int64_t edge = std::int64_t{1} << 21;
  for (std::int64_t m : {std::int64_t{0}, std::int64_t{1}, edge - 1, edge, edge + 1})
    for (std::int64_t n : {std::int64_t{3}, edge - 1, edge})
      for (std::int64_t k : {std::int64_t{7}, edge - 1, edge})
        for (Field field : {Field::Real, Field::Complex})
          for (bool alpha_is_zero : {false, true}) {
            CAPTURE(m);
            CAPTURE(n);
            CAPTURE(k);
            CHECK(gemm_flops(m, n, k, field, alpha_is_zero) ==
                  detail::gemm_flops_checked(m, n, k, field, alpha_is_zero));
          }
  // (2^21-1)^3 * 8, computed by hand: 8 * 9223358842721533951.
  CHECK(*gemm_flops(edge - 1, edge - 1, edge - 1, Field::Complex) ==
        static_cast<u128>(9223358842721533951ULL) * 8);
}

TEST_CASE("batched_gemm_flops multiplies by the batch count") {
  CHECK(batched_gemm_flops(2, 3, 4, 10, Field::Real) == u128{480});
  CHECK(batched_gemm_flops(2, 3, 4, 10, Field::Complex) == u128{1920});
  CHECK(batched_gemm_flops(2, 3, 4, 0, Field::Real) == u128{0});
  CHECK(batched_gemm_flops(2, 3, 4, 10, Field::Real, true) == u128{0});
  CHECK_FALSE(batched_gemm_flops(2, 3, 4, -1, Field::Real).has_value());
  CHECK_FALSE(batched_gemm_flops(-2, 3, 4, 1, Field::Real).has_value());
  // An empty batch of enormous matrices is zero, not an overflow.
  CHECK(batched_gemm_flops(kMaxInt64, kMaxInt64, kMaxInt64, 0, Field::Real) == u128{0});

  const u128 side = static_cast<u128>(kMaxInt32);
  CHECK(batched_gemm_flops(kMaxInt32, kMaxInt32, kMaxInt32, kMaxInt32, Field::Real) ==
        2 * side * side * side * side);
  CHECK_FALSE(batched_gemm_flops(kMaxInt64, kMaxInt64, 2, 2, Field::Real).has_value());
  CHECK_FALSE(
      batched_gemm_flops(kMaxInt32, kMaxInt32, kMaxInt32, kMaxInt64, Field::Real).has_value());
}

TEST_CASE("gemv_flops: 2mn real, 8mn complex") {
  CHECK(gemv_flops(3, 5, Field::Real) == u128{30});
  CHECK(gemv_flops(3, 5, Field::Complex) == u128{120});
  CHECK(gemv_flops(0, 5, Field::Real) == u128{0});
  CHECK(gemv_flops(3, 0, Field::Real) == u128{0});
  CHECK(gemv_flops(3, 5, Field::Real, true) == u128{0});
  CHECK_FALSE(gemv_flops(-3, 5, Field::Real).has_value());
  CHECK_FALSE(gemv_flops(3, -5, Field::Complex).has_value());
}

TEST_CASE("fortran_gemm_args_valid follows the reference BLAS checks") {
  // m=2 n=3 k=4. NN: A is 2x4 (lda>=2), B is 4x3 (ldb>=4), C 2x3 (ldc>=2).
  CHECK(fortran_gemm_args_valid('N', 'N', 2, 3, 4, 2, 4, 2));
  CHECK(fortran_gemm_args_valid('n', 'n', 2, 3, 4, 2, 4, 2));
  CHECK(fortran_gemm_args_valid('N', 'N', 2, 3, 4, 100, 100, 100));
  CHECK_FALSE(fortran_gemm_args_valid('N', 'N', 2, 3, 4, 1, 4, 2)); // lda < m
  CHECK_FALSE(fortran_gemm_args_valid('N', 'N', 2, 3, 4, 2, 3, 2)); // ldb < k
  CHECK_FALSE(fortran_gemm_args_valid('N', 'N', 2, 3, 4, 2, 4, 1)); // ldc < m
  // TN: A stored 4x2 (lda>=k=4).
  CHECK(fortran_gemm_args_valid('T', 'N', 2, 3, 4, 4, 4, 2));
  CHECK(fortran_gemm_args_valid('t', 'N', 2, 3, 4, 4, 4, 2));
  CHECK_FALSE(fortran_gemm_args_valid('T', 'N', 2, 3, 4, 2, 4, 2));
  // CT: A stored 4x2 (lda>=4), B stored 3x4 (ldb>=n=3).
  CHECK(fortran_gemm_args_valid('C', 'T', 2, 3, 4, 4, 3, 2));
  CHECK(fortran_gemm_args_valid('c', 'C', 2, 3, 4, 4, 3, 2));
  CHECK_FALSE(fortran_gemm_args_valid('C', 'T', 2, 3, 4, 4, 2, 2));
  // Bad transpose characters.
  CHECK_FALSE(fortran_gemm_args_valid('X', 'N', 2, 3, 4, 2, 4, 2));
  CHECK_FALSE(fortran_gemm_args_valid('N', 'R', 2, 3, 4, 2, 4, 2));
  CHECK_FALSE(fortran_gemm_args_valid('\0', 'N', 2, 3, 4, 2, 4, 2));
  // Negative dimensions.
  CHECK_FALSE(fortran_gemm_args_valid('N', 'N', -1, 3, 4, 2, 4, 2));
  CHECK_FALSE(fortran_gemm_args_valid('N', 'N', 2, -1, 4, 2, 4, 2));
  CHECK_FALSE(fortran_gemm_args_valid('N', 'N', 2, 3, -1, 2, 4, 2));
  // Zero dimensions are valid, and leading dimensions must still be at least 1.
  CHECK(fortran_gemm_args_valid('N', 'N', 0, 0, 0, 1, 1, 1));
  CHECK_FALSE(fortran_gemm_args_valid('N', 'N', 0, 0, 0, 0, 1, 1));
  CHECK_FALSE(fortran_gemm_args_valid('N', 'N', 0, 0, 0, 1, 0, 1));
  CHECK_FALSE(fortran_gemm_args_valid('N', 'N', 0, 0, 0, 1, 1, 0));
}

TEST_CASE("fortran_gemv_args_valid follows the reference BLAS checks") {
  CHECK(fortran_gemv_args_valid('N', 3, 5, 3, 1, 1));
  CHECK(fortran_gemv_args_valid('t', 3, 5, 3, -1, 2)); // negative increments are legal
  CHECK(fortran_gemv_args_valid('C', 0, 0, 1, 1, 1));
  CHECK_FALSE(fortran_gemv_args_valid('Q', 3, 5, 3, 1, 1));
  CHECK_FALSE(fortran_gemv_args_valid('N', -3, 5, 3, 1, 1));
  CHECK_FALSE(fortran_gemv_args_valid('N', 3, -5, 3, 1, 1));
  CHECK_FALSE(fortran_gemv_args_valid('N', 3, 5, 2, 1, 1)); // lda < m, even transposed
  CHECK_FALSE(fortran_gemv_args_valid('T', 3, 5, 2, 1, 1));
  CHECK_FALSE(fortran_gemv_args_valid('N', 0, 5, 0, 1, 1)); // lda >= 1
  CHECK_FALSE(fortran_gemv_args_valid('N', 3, 5, 3, 0, 1));
  CHECK_FALSE(fortran_gemv_args_valid('N', 3, 5, 3, 1, 0));
}

TEST_CASE("cblas_gemm_args_valid, column major, is the Fortran rule") {
  // m=2 n=3 k=4
  CHECK(cblas_gemm_args_valid(kColMajor, kNoTrans, kNoTrans, 2, 3, 4, 2, 4, 2));
  CHECK_FALSE(cblas_gemm_args_valid(kColMajor, kNoTrans, kNoTrans, 2, 3, 4, 1, 4, 2));
  CHECK_FALSE(cblas_gemm_args_valid(kColMajor, kNoTrans, kNoTrans, 2, 3, 4, 2, 3, 2));
  CHECK_FALSE(cblas_gemm_args_valid(kColMajor, kNoTrans, kNoTrans, 2, 3, 4, 2, 4, 1));
  CHECK(cblas_gemm_args_valid(kColMajor, kTrans, kTrans, 2, 3, 4, 4, 3, 2));
  CHECK(cblas_gemm_args_valid(kColMajor, kConjTrans, kConjTrans, 2, 3, 4, 4, 3, 2));
  CHECK_FALSE(cblas_gemm_args_valid(kColMajor, kTrans, kNoTrans, 2, 3, 4, 2, 4, 2)); // lda < k
  CHECK_FALSE(cblas_gemm_args_valid(kColMajor, kNoTrans, kTrans, 2, 3, 4, 2, 2, 2)); // ldb < n
}

TEST_CASE("cblas_gemm_args_valid, row major, swaps the roles as reference CBLAS does") {
  // m=2 n=3 k=4. Row major NoTrans: A is 2x4 with lda>=k=4, B 4x3 with ldb>=n=3, C ldc>=n=3.
  CHECK(cblas_gemm_args_valid(kRowMajor, kNoTrans, kNoTrans, 2, 3, 4, 4, 3, 3));
  CHECK_FALSE(cblas_gemm_args_valid(kRowMajor, kNoTrans, kNoTrans, 2, 3, 4, 3, 3, 3)); // lda < k
  CHECK_FALSE(cblas_gemm_args_valid(kRowMajor, kNoTrans, kNoTrans, 2, 3, 4, 4, 2, 3)); // ldb < n
  CHECK_FALSE(cblas_gemm_args_valid(kRowMajor, kNoTrans, kNoTrans, 2, 3, 4, 4, 3, 2)); // ldc < n
  // The column-major leading dimensions are wrong in row major.
  CHECK_FALSE(cblas_gemm_args_valid(kRowMajor, kNoTrans, kNoTrans, 2, 3, 4, 2, 4, 2));
  // Trans A: A stored 4x2 with lda>=m=2; Trans B: B stored 3x4 with ldb>=k=4.
  CHECK(cblas_gemm_args_valid(kRowMajor, kTrans, kTrans, 2, 3, 4, 2, 4, 3));
  CHECK(cblas_gemm_args_valid(kRowMajor, kConjTrans, kNoTrans, 2, 3, 4, 2, 3, 3));
  CHECK_FALSE(cblas_gemm_args_valid(kRowMajor, kTrans, kNoTrans, 2, 3, 4, 1, 3, 3)); // lda < m
  CHECK_FALSE(cblas_gemm_args_valid(kRowMajor, kNoTrans, kTrans, 2, 3, 4, 4, 3, 3)); // ldb < k
  // Negative dimensions, each of them.
  CHECK_FALSE(cblas_gemm_args_valid(kRowMajor, kNoTrans, kNoTrans, -2, 3, 4, 4, 3, 3));
  CHECK_FALSE(cblas_gemm_args_valid(kRowMajor, kNoTrans, kNoTrans, 2, -3, 4, 4, 3, 3));
  CHECK_FALSE(cblas_gemm_args_valid(kRowMajor, kNoTrans, kNoTrans, 2, 3, -4, 4, 3, 3));
  // Empty matrices: leading dimensions still at least 1.
  CHECK(cblas_gemm_args_valid(kRowMajor, kNoTrans, kNoTrans, 0, 0, 0, 1, 1, 1));
  CHECK_FALSE(cblas_gemm_args_valid(kRowMajor, kNoTrans, kNoTrans, 0, 0, 0, 1, 1, 0));
}

TEST_CASE("cblas_gemm_args_valid rejects bad layout and transpose values") {
  CHECK_FALSE(cblas_gemm_args_valid(100, kNoTrans, kNoTrans, 2, 3, 4, 4, 4, 4));
  CHECK_FALSE(cblas_gemm_args_valid(103, kNoTrans, kNoTrans, 2, 3, 4, 4, 4, 4));
  CHECK_FALSE(cblas_gemm_args_valid(0, kNoTrans, kNoTrans, 2, 3, 4, 4, 4, 4));
  CHECK_FALSE(cblas_gemm_args_valid(kColMajor, 110, kNoTrans, 2, 3, 4, 4, 4, 4));
  CHECK_FALSE(cblas_gemm_args_valid(kColMajor, kNoTrans, 114, 2, 3, 4, 4, 4, 4));
  CHECK_FALSE(cblas_gemm_args_valid(kRowMajor, 'N', kNoTrans, 2, 3, 4, 4, 4, 4));
  CHECK(cblas_gemm_args_valid(kColMajor, kNoTrans, kNoTrans, 2, 3, 4, 4, 4, 4));
}

TEST_CASE("grouped_gemm_flops: sum over groups of group_size * 2mnk (8mnk complex)") {
  const int m[] = {2, 5, 7}, n[] = {3, 1, 11}, k[] = {4, 6, 13}, size[] = {3, 2, 1};
  // 3*2*24 + 2*2*30 + 1*2*1001
  CHECK(grouped_gemm_flops(m, n, k, size, 3, Field::Real) == u128{144 + 120 + 2002});
  CHECK(grouped_gemm_flops(m, n, k, size, 3, Field::Complex) == u128{4 * (144 + 120 + 2002)});
  CHECK(grouped_gemm_flops(m, n, k, size, 1, Field::Real) == u128{144});
  CHECK(grouped_gemm_flops<int>(nullptr, nullptr, nullptr, nullptr, 0, Field::Real) == u128{0});
  const std::int64_t m64[] = {1 << 20, 3}, n64[] = {1 << 20, 3}, k64[] = {1 << 20, 3},
                     size64[] = {1000, 0};
  CHECK(grouped_gemm_flops(m64, n64, k64, size64, 2, Field::Real) == u128{2000} * (u128{1} << 60));
}

TEST_CASE("grouped_gemm_flops: what cuBLAS rejects is never counted") {
  const int m[] = {2, -1}, n[] = {3, 3}, k[] = {4, 4}, size[] = {1, 1}, bad_size[] = {1, -2};
  CHECK_FALSE(grouped_gemm_flops(m, n, k, size, 2, Field::Real).has_value());
  CHECK(grouped_gemm_flops(m, n, k, size, 1, Field::Real) == u128{48});
  CHECK_FALSE(grouped_gemm_flops(n, n, k, bad_size, 2, Field::Real).has_value());
  CHECK_FALSE(grouped_gemm_flops(m, n, k, size, -1, Field::Real).has_value());
  CHECK_FALSE(grouped_gemm_flops<int>(nullptr, n, k, size, 1, Field::Real).has_value());
  const std::int64_t big[] = {kMaxInt64, kMaxInt64}, size2[] = {kMaxInt64, kMaxInt64};
  CHECK_FALSE(grouped_gemm_flops(big, big, big, size2, 2, Field::Real).has_value());
}

TEST_CASE("batched_gemm_flops: the inline fast path agrees with the checked computation") {
  constexpr std::int64_t kEdge = (std::int64_t{1} << 21) - 1, kBatchEdge = kMaxInt32;
  for (std::int64_t m : {std::int64_t{0}, std::int64_t{1}, kEdge, kEdge + 1})
    for (std::int64_t batch : {std::int64_t{0}, std::int64_t{3}, kBatchEdge, kBatchEdge + 1})
      for (Field field : {Field::Real, Field::Complex}) {
        CHECK(batched_gemm_flops(m, kEdge, 7, batch, field) ==
              detail::batched_gemm_flops_checked(m, kEdge, 7, batch, field, false));
      }
  CHECK(batched_gemm_flops(kEdge, kEdge, kEdge, kBatchEdge, Field::Complex) ==
        u128{8} * static_cast<u128>(kEdge) * static_cast<u128>(kEdge) * static_cast<u128>(kEdge) *
            static_cast<u128>(kBatchEdge));
  CHECK_FALSE(batched_gemm_flops(2, 3, 4, -1, Field::Real).has_value());
}
