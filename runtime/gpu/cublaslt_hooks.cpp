// cuBLASLt counter source: cublasLtMatmul, decoded from its descriptors with the library's own
// getters (lt_decode.hpp). When cuBLAS runs a GEMM through cuBLASLt, the cuBLAS hook is the
// outermost hooked call of the thread and the inner cublasLtMatmul is not counted again.
#pragma GCC visibility push(default)
#include <cublasLt.h>
#pragma GCC visibility pop

#include <atomic>
#include <cstdint>

#include "hook_support.hpp"
#include "lt_decode.hpp"
#include "source.hpp"

#define FLOPLEDGER_EXPORT extern "C" __attribute__((visibility("default")))

namespace flopledger::runtime::gpu {
namespace {

const bool registered_cublaslt = register_source({FLOPLEDGER_SOURCE_CUBLASLT, "cublasLtMatmul"});

// The getters of the library that defines the real cublasLtMatmul; resolved once.
const LtGetters &lt_getters() {
  static const LtGetters getters = [] {
    LtGetters g;
    g.desc_get = reinterpret_cast<decltype(g.desc_get)>(
        find_real("cublasLtMatmulDescGetAttribute", Library::CublasLt));
    g.layout_get = reinterpret_cast<decltype(g.layout_get)>(
        find_real("cublasLtMatrixLayoutGetAttribute", Library::CublasLt));
    return g;
  }();
  return getters;
}

Planned plan_of(cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t d) {
  const std::optional<LtFlops> decoded = decode_lt_flops(lt_getters(), desc, a, d);
  if (!decoded) return {std::nullopt, FLOPLEDGER_PRECISION_OTHER};
  return {decoded->flops, decoded->precision};
}

} // namespace
} // namespace flopledger::runtime::gpu

using namespace flopledger::runtime::gpu;

FLOPLEDGER_EXPORT cublasStatus_t cublasLtMatmul(
    cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t computeDesc, const void *alpha,
    const void *A, cublasLtMatrixLayout_t Adesc, const void *B, cublasLtMatrixLayout_t Bdesc,
    const void *beta, const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
    cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo, void *workspace,
    size_t workspaceSizeInBytes, cudaStream_t stream) {
  using Fn = decltype(&cublasLtMatmul);
  static std::atomic<Fn> real{nullptr};
  // Decoded only at the outermost level: inside a cuBLAS call it would cost without counting.
  const bool outermost = flopledger::runtime::t_hook_depth == 0;
  const Planned plan = outermost ? plan_of(computeDesc, Adesc, Ddesc)
                                 : Planned{std::nullopt, FLOPLEDGER_PRECISION_OTHER};
  return metered(
      FLOPLEDGER_SOURCE_CUBLASLT, plan, [&] { return reinterpret_cast<std::uintptr_t>(stream); },
      [&] {
        const Fn fn = real_function(real, "cublasLtMatmul", Library::CublasLt);
        if (fn == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
        return fn(lightHandle, computeDesc, alpha, A, Adesc, B, Bdesc, beta, C, Cdesc, D, Ddesc,
                  algo, workspace, workspaceSizeInBytes, stream);
      });
}
