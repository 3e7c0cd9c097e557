// cublasLtMatmul decoding against the real libcublasLt.so.13 of the CUDA Toolkit: descriptors and
// layouts are created and read without a GPU, so the decoder meets the library's own getters and
// attribute sizes. Exact m, n, k, batch, types and FLOPs for plain, transposed, batched, FP8,
// complex and inconsistent calls.
#include <doctest/doctest.h>

#include "u128_printer.hpp"

#include <cstdint>
#include <vector>

#include "gpu/lt_decode.hpp"

using namespace flopledger;
using namespace flopledger::runtime::gpu;

namespace {

const LtGetters kReal{&cublasLtMatmulDescGetAttribute, &cublasLtMatrixLayoutGetAttribute};

// The full decoding, checked against the hooks' short one (decode_lt_flops): same FLOPs and class.
std::optional<LtMatmul> decode(cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a,
                               cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c,
                               cublasLtMatrixLayout_t d) {
  const std::optional<LtMatmul> full = decode_lt_matmul(kReal, desc, a, b, c, d);
  if (full) {
    const std::optional<LtFlops> hot = decode_lt_flops(kReal, desc, a, d);
    REQUIRE(hot.has_value());
    CHECK(hot->flops == full->flops);
    CHECK(hot->precision == full->precision);
  }
  return full;
}

// Owns the descriptors of one test.
struct Lt {
  std::vector<cublasLtMatrixLayout_t> layouts;
  std::vector<cublasLtMatmulDesc_t> descs;
  ~Lt() {
    for (auto l : layouts)
      cublasLtMatrixLayoutDestroy(l);
    for (auto d : descs)
      cublasLtMatmulDescDestroy(d);
  }
  cublasLtMatrixLayout_t layout(cudaDataType_t type, std::uint64_t rows, std::uint64_t cols,
                                std::int32_t batch = 1) {
    cublasLtMatrixLayout_t l = nullptr;
    REQUIRE(cublasLtMatrixLayoutCreate(&l, type, rows, cols, static_cast<std::int64_t>(rows)) ==
            CUBLAS_STATUS_SUCCESS);
    layouts.push_back(l);
    if (batch != 1) {
      REQUIRE(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch,
                                               sizeof batch) == CUBLAS_STATUS_SUCCESS);
      const std::int64_t stride = static_cast<std::int64_t>(rows * cols);
      REQUIRE(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                               &stride, sizeof stride) == CUBLAS_STATUS_SUCCESS);
    }
    return l;
  }
  cublasLtMatmulDesc_t desc(cublasComputeType_t compute, cudaDataType_t scale,
                            cublasOperation_t ta = CUBLAS_OP_N,
                            cublasOperation_t tb = CUBLAS_OP_N) {
    cublasLtMatmulDesc_t d = nullptr;
    REQUIRE(cublasLtMatmulDescCreate(&d, compute, scale) == CUBLAS_STATUS_SUCCESS);
    descs.push_back(d);
    REQUIRE(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta) ==
            CUBLAS_STATUS_SUCCESS);
    REQUIRE(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb) ==
            CUBLAS_STATUS_SUCCESS);
    return d;
  }
};

} // namespace

TEST_CASE("lt decode: plain BF16 GEMM, FP32 compute") {
  Lt lt;
  // D (5 x 3) = A (5 x 7) * B (7 x 3)
  auto d = lt.desc(CUBLAS_COMPUTE_32F, CUDA_R_32F);
  auto a = lt.layout(CUDA_R_16BF, 5, 7), b = lt.layout(CUDA_R_16BF, 7, 3),
       c = lt.layout(CUDA_R_16BF, 5, 3), dd = lt.layout(CUDA_R_16BF, 5, 3);
  const auto r = decode(d, a, b, c, dd);
  REQUIRE(r.has_value());
  CHECK(r->m == 5);
  CHECK(r->n == 3);
  CHECK(r->k == 7);
  CHECK(r->batch == 1);
  CHECK(r->transa == CUBLAS_OP_N);
  CHECK(r->transb == CUBLAS_OP_N);
  CHECK(r->compute == CUBLAS_COMPUTE_32F);
  CHECK(r->scale_type == CUDA_R_32F);
  CHECK(r->a_type == CUDA_R_16BF);
  CHECK(r->d_type == CUDA_R_16BF);
  CHECK(r->precision == FLOPLEDGER_PRECISION_BF16);
  CHECK(r->flops == u128{2 * 5 * 3 * 7});
}

TEST_CASE("lt decode: transposed A and B (the TN layout of FP8 GEMMs)") {
  Lt lt;
  // op(A) = A^T is 64 x 128 (A stored 128 x 64); op(B) = B^T is 128 x 32 (B stored 32 x 128).
  auto d = lt.desc(CUBLAS_COMPUTE_32F, CUDA_R_32F, CUBLAS_OP_T, CUBLAS_OP_T);
  auto a = lt.layout(CUDA_R_8F_E4M3, 128, 64), b = lt.layout(CUDA_R_8F_E5M2, 32, 128),
       c = lt.layout(CUDA_R_16BF, 64, 32), dd = lt.layout(CUDA_R_16BF, 64, 32);
  const auto r = decode(d, a, b, c, dd);
  REQUIRE(r.has_value());
  CHECK(r->m == 64);
  CHECK(r->n == 32);
  CHECK(r->k == 128);
  CHECK(r->transa == CUBLAS_OP_T);
  CHECK(r->transb == CUBLAS_OP_T);
  CHECK(r->a_type == CUDA_R_8F_E4M3);
  CHECK(r->b_type == CUDA_R_8F_E5M2);
  CHECK(r->c_type == CUDA_R_16BF);
  CHECK(r->precision == FLOPLEDGER_PRECISION_FP8);
  CHECK(r->flops == u128{2} * 64 * 32 * 128);
}

TEST_CASE("lt decode: only A transposed; TF32 and FP16 compute types") {
  Lt lt;
  auto d = lt.desc(CUBLAS_COMPUTE_32F_FAST_TF32, CUDA_R_32F, CUBLAS_OP_T, CUBLAS_OP_N);
  auto a = lt.layout(CUDA_R_32F, 9, 4), b = lt.layout(CUDA_R_32F, 9, 6),
       c = lt.layout(CUDA_R_32F, 4, 6);
  const auto r = decode(d, a, b, c, c);
  REQUIRE(r.has_value());
  CHECK(r->m == 4);
  CHECK(r->n == 6);
  CHECK(r->k == 9);
  CHECK(r->precision == FLOPLEDGER_PRECISION_TF32);
  CHECK(r->flops == u128{2 * 4 * 6 * 9});
  auto h = lt.desc(CUBLAS_COMPUTE_16F, CUDA_R_16F, CUBLAS_OP_N, CUBLAS_OP_T);
  auto ha = lt.layout(CUDA_R_16F, 4, 9), hb = lt.layout(CUDA_R_16F, 6, 9),
       hc = lt.layout(CUDA_R_16F, 4, 6);
  const auto rh = decode(h, ha, hb, hc, hc);
  REQUIRE(rh.has_value());
  CHECK(rh->k == 9);
  CHECK(rh->precision == FLOPLEDGER_PRECISION_FP16);
  CHECK(rh->scale_type == CUDA_R_16F);
}

TEST_CASE("lt decode: strided batch, FP64 and complex") {
  Lt lt;
  auto d = lt.desc(CUBLAS_COMPUTE_64F, CUDA_R_64F);
  auto a = lt.layout(CUDA_R_64F, 8, 2, 12), b = lt.layout(CUDA_R_64F, 2, 3, 12),
       c = lt.layout(CUDA_R_64F, 8, 3, 12);
  const auto r = decode(d, a, b, c, c);
  REQUIRE(r.has_value());
  CHECK(r->batch == 12);
  CHECK(r->precision == FLOPLEDGER_PRECISION_FP64);
  CHECK(r->flops == u128{2 * 8 * 3 * 2 * 12});

  auto z = lt.desc(CUBLAS_COMPUTE_32F, CUDA_C_32F);
  auto za = lt.layout(CUDA_C_32F, 3, 5, 2), zb = lt.layout(CUDA_C_32F, 5, 7, 2),
       zc = lt.layout(CUDA_C_32F, 3, 7, 2);
  const auto rz = decode(z, za, zb, zc, zc);
  REQUIRE(rz.has_value());
  CHECK(rz->precision == FLOPLEDGER_PRECISION_FP32);
  CHECK(rz->flops == u128{8 * 3 * 7 * 5 * 2});

  // A broadcast operand (batch count 1, as with a zero stride) is accepted.
  auto wa = lt.layout(CUDA_R_64F, 8, 2);
  const auto rw = decode(d, wa, b, c, c);
  REQUIRE(rw.has_value());
  CHECK(rw->batch == 12);
}

TEST_CASE("lt decode: calls cuBLASLt rejects are not decoded") {
  Lt lt;
  auto d = lt.desc(CUBLAS_COMPUTE_32F, CUDA_R_32F);
  auto a = lt.layout(CUDA_R_32F, 5, 7), b = lt.layout(CUDA_R_32F, 7, 3),
       c = lt.layout(CUDA_R_32F, 5, 3);
  auto b_wrong_k = lt.layout(CUDA_R_32F, 6, 3), c_wrong = lt.layout(CUDA_R_32F, 5, 4);
  auto a_batch = lt.layout(CUDA_R_32F, 5, 7, 3), c_batch = lt.layout(CUDA_R_32F, 5, 3, 4);
  CHECK(decode_lt_matmul(kReal, d, a, b, c, c).has_value());
  CHECK_FALSE(decode_lt_matmul(kReal, d, a, b_wrong_k, c, c).has_value());
  CHECK_FALSE(decode_lt_matmul(kReal, d, a, b, c_wrong, c).has_value());
  CHECK_FALSE(decode_lt_matmul(kReal, d, a_batch, b, c_batch, c_batch).has_value());
  CHECK_FALSE(decode_lt_matmul(kReal, nullptr, a, b, c, c).has_value());
  CHECK_FALSE(decode_lt_matmul(kReal, d, nullptr, b, c, c).has_value());
  CHECK_FALSE(decode_lt_matmul(LtGetters{}, d, a, b, c, c).has_value());
  CHECK_FALSE(decode_lt_flops(kReal, nullptr, a, c).has_value());
  CHECK_FALSE(decode_lt_flops(kReal, d, a, nullptr).has_value());
  CHECK_FALSE(decode_lt_flops(LtGetters{}, d, a, c).has_value());
}
