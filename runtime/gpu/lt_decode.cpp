#include "lt_decode.hpp"

#include "accounting/gemm.hpp"
#include "cuda_types.hpp"

namespace flopledger::runtime::gpu {

namespace {

struct Layout {
  std::int64_t rows = 0, cols = 0, batch = 1;
  cudaDataType_t type = CUDA_R_32F;
};

template <typename T, typename Getter, typename Object, typename Attribute>
bool get(Getter getter, Object object, Attribute attribute, T &out) {
  size_t written = 0;
  return getter(object, attribute, &out, sizeof out, &written) == CUBLAS_STATUS_SUCCESS &&
         written == sizeof out;
}

std::optional<Layout> read_layout(const LtGetters &g, cublasLtMatrixLayout_t layout) {
  if (layout == nullptr) return std::nullopt;
  std::uint64_t rows = 0, cols = 0;
  std::uint32_t type = 0;
  std::int32_t batch = 1;
  if (!get(g.layout_get, layout, CUBLASLT_MATRIX_LAYOUT_ROWS, rows) ||
      !get(g.layout_get, layout, CUBLASLT_MATRIX_LAYOUT_COLS, cols) ||
      !get(g.layout_get, layout, CUBLASLT_MATRIX_LAYOUT_TYPE, type) ||
      !get(g.layout_get, layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, batch))
    return std::nullopt;
  constexpr std::uint64_t kMax = static_cast<std::uint64_t>(INT64_MAX);
  if (rows > kMax || cols > kMax || batch < 0) return std::nullopt;
  Layout out;
  out.rows = static_cast<std::int64_t>(rows);
  out.cols = static_cast<std::int64_t>(cols);
  out.batch = batch;
  out.type = static_cast<cudaDataType_t>(type);
  return out;
}

bool transposed(cublasOperation_t op) {
  return op != CUBLAS_OP_N;
}

} // namespace

std::optional<LtMatmul> decode_lt_matmul(const LtGetters &getters, cublasLtMatmulDesc_t desc,
                                         cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                         cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d) {
  if (getters.desc_get == nullptr || getters.layout_get == nullptr || desc == nullptr)
    return std::nullopt;
  std::int32_t transa = 0, transb = 0, compute = 0, scale = 0;
  if (!get(getters.desc_get, desc, CUBLASLT_MATMUL_DESC_TRANSA, transa) ||
      !get(getters.desc_get, desc, CUBLASLT_MATMUL_DESC_TRANSB, transb) ||
      !get(getters.desc_get, desc, CUBLASLT_MATMUL_DESC_COMPUTE_TYPE, compute) ||
      !get(getters.desc_get, desc, CUBLASLT_MATMUL_DESC_SCALE_TYPE, scale))
    return std::nullopt;
  const std::optional<Layout> la = read_layout(getters, a), lb = read_layout(getters, b),
                              lc = read_layout(getters, c), ld = read_layout(getters, d);
  if (!la || !lb || !lc || !ld) return std::nullopt;

  LtMatmul out;
  out.transa = static_cast<cublasOperation_t>(transa);
  out.transb = static_cast<cublasOperation_t>(transb);
  out.compute = static_cast<cublasComputeType_t>(compute);
  out.scale_type = static_cast<cudaDataType_t>(scale);
  out.a_type = la->type;
  out.b_type = lb->type;
  out.c_type = lc->type;
  out.d_type = ld->type;
  out.m = ld->rows;
  out.n = ld->cols;
  out.batch = ld->batch;
  const bool ta = transposed(out.transa), tb = transposed(out.transb);
  out.k = ta ? la->rows : la->cols;
  const std::int64_t a_m = ta ? la->cols : la->rows;
  const std::int64_t b_k = tb ? lb->cols : lb->rows, b_n = tb ? lb->rows : lb->cols;
  if (a_m != out.m || b_k != out.k || b_n != out.n || lc->rows != out.m || lc->cols != out.n)
    return std::nullopt;
  for (const Layout *l : {&*la, &*lb, &*lc})
    if (l->batch != 1 && l->batch != out.batch) return std::nullopt;

  out.precision = precision_of(out.compute, out.a_type);
  const std::optional<u128> flops =
      batched_gemm_flops(out.m, out.n, out.k, out.batch, field_of(out.a_type));
  if (!flops) return std::nullopt;
  out.flops = *flops;
  return out;
}

std::optional<LtFlops> decode_lt_flops(const LtGetters &getters, cublasLtMatmulDesc_t desc,
                                       cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t d) {
  if (getters.desc_get == nullptr || getters.layout_get == nullptr || desc == nullptr ||
      a == nullptr || d == nullptr)
    return std::nullopt;
  std::int32_t transa = 0, compute = 0, batch = 1;
  std::uint64_t a_rows = 0, a_cols = 0, m = 0, n = 0;
  std::uint32_t a_type = 0;
  if (!get(getters.desc_get, desc, CUBLASLT_MATMUL_DESC_TRANSA, transa) ||
      !get(getters.desc_get, desc, CUBLASLT_MATMUL_DESC_COMPUTE_TYPE, compute) ||
      !get(getters.layout_get, a, CUBLASLT_MATRIX_LAYOUT_ROWS, a_rows) ||
      !get(getters.layout_get, a, CUBLASLT_MATRIX_LAYOUT_COLS, a_cols) ||
      !get(getters.layout_get, a, CUBLASLT_MATRIX_LAYOUT_TYPE, a_type) ||
      !get(getters.layout_get, d, CUBLASLT_MATRIX_LAYOUT_ROWS, m) ||
      !get(getters.layout_get, d, CUBLASLT_MATRIX_LAYOUT_COLS, n) ||
      !get(getters.layout_get, d, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, batch))
    return std::nullopt;
  constexpr std::uint64_t kMax = static_cast<std::uint64_t>(INT64_MAX);
  const std::uint64_t k = transposed(static_cast<cublasOperation_t>(transa)) ? a_rows : a_cols;
  if (m > kMax || n > kMax || k > kMax) return std::nullopt;
  const auto type = static_cast<cudaDataType_t>(a_type);
  const std::optional<u128> flops =
      batched_gemm_flops(static_cast<std::int64_t>(m), static_cast<std::int64_t>(n),
                         static_cast<std::int64_t>(k), batch, field_of(type));
  if (!flops) return std::nullopt;
  return LtFlops{*flops, precision_of(static_cast<cublasComputeType_t>(compute), type)};
}

} // namespace flopledger::runtime::gpu
