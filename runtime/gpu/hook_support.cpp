#include "hook_support.hpp"

#include "log.hpp"
#include "resolve.hpp"

namespace flopledger::runtime::gpu {

namespace {

// cuBLAS 13 is the version the prototypes were taken from; 12 has the same GEMM ABI.
const char *const kCublasVersions[] = {"libcublas.so.13", "libcublas.so.12"};
const char *const kCublasLtVersions[] = {"libcublasLt.so.13", "libcublasLt.so.12"};

std::atomic<bool> g_logged_missing[2];

} // namespace

void *find_real(const char *name, Library library) {
  const bool lt = library == Library::CublasLt;
  for (const char *version : lt ? kCublasLtVersions : kCublasVersions)
    if (void *symbol = resolve_real_symbol(name, version)) return symbol;
  if (void *symbol = resolve_real_symbol(name)) return symbol; // an unversioned build
  if (!g_logged_missing[lt].exchange(true))
    log_line("no loaded library defines %s (looked for versions %s and %s, then unversioned): "
             "hooked %s calls return CUBLAS_STATUS_NOT_INITIALIZED and are not counted",
             name, lt ? kCublasLtVersions[0] : kCublasVersions[0],
             lt ? kCublasLtVersions[1] : kCublasVersions[1], lt ? "cuBLASLt" : "cuBLAS");
  return nullptr;
}

std::uintptr_t stream_of_handle(cublasHandle_t handle) {
  using Fn = cublasStatus_t (*)(cublasHandle_t, cudaStream_t *);
  static std::atomic<Fn> real{nullptr};
  const Fn fn = real_function(real, "cublasGetStream_v2", Library::Cublas);
  cudaStream_t stream = nullptr;
  if (fn == nullptr || fn(handle, &stream) != CUBLAS_STATUS_SUCCESS) return 0;
  return reinterpret_cast<std::uintptr_t>(stream);
}

} // namespace flopledger::runtime::gpu
