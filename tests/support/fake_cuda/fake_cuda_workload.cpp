/* The test workload: a shared library that stands for a framework's CUDA module (libtorch_cuda.so
 * and the like): it is linked against libcublas.so.13 and libcublasLt.so.13 (the fakes of this
 * folder) and calls every hooked GEMM entry point once with a shape of its own, then once with a
 * negative size (cuBLAS rejects it: not to be counted), then ends a flopledger step when the
 * runtime is preloaded, so that each entry point has a ledger step of its own. It prints one line
 * per entry point for the test to check against the ledger:
 *   expect <step> <entry point> <source> <precision> <real|complex> <m>:<n>:<k>:<count>[,...]
 * It is loaded linked, dlopen'ed with RTLD_LOCAL, and through Python's ctypes
 * (tests/e2e/test_cublas_hooks.py). */
#include <cublas.h>
#include <cublasLt.h>
#include <cupti_callbacks.h>
#include <cupti_driver_cbid.h>

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static cublasHandle_t H;
static int g_step, g_failures;
static int (*g_step_end)(uint64_t);

static void finish(const char *name, cublasStatus_t good, cublasStatus_t bad, const char *source,
                   const char *precision, const char *field, const char *groups) {
  if (good != CUBLAS_STATUS_SUCCESS || bad == CUBLAS_STATUS_SUCCESS) {
    fprintf(stderr, "%s: status %d for the valid call, %d for the invalid one\n", name, good, bad);
    ++g_failures;
  }
  printf("expect %d %s %s %s %s %s\n", g_step, name, source, precision, field, groups);
  if (g_step_end != NULL) g_step_end(0);
  ++g_step;
}

#define N CUBLAS_OP_N
#define T CUBLAS_OP_T
#define SHAPE(base)                                                                                \
  const int m = 2 + (base), n = 3 + (base) % 5, k = 4 + 2 * (base), b = 1 + (base) % 3;            \
  char groups[64];                                                                                 \
  (void)b

/* One entry point: GOOD and BAD are its valid and its invalid call (m = -1). */
#define CASE(NAME, PRECISION, FIELD, BATCH, GOOD, BAD)                                             \
  {                                                                                                \
    SHAPE(g_step);                                                                                 \
    snprintf(groups, sizeof groups, "%d:%d:%d:%d", m, n, k, BATCH);                                \
    const cublasStatus_t good = GOOD;                                                              \
    const cublasStatus_t bad = BAD;                                                                \
    finish(NAME, good, bad, "cublas", PRECISION, FIELD, groups);                                   \
  }

#define GEMM(NAME, PRECISION, FIELD)                                                               \
  CASE(#NAME, PRECISION, FIELD, 1, NAME(H, N, T, m, n, k, 0, 0, m, 0, n, 0, 0, m),                 \
       NAME(H, N, T, -1, n, k, 0, 0, m, 0, n, 0, 0, m))
#define BATCHED(NAME, PRECISION, FIELD)                                                            \
  CASE(#NAME, PRECISION, FIELD, b, NAME(H, T, N, m, n, k, 0, 0, k, 0, k, 0, 0, m, b),              \
       NAME(H, T, N, -1, n, k, 0, 0, k, 0, k, 0, 0, m, b))
#define STRIDED(NAME, PRECISION, FIELD)                                                            \
  CASE(#NAME, PRECISION, FIELD, b, NAME(H, N, N, m, n, k, 0, 0, m, 0, 0, k, 0, 0, 0, m, 0, b),     \
       NAME(H, N, N, -1, n, k, 0, 0, m, 0, 0, k, 0, 0, 0, m, 0, b))
#define EX_TYPED(NAME, TYPE, PRECISION, FIELD)                                                     \
  CASE(#NAME, PRECISION, FIELD, 1,                                                                 \
       NAME(H, N, N, m, n, k, 0, 0, TYPE, m, 0, TYPE, k, 0, 0, TYPE, m),                           \
       NAME(H, N, N, -1, n, k, 0, 0, TYPE, m, 0, TYPE, k, 0, 0, TYPE, m))
#define EX(NAME, TYPE, COMPUTE, PRECISION, FIELD)                                                  \
  CASE(#NAME, PRECISION, FIELD, 1,                                                                 \
       NAME(H, N, N, m, n, k, 0, 0, TYPE, m, 0, TYPE, k, 0, 0, TYPE, m, COMPUTE,                   \
            CUBLAS_GEMM_DEFAULT),                                                                  \
       NAME(H, N, N, -1, n, k, 0, 0, TYPE, m, 0, TYPE, k, 0, 0, TYPE, m, COMPUTE,                  \
            CUBLAS_GEMM_DEFAULT))
#define BATCHED_EX(NAME, TYPE, COMPUTE, PRECISION, FIELD)                                          \
  CASE(#NAME, PRECISION, FIELD, b,                                                                 \
       NAME(H, N, N, m, n, k, 0, 0, TYPE, m, 0, TYPE, k, 0, 0, TYPE, m, b, COMPUTE,                \
            CUBLAS_GEMM_DEFAULT),                                                                  \
       NAME(H, N, N, m, n, k, 0, 0, TYPE, m, 0, TYPE, k, 0, 0, TYPE, m, -1, COMPUTE,               \
            CUBLAS_GEMM_DEFAULT))
#define STRIDED_EX(NAME, TYPE, COMPUTE, PRECISION, FIELD)                                          \
  CASE(#NAME, PRECISION, FIELD, b,                                                                 \
       NAME(H, N, N, m, n, k, 0, 0, TYPE, m, 0, 0, TYPE, k, 0, 0, 0, TYPE, m, 0, b, COMPUTE,       \
            CUBLAS_GEMM_DEFAULT),                                                                  \
       NAME(H, N, N, m, -1, k, 0, 0, TYPE, m, 0, 0, TYPE, k, 0, 0, 0, TYPE, m, 0, b, COMPUTE,      \
            CUBLAS_GEMM_DEFAULT))

/* Grouped: two groups, (m, n, k) x b and (k, m, n) x 2; the invalid call has a negative size in
 * its second group. */
#define GROUPED(NAME, INT, TYPE_ARGS_GOOD, TYPE_ARGS_BAD, PRECISION, FIELD)                        \
  {                                                                                                \
    SHAPE(g_step);                                                                                 \
    const INT gm[] = {m, k}, gn[] = {n, m}, gk[] = {k, n}, gs[] = {b, 2}, bad_gs[] = {b, -2};      \
    snprintf(groups, sizeof groups, "%d:%d:%d:%d,%d:%d:%d:%d", m, n, k, b, k, m, n, 2);            \
    const cublasStatus_t good = NAME TYPE_ARGS_GOOD;                                               \
    const cublasStatus_t bad = NAME TYPE_ARGS_BAD;                                                 \
    finish(#NAME, good, bad, "cublas", PRECISION, FIELD, groups);                                  \
  }
#define GROUPED_TYPED(NAME, INT, PRECISION)                                                        \
  GROUPED(NAME, INT, (H, 0, 0, gm, gn, gk, 0, 0, gm, 0, gk, 0, 0, gm, 2, gs),                      \
          (H, 0, 0, gm, gn, gk, 0, 0, gm, 0, gk, 0, 0, gm, 2, bad_gs), PRECISION, "real")
#define GROUPED_EX(NAME, INT, TYPE, COMPUTE, PRECISION, FIELD)                                     \
  GROUPED(NAME, INT,                                                                               \
          (H, 0, 0, gm, gn, gk, 0, 0, TYPE, gm, 0, TYPE, gk, 0, 0, TYPE, gm, 2, gs, COMPUTE),      \
          (H, 0, 0, gm, gn, gk, 0, 0, TYPE, gm, 0, TYPE, gk, 0, 0, TYPE, gm, 2, bad_gs, COMPUTE),  \
          PRECISION, FIELD)

/* cublasLtMatmul: D (m x n) = op(A) op(B), batch b; the invalid call gives B a wrong k. */
static void lt_case(cublasLtHandle_t lt, cublasOperation_t ta, cublasOperation_t tb,
                    cudaDataType_t type, cublasComputeType_t compute, const char *precision,
                    const char *field) {
  SHAPE(g_step);
  snprintf(groups, sizeof groups, "%d:%d:%d:%d", m, n, k, b);
  cublasLtMatmulDesc_t desc;
  cublasLtMatrixLayout_t a, bl, bad_b, c;
  cublasLtMatmulDescCreate(&desc, compute, CUDA_R_32F);
  cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
  cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
  cublasLtMatrixLayoutCreate(&a, type, ta == N ? m : k, ta == N ? k : m, m);
  cublasLtMatrixLayoutCreate(&bl, type, tb == N ? k : n, tb == N ? n : k, k);
  cublasLtMatrixLayoutCreate(&bad_b, type, tb == N ? k + 1 : n, tb == N ? n : k + 1, k);
  cublasLtMatrixLayoutCreate(&c, type, m, n, m);
  const int32_t batch = b;
  cublasLtMatrixLayoutSetAttribute(a, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch);
  cublasLtMatrixLayoutSetAttribute(bl, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch);
  cublasLtMatrixLayoutSetAttribute(c, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch);
  const cublasStatus_t good = cublasLtMatmul(lt, desc, 0, 0, a, 0, bl, 0, 0, c, 0, c, 0, 0, 0, 0);
  const cublasStatus_t bad = cublasLtMatmul(lt, desc, 0, 0, a, 0, bad_b, 0, 0, c, 0, c, 0, 0, 0, 0);
  cublasLtMatrixLayoutDestroy(a);
  cublasLtMatrixLayoutDestroy(bl);
  cublasLtMatrixLayoutDestroy(bad_b);
  cublasLtMatrixLayoutDestroy(c);
  cublasLtMatmulDescDestroy(desc);
  finish("cublasLtMatmul", good, bad, "cublaslt", precision, field, groups);
}

/* The legacy API: a valid call, then one with lda too small (cublasGetError reports it). */
#define LEGACY(NAME, TYPE, PRECISION, FIELD)                                                       \
  {                                                                                                \
    SHAPE(g_step);                                                                                 \
    snprintf(groups, sizeof groups, "%d:%d:%d:1", m, n, k);                                        \
    TYPE zero;                                                                                     \
    memset(&zero, 0, sizeof zero);                                                                 \
    NAME('N', 'T', m, n, k, zero, 0, m, 0, n, zero, 0, m);                                         \
    const cublasStatus_t good = cublasGetError();                                                  \
    NAME('N', 'T', m, n, k, zero, 0, m - 1, 0, n, zero, 0, m);                                     \
    const cublasStatus_t bad = cublasGetError();                                                   \
    finish(#NAME "[v1]", good, bad, "cublas", PRECISION, FIELD, groups);                           \
  }

extern "C" __attribute__((visibility("default"))) int fl_cuda_workload(void) {
  g_step_end = (int (*)(uint64_t))dlsym(RTLD_DEFAULT, "flopledger_step_end");
  printf("flopledger_api=%s\n", g_step_end != NULL ? "present" : "absent");
  if (cublasCreate_v2(&H) != CUBLAS_STATUS_SUCCESS) return 1;

  GEMM(cublasSgemm_v2, "fp32", "real") /* runs through cublasLtMatmul inside the fake */
  GEMM(cublasSgemm_v2_64, "fp32", "real")
  GEMM(cublasDgemm_v2, "fp64", "real")
  GEMM(cublasDgemm_v2_64, "fp64", "real")
  GEMM(cublasCgemm_v2, "fp32", "complex")
  GEMM(cublasCgemm_v2_64, "fp32", "complex")
  GEMM(cublasZgemm_v2, "fp64", "complex")
  GEMM(cublasZgemm_v2_64, "fp64", "complex")
  GEMM(cublasHgemm, "fp16", "real")
  GEMM(cublasHgemm_64, "fp16", "real")
  GEMM(cublasCgemm3m, "fp32", "complex")
  GEMM(cublasCgemm3m_64, "fp32", "complex")
  GEMM(cublasZgemm3m, "fp64", "complex")
  GEMM(cublasZgemm3m_64, "fp64", "complex")

  BATCHED(cublasSgemmBatched, "fp32", "real")
  BATCHED(cublasSgemmBatched_64, "fp32", "real")
  BATCHED(cublasDgemmBatched, "fp64", "real")
  BATCHED(cublasDgemmBatched_64, "fp64", "real")
  BATCHED(cublasHgemmBatched, "fp16", "real")
  BATCHED(cublasHgemmBatched_64, "fp16", "real")
  BATCHED(cublasCgemmBatched, "fp32", "complex")
  BATCHED(cublasCgemmBatched_64, "fp32", "complex")
  BATCHED(cublasZgemmBatched, "fp64", "complex")
  BATCHED(cublasZgemmBatched_64, "fp64", "complex")
  BATCHED(cublasCgemm3mBatched, "fp32", "complex")
  BATCHED(cublasCgemm3mBatched_64, "fp32", "complex")

  STRIDED(cublasSgemmStridedBatched, "fp32", "real")
  STRIDED(cublasSgemmStridedBatched_64, "fp32", "real")
  STRIDED(cublasDgemmStridedBatched, "fp64", "real")
  STRIDED(cublasDgemmStridedBatched_64, "fp64", "real")
  STRIDED(cublasHgemmStridedBatched, "fp16", "real")
  STRIDED(cublasHgemmStridedBatched_64, "fp16", "real")
  STRIDED(cublasCgemmStridedBatched, "fp32", "complex")
  STRIDED(cublasCgemmStridedBatched_64, "fp32", "complex")
  STRIDED(cublasZgemmStridedBatched, "fp64", "complex")
  STRIDED(cublasZgemmStridedBatched_64, "fp64", "complex")
  STRIDED(cublasCgemm3mStridedBatched, "fp32", "complex")
  STRIDED(cublasCgemm3mStridedBatched_64, "fp32", "complex")

  GROUPED_TYPED(cublasSgemmGroupedBatched, int, "fp32")
  GROUPED_TYPED(cublasSgemmGroupedBatched_64, int64_t, "fp32")
  GROUPED_TYPED(cublasDgemmGroupedBatched, int, "fp64")
  GROUPED_TYPED(cublasDgemmGroupedBatched_64, int64_t, "fp64")

  EX_TYPED(cublasSgemmEx, CUDA_R_16BF, "bf16", "real")
  EX_TYPED(cublasSgemmEx_64, CUDA_R_8I, "int8", "real")
  EX_TYPED(cublasCgemmEx, CUDA_C_32F, "fp32", "complex")
  EX_TYPED(cublasCgemmEx_64, CUDA_C_8I, "int8", "complex")
  EX_TYPED(cublasCgemm3mEx, CUDA_C_32F, "fp32", "complex")
  EX_TYPED(cublasCgemm3mEx_64, CUDA_C_32F, "fp32", "complex")

  EX(cublasGemmEx, CUDA_R_16F, CUBLAS_COMPUTE_32F, "fp16", "real") /* through cublasLtMatmul */
  EX(cublasGemmEx_64, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32, "tf32", "real")
  BATCHED_EX(cublasGemmBatchedEx, CUDA_R_16BF, CUBLAS_COMPUTE_32F, "bf16", "real")
  BATCHED_EX(cublasGemmBatchedEx_64, CUDA_C_64F, CUBLAS_COMPUTE_64F, "fp64", "complex")
  STRIDED_EX(cublasGemmStridedBatchedEx, CUDA_R_8F_E4M3, CUBLAS_COMPUTE_32F, "fp8", "real")
  STRIDED_EX(cublasGemmStridedBatchedEx_64, CUDA_R_16F, CUBLAS_COMPUTE_16F, "fp16", "real")
  GROUPED_EX(cublasGemmGroupedBatchedEx, int, CUDA_R_16BF, CUBLAS_COMPUTE_32F, "bf16", "real")
  GROUPED_EX(cublasGemmGroupedBatchedEx_64, int64_t, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_16BF,
             "bf16", "real")

  LEGACY(cublasSgemm, float, "fp32", "real")
  LEGACY(cublasDgemm, double, "fp64", "real")
  LEGACY(cublasCgemm, cuComplex, "fp32", "complex")
  LEGACY(cublasZgemm, cuDoubleComplex, "fp64", "complex")

  cublasLtHandle_t lt;
  cublasLtCreate(&lt);
  lt_case(lt, N, N, CUDA_R_16BF, CUBLAS_COMPUTE_32F, "bf16", "real");
  lt_case(lt, T, N, CUDA_R_8F_E4M3, CUBLAS_COMPUTE_32F, "fp8", "real");
  lt_case(lt, N, T, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32, "tf32", "real");
  lt_case(lt, T, T, CUDA_C_64F, CUBLAS_COMPUTE_64F, "fp64", "complex");
  cublasLtDestroy(lt);

  cublasDestroy_v2(H);
  printf("steps=%d\nfailures=%d\n", g_step, g_failures);
  fflush(stdout);
  return g_failures == 0 ? 0 : 1;
}

/* CUDA Graphs, with the fake CUPTI standing in for the driver's callbacks: a GEMM issued on a
 * stream under capture is counted at each launch of the graph's executable, not when captured.
 * Steps (the test checks each):
 *   1: cublasSgemm_v2_64 8x4x2 on the default stream, counted now (128) — the first hooked call,
 *      which makes the runtime subscribe to CUPTI;
 *   2: capture on stream 0x5000 of cublasSgemm_v2_64 16x8x4 (1024) and cublasGemmEx 4x4x4 FP16
 *      (128, through cublasLtMatmul inside the fake), counted 0 now;
 *   3: the executable launched `replays` times (and once more, failing): replays * 1152;
 *   4: executable destroyed, launched again: 0;
 *   5: cublasSgemm_v2_64 8x4x2 on the stream, no longer capturing: 128. */
extern "C" __attribute__((visibility("default"))) int fl_cuda_graph_workload(int replays) {
  g_step_end = (int (*)(uint64_t))dlsym(RTLD_DEFAULT, "flopledger_step_end");
  if (g_step_end == NULL || cublasCreate_v2(&H) != CUBLAS_STATUS_SUCCESS) return 1;
  int failures = 0;
  failures += cublasSgemm_v2_64(H, N, N, 8, 4, 2, 0, 0, 8, 0, 2, 0, 0, 8) != CUBLAS_STATUS_SUCCESS;
  g_step_end(0);

  void *cupti = dlopen("libcupti.so.13", RTLD_NOW | RTLD_NOLOAD);
  const char *self_load = getenv("FL_WORKLOAD_LOADS_CUPTI");
  if (cupti == NULL && self_load != NULL && strcmp(self_load, "1") == 0) {
    // The runtime did not load CUPTI (FLOPLEDGER_CUPTI=0): load the fake here so that the same
    // callbacks are delivered, to no subscriber.
    cupti = dlopen("libcupti.so.13", RTLD_NOW | RTLD_LOCAL);
    printf("cupti_loaded_by=workload\n");
  }
  if (cupti == NULL) {
    printf("cupti=absent\n");
    return 1;
  }
  auto driver_exit =
      (void (*)(CUpti_CallbackId, const void *, CUresult))dlsym(cupti, "fake_cupti_driver_exit");
  auto resource = (void (*)(CUpti_CallbackId, CUgraph, CUgraph, CUgraphExec))dlsym(
      cupti, "fake_cupti_graph_resource");
  if (driver_exit == NULL || resource == NULL) {
    printf("cupti=real\n");
    return 1;
  }
  printf("cupti=fake\n");

  CUstream stream = (CUstream)0x5000;
  CUgraph graph = (CUgraph)0x6000;
  CUgraphExec exec = (CUgraphExec)0x7000;
  struct {
    CUstream s;
    CUstreamCaptureMode mode;
  } begin = {stream, CU_STREAM_CAPTURE_MODE_GLOBAL};
  struct {
    CUstream s;
    CUgraph *g;
  } end = {stream, &graph};
  struct {
    CUgraphExec e;
    CUstream s;
  } launch = {exec, stream};

  cublasSetStream_v2(H, (cudaStream_t)stream);
  driver_exit(CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture_v2, &begin, CUDA_SUCCESS);
  failures +=
      cublasSgemm_v2_64(H, N, N, 16, 8, 4, 0, 0, 16, 0, 4, 0, 0, 16) != CUBLAS_STATUS_SUCCESS;
  failures +=
      cublasGemmEx(H, N, N, 4, 4, 4, 0, 0, CUDA_R_16F, 4, 0, CUDA_R_16F, 4, 0, 0, CUDA_R_16F, 4,
                   CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS;
  driver_exit(CUPTI_DRIVER_TRACE_CBID_cuStreamEndCapture, &end, CUDA_SUCCESS);
  g_step_end(0);

  resource(CUPTI_CBID_RESOURCE_GRAPHEXEC_CREATED, graph, NULL, exec);
  for (int r = 0; r < replays; ++r)
    driver_exit(CUPTI_DRIVER_TRACE_CBID_cuGraphLaunch, &launch, CUDA_SUCCESS);
  driver_exit(CUPTI_DRIVER_TRACE_CBID_cuGraphLaunch, &launch, CUDA_ERROR_LAUNCH_FAILED);
  g_step_end(0);

  resource(CUPTI_CBID_RESOURCE_GRAPHEXEC_DESTROY_STARTING, graph, NULL, exec);
  driver_exit(CUPTI_DRIVER_TRACE_CBID_cuGraphLaunch, &launch, CUDA_SUCCESS);
  g_step_end(0);

  failures += cublasSgemm_v2_64(H, N, N, 8, 4, 2, 0, 0, 8, 0, 2, 0, 0, 8) != CUBLAS_STATUS_SUCCESS;
  g_step_end(0);
  cublasDestroy_v2(H);
  printf("graph_failures=%d\n", failures);
  fflush(stdout);
  return failures == 0 ? 0 : 1;
}
