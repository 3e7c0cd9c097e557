// Known GEMMs through the real cuBLAS and cuBLASLt on a real GPU, one ledger step each, for
// tests/gpu/run_on_gpu.sh (it compares the ledger with the `expect` lines printed here). Built
// when the CUDA Toolkit is found (it links cudart, cublas and cublasLt); it needs a GPU to run.
//
//   gpu_check check N   the checked steps (below), the graph launched N times
//   gpu_check cost K    K tiny cublasSgemm_v2 calls, then K tiny cublasLtMatmul calls: prints the
//                       host time per call (run with and without the runtime to get the hook cost)
//
// Each checked step prints `expect step=S source=SRC precision=P flops=F`. Steps:
//   1 cublasSgemm_v2 512x256x128 fp32           5 cublasLtMatmul bf16 256x128x64, batch 4
//   2 cublasGemmEx fp16 in, fp32 compute         6 a CUDA graph of step 1's GEMM, launched N times
//   3 cublasSgemmStridedBatched 64x32x16, 8       7 cublasSgemm_v2 with m < 0: rejected, 0 FLOPs
//   4 cublasDgemm_v2 128x64x32 fp64
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

int (*g_step_end)(std::uint64_t) = nullptr;
int g_step = 0;

void step_end() {
  ++g_step;
  if (g_step_end) g_step_end(0);
}

void expect(const char *source, const char *precision, std::uint64_t flops) {
  std::printf("expect step=%d source=%s precision=%s flops=%llu\n", g_step + 1, source, precision,
              static_cast<unsigned long long>(flops));
}

#define CHECK_CUDA(call)                                                                           \
  do {                                                                                             \
    const cudaError_t e_ = (call);                                                                 \
    if (e_ != cudaSuccess) {                                                                       \
      std::fprintf(stderr, "gpu_check: %s failed: %s\n", #call, cudaGetErrorString(e_));           \
      std::exit(1);                                                                                \
    }                                                                                              \
  } while (0)

#define CHECK_BLAS(call)                                                                           \
  do {                                                                                             \
    const cublasStatus_t s_ = (call);                                                              \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                             \
      std::fprintf(stderr, "gpu_check: %s failed: status %d\n", #call, static_cast<int>(s_));      \
      std::exit(1);                                                                                \
    }                                                                                              \
  } while (0)

void *device_buffer(std::size_t bytes) {
  void *p = nullptr;
  CHECK_CUDA(cudaMalloc(&p, bytes));
  CHECK_CUDA(cudaMemset(p, 0, bytes));
  return p;
}

struct Lt {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
};

// D = A·B with A m×k, B k×n, column-major, bf16 in and out, fp32 compute, `batch` strided.
Lt lt_bf16(int m, int n, int k, int batch) {
  Lt lt;
  CHECK_BLAS(cublasLtMatmulDescCreate(&lt.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  CHECK_BLAS(cublasLtMatrixLayoutCreate(&lt.a, CUDA_R_16BF, m, k, m));
  CHECK_BLAS(cublasLtMatrixLayoutCreate(&lt.b, CUDA_R_16BF, k, n, k));
  CHECK_BLAS(cublasLtMatrixLayoutCreate(&lt.c, CUDA_R_16BF, m, n, m));
  const std::int64_t strides[3] = {std::int64_t(m) * k, std::int64_t(k) * n, std::int64_t(m) * n};
  cublasLtMatrixLayout_t layouts[3] = {lt.a, lt.b, lt.c};
  for (int i = 0; i < 3; ++i) {
    CHECK_BLAS(cublasLtMatrixLayoutSetAttribute(layouts[i], CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT,
                                                &batch, sizeof batch));
    CHECK_BLAS(cublasLtMatrixLayoutSetAttribute(
        layouts[i], CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &strides[i], sizeof strides[i]));
  }
  return lt;
}

int check(int replays) {
  cublasHandle_t h = nullptr;
  cublasLtHandle_t lth = nullptr;
  CHECK_BLAS(cublasCreate(&h));
  CHECK_BLAS(cublasLtCreate(&lth));
  void *x = device_buffer(64u << 20), *y = device_buffer(64u << 20), *z = device_buffer(64u << 20);
  void *workspace = device_buffer(32u << 20);
  const float one = 1.0f, zero = 0.0f;
  const double done = 1.0, dzero = 0.0;
  auto f = [](void *p) { return static_cast<float *>(p); };

  expect("cublas", "fp32", 2ull * 512 * 256 * 128);
  CHECK_BLAS(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 512, 256, 128, &one, f(x), 512, f(y), 128,
                         &zero, f(z), 512));
  step_end();

  expect("cublas", "fp16", 2ull * 256 * 256 * 256);
  CHECK_BLAS(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_T, 256, 256, 256, &one, x, CUDA_R_16F, 256, y,
                          CUDA_R_16F, 256, &zero, z, CUDA_R_16F, 256, CUBLAS_COMPUTE_32F,
                          CUBLAS_GEMM_DEFAULT));
  step_end();

  expect("cublas", "fp32", 8ull * 2 * 64 * 32 * 16);
  CHECK_BLAS(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 64, 32, 16, &one, f(x), 64,
                                       64 * 16, f(y), 16, 16 * 32, &zero, f(z), 64, 64 * 32, 8));
  step_end();

  expect("cublas", "fp64", 2ull * 128 * 64 * 32);
  CHECK_BLAS(cublasDgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 128, 64, 32, &done, static_cast<double *>(x),
                         128, static_cast<double *>(y), 32, &dzero, static_cast<double *>(z), 128));
  step_end();

  expect("cublaslt", "bf16", 4ull * 2 * 256 * 128 * 64);
  Lt lt = lt_bf16(256, 128, 64, 4);
  CHECK_BLAS(cublasLtMatmul(lth, lt.desc, &one, x, lt.a, y, lt.b, &zero, z, lt.c, z, lt.c, nullptr,
                            workspace, 32u << 20, nullptr));
  step_end();

  cudaStream_t stream = nullptr;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  CHECK_BLAS(cublasSetStream(h, stream));
  CHECK_BLAS(cublasSetWorkspace(h, workspace, 32u << 20)); // no allocation during capture
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  CHECK_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  CHECK_BLAS(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 512, 256, 128, &one, f(x), 512, f(y), 128,
                         &zero, f(z), 512));
  CHECK_CUDA(cudaStreamEndCapture(stream, &graph));
  CHECK_CUDA(cudaGraphInstantiate(&exec, graph, 0));
  expect("cublas", "fp32", std::uint64_t(replays) * 2 * 512 * 256 * 128);
  for (int r = 0; r < replays; ++r)
    CHECK_CUDA(cudaGraphLaunch(exec, stream));
  CHECK_CUDA(cudaStreamSynchronize(stream));
  step_end();
  CHECK_CUDA(cudaGraphExecDestroy(exec));
  CHECK_CUDA(cudaGraphDestroy(graph));
  CHECK_BLAS(cublasSetStream(h, nullptr));

  expect("cublas", "fp32", 0);
  const cublasStatus_t rejected =
      cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, -1, 4, 4, &one, f(x), 4, f(y), 4, &zero, f(z), 4);
  std::printf("rejected_status=%d\n", static_cast<int>(rejected));
  step_end();

  CHECK_CUDA(cudaDeviceSynchronize());
  std::printf("steps=%d\n", g_step);
  return 0;
}

int cost(int calls) {
  cublasHandle_t h = nullptr;
  cublasLtHandle_t lth = nullptr;
  CHECK_BLAS(cublasCreate(&h));
  CHECK_BLAS(cublasLtCreate(&lth));
  void *x = device_buffer(1u << 20), *workspace = device_buffer(4u << 20);
  const float one = 1.0f, zero = 0.0f;
  float *a = static_cast<float *>(x);
  Lt lt = lt_bf16(8, 8, 8, 1);
  for (int warm = 0; warm < 100; ++warm)
    cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 8, 8, 8, &one, a, 8, a, 8, &zero, a + 64, 8);
  CHECK_CUDA(cudaDeviceSynchronize());
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  for (int i = 0; i < calls; ++i)
    cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 8, 8, 8, &one, a, 8, a, 8, &zero, a + 64, 8);
  auto t1 = clock::now();
  CHECK_CUDA(cudaDeviceSynchronize());
  auto t2 = clock::now();
  for (int i = 0; i < calls; ++i)
    cublasLtMatmul(lth, lt.desc, &one, x, lt.a, x, lt.b, &zero, x, lt.c, x, lt.c, nullptr,
                   workspace, 4u << 20, nullptr);
  auto t3 = clock::now();
  CHECK_CUDA(cudaDeviceSynchronize());
  auto ns = [&](auto a0, auto a1) {
    return std::chrono::duration<double, std::nano>(a1 - a0).count() / calls;
  };
  std::printf("sgemm_ns_per_call=%.1f\nlt_ns_per_call=%.1f\n", ns(t0, t1), ns(t2, t3));
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  g_step_end = reinterpret_cast<int (*)(std::uint64_t)>(dlsym(RTLD_DEFAULT, "flopledger_step_end"));
  if (argc == 3 && std::strcmp(argv[1], "check") == 0) return check(std::atoi(argv[2]));
  if (argc == 3 && std::strcmp(argv[1], "cost") == 0) return cost(std::atoi(argv[2]));
  std::fprintf(stderr, "usage: %s check REPLAYS | cost CALLS\n", argv[0]);
  return 2;
}
