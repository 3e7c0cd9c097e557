// mpi_gemm — an MPI program with known BLAS call shapes, the reference workload of the
// end-to-end tests. It is NOT linked with flopledger: run it under `flopledger run` (or with
// libflopledger.so preloaded) and compare the trace with the expected figures below.
//
// Every rank r (0-based) runs --steps steps s = 0, 1, ... . In each step it makes these twelve
// calls j = 0..11, whose shapes are
//
//     m = 16 + 3r + s + j,   n = 12 + 2r + 2s + j,   k = 8 + r + 3s + 2j
//
// (op(A) is m x k, op(B) is k x n, C is m x n; for GEMV, A is m x n):
//
//   j  call                                       counted FLOPs  precision  source
//   0  sgemm_  ('T','N')                          2mnk           fp32       blas_gemm
//   1  dgemm_  ('N','T')                          2mnk           fp64       blas_gemm
//   2  cgemm_  ('C','N')                          8mnk           fp32       blas_gemm
//   3  zgemm_  ('N','C')                          8mnk           fp64       blas_gemm
//   4  cblas_sgemm (RowMajor, NoTrans, Trans)     2mnk           fp32       cblas_gemm
//   5  cblas_dgemm (ColMajor, Trans, NoTrans)     2mnk           fp64       cblas_gemm
//   6  cblas_cgemm (RowMajor, ConjTrans, NoTrans) 8mnk           fp32       cblas_gemm
//   7  cblas_zgemm (ColMajor, NoTrans, NoTrans)   8mnk           fp64       cblas_gemm
//   8  sgemv_  ('N', incx = incy = 1)             2mn            fp32       blas_gemv
//   9  dgemv_  ('T', incx = 2, incy = 1)          2mn            fp64       blas_gemv
//  10  sgemm_  ('N','N') with lda = m - 1         0 (invalid: BLAS rejects it through xerbla_)
//  11  sgemm_  ('N','N') with alpha = 0           0 (no multiply-add happens)
//
// Every shape grows with r, so a rank's per-step FLOPs strictly increase with its rank: the
// per-step minimum over ranks is rank 0's and the maximum is rank (size-1)'s.
//
// After the calls of a step, when the flopledger C API is present in the process (looked up with
// dlsym(RTLD_DEFAULT, "flopledger_step_end")) and --no-api was not given, the rank calls
// flopledger_step_end(1000 + r). Steps are separated by MPI_Barrier.
//
// The program defines xerbla_, the BLAS error handler, so that it can count (silently) the calls
// BLAS rejected: with or without flopledger, exactly one per step (call 10).
//
// Options:
//   --steps N          steps to run (default 5, at most 1000)
//   --no-api           never call the flopledger C API
//   --exit-code C      after the steps, exit(C) without calling MPI_Finalize
//   --exit-rank R      with --exit-code: only rank R exits that way; the others finalize
//   --print-expected   print the expected figures (rank 0: totals; every rank: per-step FLOPs)
//   --eval-every K     steps s with (s + 1) % K == 0 run in the eval phase (flopledger_set_phase)
//   --same-shapes      every step makes the calls of step 0 (constant FLOPs per step)
//   --budget-guard     after every step call flopledger_should_stop() and stop when it says so;
//                      every rank prints "rank=<r> stopped_after_step=<ledger step>"
//   --step-sleep-ms N  sleep N ms after each step's barrier (0 to 10000; default 0), so that a
//                      job lasts long enough to be killed part-way (tests/e2e/test_fault_injection)
//   --print-steps      every rank prints "rank=<r> completed_step=<s+1>" after each step's
//                      flopledger_step_end (before the barrier)
//
// Output with --print-expected (rank 0 unless noted):
//   rank=<r> step=<s> flops=<n>           (every rank, every step)
//   expected_total_flops=<n>  expected_fp32_flops=<n>  expected_fp64_flops=<n>
//   expected_blas_gemm_flops=<n>  expected_cblas_gemm_flops=<n>  expected_blas_gemv_flops=<n>
//   expected_train_flops=<n>  expected_eval_flops=<n>   (by phase, with --eval-every)
//   expected_tokens=<n>  expected_steps=<n>  ranks=<n>   (steps actually run)
//   xerbla_calls=<n>                      (sum over ranks; steps * ranks when BLAS saw call 10)
//   result_checksum=<x>                   (sum of every output element, for "metering changes
//                                          nothing" comparisons)
//   api=<present|absent|disabled>

// The C API of MPI only (the target links MPI::MPI_C): keep the deprecated C++ bindings out.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <cblas.h>
#include <dlfcn.h>

#include <cerrno>
#include <cinttypes>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <time.h>
#include <type_traits>
#include <vector>

extern "C" {
// Fortran BLAS, as C callers declare it (hidden string-length arguments omitted).
void sgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k,
            const float *alpha, const float *a, const int *lda, const float *b, const int *ldb,
            const float *beta, float *c, const int *ldc);
void dgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k,
            const double *alpha, const double *a, const int *lda, const double *b, const int *ldb,
            const double *beta, double *c, const int *ldc);
void cgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k,
            const void *alpha, const void *a, const int *lda, const void *b, const int *ldb,
            const void *beta, void *c, const int *ldc);
void zgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k,
            const void *alpha, const void *a, const int *lda, const void *b, const int *ldb,
            const void *beta, void *c, const int *ldc);
void sgemv_(const char *trans, const int *m, const int *n, const float *alpha, const float *a,
            const int *lda, const float *x, const int *incx, const float *beta, float *y,
            const int *incy);
void dgemv_(const char *trans, const int *m, const int *n, const double *alpha, const double *a,
            const int *lda, const double *x, const int *incx, const double *beta, double *y,
            const int *incy);

// The BLAS error handler: OpenBLAS (and the reference BLAS) call xerbla_ when an argument is
// invalid. Defining it here replaces the default one, which prints a message.
static int g_xerbla_calls = 0;
int xerbla_(const char *name, const int *info, size_t name_len) {
  (void)name;
  (void)info;
  (void)name_len;
  ++g_xerbla_calls;
  return 0;
}
}

namespace {

using cfloat = std::complex<float>;
using cdouble = std::complex<double>;

struct Shape {
  int m, n, k;
};

Shape shape_of(int r, int s, int j) {
  return Shape{16 + 3 * r + s + j, 12 + 2 * r + 2 * s + j, 8 + r + 3 * s + 2 * j};
}

// Expected FLOPs of one rank's step, split the way the trace splits them.
struct Expected {
  std::uint64_t total = 0, fp32 = 0, fp64 = 0, blas_gemm = 0, cblas_gemm = 0, blas_gemv = 0;
};

Expected expected_step(int r, int s) {
  Expected e;
  for (int j = 0; j < 10; ++j) {
    const Shape sh = shape_of(r, s, j);
    const std::uint64_t m = static_cast<std::uint64_t>(sh.m);
    const std::uint64_t n = static_cast<std::uint64_t>(sh.n);
    const std::uint64_t k = static_cast<std::uint64_t>(sh.k);
    std::uint64_t f = 0;
    if (j == 8 || j == 9) {
      f = 2 * m * n;
      e.blas_gemv += f;
    } else {
      const bool complex_type = (j == 2 || j == 3 || j == 6 || j == 7);
      f = (complex_type ? 8 : 2) * m * n * k;
      (j < 4 ? e.blas_gemm : e.cblas_gemm) += f;
    }
    // Even j: single precision (s, c); odd j: double precision (d, z).
    (j % 2 == 0 ? e.fp32 : e.fp64) += f;
    e.total += f;
  }
  return e;
}

template <typename T> std::vector<T> filled(std::size_t count, int seed) {
  std::vector<T> v(count);
  for (std::size_t i = 0; i < count; ++i) {
    const double x = static_cast<double>((i * 7 + static_cast<std::size_t>(seed) * 13) % 17) / 8.0;
    if constexpr (std::is_same_v<T, cfloat> || std::is_same_v<T, cdouble>) {
      using R = typename T::value_type;
      v[i] = T(static_cast<R>(x - 1.0), static_cast<R>(0.5 - x / 4.0));
    } else {
      v[i] = static_cast<T>(x - 1.0);
    }
  }
  return v;
}

template <typename T> double checksum(const std::vector<T> &v) {
  double sum = 0;
  for (const T &x : v) {
    if constexpr (std::is_same_v<T, cfloat> || std::is_same_v<T, cdouble>) {
      sum += static_cast<double>(x.real()) + static_cast<double>(x.imag());
    } else {
      sum += static_cast<double>(x);
    }
  }
  return sum;
}

std::size_t sz(int a, int b) {
  return static_cast<std::size_t>(a) * static_cast<std::size_t>(b);
}

// One step's twelve calls. Returns the sum of every output element.
double run_step(int r, int s) {
  double sum = 0;
  const int seed = r * 100 + s;
  {
    const Shape sh = shape_of(r, s, 0); // sgemm_ T,N: A is k x m, B is k x n (ldb padded)
    const int lda = sh.k, ldb = sh.k + 1, ldc = sh.m;
    auto a = filled<float>(sz(lda, sh.m), seed), b = filled<float>(sz(ldb, sh.n), seed + 1);
    auto c = filled<float>(sz(ldc, sh.n), seed + 2);
    const float alpha = 1.5f, beta = 0.5f;
    sgemm_("T", "N", &sh.m, &sh.n, &sh.k, &alpha, a.data(), &lda, b.data(), &ldb, &beta, c.data(),
           &ldc);
    sum += checksum(c);
  }
  {
    const Shape sh = shape_of(r, s, 1); // dgemm_ N,T: A is m x k, B is n x k
    const int lda = sh.m + 2, ldb = sh.n, ldc = sh.m + 1;
    auto a = filled<double>(sz(lda, sh.k), seed), b = filled<double>(sz(ldb, sh.k), seed + 1);
    auto c = filled<double>(sz(ldc, sh.n), seed + 2);
    const double alpha = -0.75, beta = 1.0;
    dgemm_("N", "T", &sh.m, &sh.n, &sh.k, &alpha, a.data(), &lda, b.data(), &ldb, &beta, c.data(),
           &ldc);
    sum += checksum(c);
  }
  {
    const Shape sh = shape_of(r, s, 2); // cgemm_ C,N: A is k x m, B is k x n
    const int lda = sh.k, ldb = sh.k, ldc = sh.m;
    auto a = filled<cfloat>(sz(lda, sh.m), seed), b = filled<cfloat>(sz(ldb, sh.n), seed + 1);
    auto c = filled<cfloat>(sz(ldc, sh.n), seed + 2);
    const cfloat alpha(1.0f, 0.25f), beta(0.0f, 0.0f);
    cgemm_("C", "N", &sh.m, &sh.n, &sh.k, &alpha, a.data(), &lda, b.data(), &ldb, &beta, c.data(),
           &ldc);
    sum += checksum(c);
  }
  {
    const Shape sh = shape_of(r, s, 3); // zgemm_ N,C: A is m x k, B is n x k
    const int lda = sh.m, ldb = sh.n, ldc = sh.m;
    auto a = filled<cdouble>(sz(lda, sh.k), seed), b = filled<cdouble>(sz(ldb, sh.k), seed + 1);
    auto c = filled<cdouble>(sz(ldc, sh.n), seed + 2);
    const cdouble alpha(0.0, 1.0), beta(0.5, 0.0); // purely imaginary alpha is not zero
    zgemm_("N", "C", &sh.m, &sh.n, &sh.k, &alpha, a.data(), &lda, b.data(), &ldb, &beta, c.data(),
           &ldc);
    sum += checksum(c);
  }
  {
    const Shape sh = shape_of(r, s, 4); // row major, A m x k, B n x k (transposed)
    const int lda = sh.k, ldb = sh.k, ldc = sh.n;
    auto a = filled<float>(sz(sh.m, lda), seed), b = filled<float>(sz(sh.n, ldb), seed + 1);
    auto c = filled<float>(sz(sh.m, ldc), seed + 2);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, sh.m, sh.n, sh.k, 2.0f, a.data(), lda,
                b.data(), ldb, 0.0f, c.data(), ldc);
    sum += checksum(c);
  }
  {
    const Shape sh = shape_of(r, s, 5); // column major, A k x m (transposed), B k x n
    const int lda = sh.k, ldb = sh.k, ldc = sh.m;
    auto a = filled<double>(sz(lda, sh.m), seed), b = filled<double>(sz(ldb, sh.n), seed + 1);
    auto c = filled<double>(sz(ldc, sh.n), seed + 2);
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, sh.m, sh.n, sh.k, 1.0, a.data(), lda,
                b.data(), ldb, 1.0, c.data(), ldc);
    sum += checksum(c);
  }
  {
    const Shape sh = shape_of(r, s, 6); // row major, A k x m (conj-transposed), B k x n
    const int lda = sh.m, ldb = sh.n, ldc = sh.n;
    auto a = filled<cfloat>(sz(sh.k, lda), seed), b = filled<cfloat>(sz(sh.k, ldb), seed + 1);
    auto c = filled<cfloat>(sz(sh.m, ldc), seed + 2);
    const cfloat alpha(1.0f, -1.0f), beta(0.5f, 0.5f);
    cblas_cgemm(CblasRowMajor, CblasConjTrans, CblasNoTrans, sh.m, sh.n, sh.k, &alpha, a.data(),
                lda, b.data(), ldb, &beta, c.data(), ldc);
    sum += checksum(c);
  }
  {
    const Shape sh = shape_of(r, s, 7); // column major, no transposes
    const int lda = sh.m, ldb = sh.k, ldc = sh.m;
    auto a = filled<cdouble>(sz(lda, sh.k), seed), b = filled<cdouble>(sz(ldb, sh.n), seed + 1);
    auto c = filled<cdouble>(sz(ldc, sh.n), seed + 2);
    const cdouble alpha(0.5, 0.0), beta(0.0, 0.0);
    cblas_zgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, sh.m, sh.n, sh.k, &alpha, a.data(), lda,
                b.data(), ldb, &beta, c.data(), ldc);
    sum += checksum(c);
  }
  {
    const Shape sh = shape_of(r, s, 8); // sgemv_ N: y(m) = A(m x n) x(n)
    const int lda = sh.m + 1, inc = 1;
    auto a = filled<float>(sz(lda, sh.n), seed), x = filled<float>(sz(sh.n, 1), seed + 1);
    auto y = filled<float>(sz(sh.m, 1), seed + 2);
    const float alpha = 1.0f, beta = 0.25f;
    sgemv_("N", &sh.m, &sh.n, &alpha, a.data(), &lda, x.data(), &inc, &beta, y.data(), &inc);
    sum += checksum(y);
  }
  {
    const Shape sh = shape_of(r, s, 9); // dgemv_ T: y(n) = A(m x n)^T x(m), x strided by 2
    const int lda = sh.m, incx = 2, incy = 1;
    auto a = filled<double>(sz(lda, sh.n), seed);
    auto x = filled<double>(sz(2 * sh.m - 1, 1), seed + 1);
    auto y = filled<double>(sz(sh.n, 1), seed + 2);
    const double alpha = 3.0, beta = -1.0;
    dgemv_("T", &sh.m, &sh.n, &alpha, a.data(), &lda, x.data(), &incx, &beta, y.data(), &incy);
    sum += checksum(y);
  }
  {
    const Shape sh = shape_of(r, s, 10); // invalid: lda < m, BLAS must reject it (xerbla_)
    const int lda = sh.m - 1, ldb = sh.k, ldc = sh.m;
    auto a = filled<float>(sz(sh.m, sh.k), seed), b = filled<float>(sz(ldb, sh.n), seed + 1);
    auto c = filled<float>(sz(ldc, sh.n), seed + 2);
    const float alpha = 1.0f, beta = 1.0f;
    sgemm_("N", "N", &sh.m, &sh.n, &sh.k, &alpha, a.data(), &lda, b.data(), &ldb, &beta, c.data(),
           &ldc);
    sum += checksum(c); // unchanged
  }
  {
    const Shape sh = shape_of(r, s, 11); // alpha = 0: C = beta*C, no multiply-add
    const int lda = sh.m, ldb = sh.k, ldc = sh.m;
    auto a = filled<float>(sz(lda, sh.k), seed), b = filled<float>(sz(ldb, sh.n), seed + 1);
    auto c = filled<float>(sz(ldc, sh.n), seed + 2);
    const float alpha = 0.0f, beta = 2.0f;
    sgemm_("N", "N", &sh.m, &sh.n, &sh.k, &alpha, a.data(), &lda, b.data(), &ldb, &beta, c.data(),
           &ldc);
    sum += checksum(c);
  }
  return sum;
}

[[noreturn]] void usage(const char *argv0, const char *problem) {
  std::fprintf(
      stderr,
      "%s: %s\nusage: %s [--steps N] [--no-api] [--eval-every K] [--same-shapes] [--budget-guard] "
      "[--exit-code C [--exit-rank R]] "
      "[--step-sleep-ms N] [--print-steps] [--print-expected]\n",
      argv0, problem, argv0);
  std::exit(2);
}

long parse_long(const char *argv0, const char *option, const char *text, long lo, long hi) {
  char *end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) {
    const std::string msg = std::string(option) + " '" + text + "': expected an integer in [" +
                            std::to_string(lo) + ", " + std::to_string(hi) + "]";
    usage(argv0, msg.c_str());
  }
  return v;
}

} // namespace

int main(int argc, char **argv) {
  int steps = 5;
  bool use_api = true, print_expected = false, do_exit = false, budget_guard = false;
  int eval_every = 0;
  bool same_shapes = false, print_steps = false;
  long step_sleep_ms = 0;
  int exit_code = 0;
  long exit_rank = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char *option) -> const char * {
      if (i + 1 >= argc) usage(argv[0], (std::string(option) + " needs a value").c_str());
      return argv[++i];
    };
    if (arg == "--steps") {
      steps = static_cast<int>(parse_long(argv[0], "--steps", value("--steps"), 0, 1000));
    } else if (arg == "--no-api") {
      use_api = false;
    } else if (arg == "--exit-code") {
      exit_code =
          static_cast<int>(parse_long(argv[0], "--exit-code", value("--exit-code"), 0, 255));
      do_exit = true;
    } else if (arg == "--exit-rank") {
      exit_rank = parse_long(argv[0], "--exit-rank", value("--exit-rank"), 0, 1L << 30);
    } else if (arg == "--eval-every") {
      eval_every =
          static_cast<int>(parse_long(argv[0], "--eval-every", value("--eval-every"), 1, 1000));
    } else if (arg == "--same-shapes") {
      same_shapes = true;
    } else if (arg == "--step-sleep-ms") {
      step_sleep_ms = parse_long(argv[0], "--step-sleep-ms", value("--step-sleep-ms"), 0, 10000);
    } else if (arg == "--print-steps") {
      print_steps = true;
    } else if (arg == "--budget-guard") {
      budget_guard = true;
    } else if (arg == "--print-expected") {
      print_expected = true;
    } else if (arg == "--help" || arg == "-h") {
      std::printf("usage: %s [--steps N] [--no-api] [--eval-every K] [--same-shapes] "
                  "[--budget-guard] [--exit-code "
                  "C [--exit-rank R]] "
                  "[--step-sleep-ms N] [--print-steps] [--print-expected]\n(see the comment at the "
                  "top of mpi_gemm.cpp)\n",
                  argv[0]);
      return 0;
    } else {
      usage(argv[0], ("unknown argument '" + arg + "'").c_str());
    }
  }

  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  using step_end_fn = int (*)(std::uint64_t);
  step_end_fn step_end = nullptr;
  if (void *sym = dlsym(RTLD_DEFAULT, "flopledger_step_end")) {
    step_end = reinterpret_cast<step_end_fn>(sym);
  }
  const char *api_state = step_end == nullptr ? "absent" : (use_api ? "present" : "disabled");
  using set_phase_fn = int (*)(int);
  using should_stop_fn = int (*)();
  using get_step_fn = std::uint64_t (*)();
  auto set_phase = reinterpret_cast<set_phase_fn>(dlsym(RTLD_DEFAULT, "flopledger_set_phase"));
  auto should_stop =
      reinterpret_cast<should_stop_fn>(dlsym(RTLD_DEFAULT, "flopledger_should_stop"));
  auto get_step = reinterpret_cast<get_step_fn>(dlsym(RTLD_DEFAULT, "flopledger_get_step"));
  const bool api = use_api && step_end != nullptr;

  Expected mine;
  double result_sum = 0;
  std::uint64_t tokens = 0, train_flops = 0, eval_flops = 0;
  int steps_run = 0;
  for (int s = 0; s < steps; ++s) {
    const bool eval_step = eval_every > 0 && (s + 1) % eval_every == 0;
    if (api && eval_step && set_phase != nullptr) set_phase(2); // FLOPLEDGER_PHASE_EVAL
    const int shape_step = same_shapes ? 0 : s;
    result_sum += run_step(rank, shape_step);
    const Expected e = expected_step(rank, shape_step);
    (eval_step ? eval_flops : train_flops) += e.total;
    ++steps_run;
    mine.total += e.total;
    mine.fp32 += e.fp32;
    mine.fp64 += e.fp64;
    mine.blas_gemm += e.blas_gemm;
    mine.cblas_gemm += e.cblas_gemm;
    mine.blas_gemv += e.blas_gemv;
    tokens += 1000 + static_cast<std::uint64_t>(rank);
    if (print_expected) {
      std::printf("rank=%d step=%d flops=%" PRIu64 "\n", rank, s, e.total);
      std::fflush(stdout);
    }
    if (api) {
      const int rc = step_end(1000 + static_cast<std::uint64_t>(rank));
      if (rc != 0 && s == 0) std::fprintf(stderr, "rank %d: flopledger_step_end -> %d\n", rank, rc);
      if (eval_step && set_phase != nullptr) set_phase(0); // back to FLOPLEDGER_PHASE_TRAIN
    }
    if (print_steps) {
      std::printf("rank=%d completed_step=%d\n", rank, s + 1);
      std::fflush(stdout);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (step_sleep_ms > 0) {
      const timespec pause{step_sleep_ms / 1000, (step_sleep_ms % 1000) * 1000000L};
      nanosleep(&pause, nullptr);
    }
    if (api && budget_guard && should_stop != nullptr && should_stop() == 1) {
      std::printf("rank=%d stopped_after_step=%" PRIu64 "\n", rank,
                  get_step != nullptr ? get_step() : static_cast<std::uint64_t>(s + 1));
      std::fflush(stdout);
      break;
    }
  }

  if (print_expected) {
    std::uint64_t local[9] = {mine.total,     mine.fp32,       mine.fp64,
                              mine.blas_gemm, mine.cblas_gemm, mine.blas_gemv,
                              tokens,         train_flops,     eval_flops};
    std::uint64_t global[9] = {};
    MPI_Reduce(local, global, 9, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    int xerbla_total = 0;
    MPI_Reduce(&g_xerbla_calls, &xerbla_total, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    double checksum_total = 0;
    MPI_Reduce(&result_sum, &checksum_total, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) {
      std::printf("expected_total_flops=%" PRIu64 "\n", global[0]);
      std::printf("expected_fp32_flops=%" PRIu64 "\n", global[1]);
      std::printf("expected_fp64_flops=%" PRIu64 "\n", global[2]);
      std::printf("expected_blas_gemm_flops=%" PRIu64 "\n", global[3]);
      std::printf("expected_cblas_gemm_flops=%" PRIu64 "\n", global[4]);
      std::printf("expected_blas_gemv_flops=%" PRIu64 "\n", global[5]);
      std::printf("expected_train_flops=%" PRIu64 "\n", global[7]);
      std::printf("expected_eval_flops=%" PRIu64 "\n", global[8]);
      std::printf("expected_tokens=%" PRIu64 "\n", global[6]);
      std::printf("expected_steps=%d\nranks=%d\n", steps_run, size);
      std::printf("xerbla_calls=%d\n", xerbla_total);
      std::printf("result_checksum=%.17g\n", checksum_total);
      std::printf("api=%s\n", api_state);
      std::fflush(stdout);
    }
  }

  if (do_exit && (exit_rank < 0 || exit_rank == rank)) {
    std::fflush(nullptr);
    std::exit(exit_code); // deliberately without MPI_Finalize
  }
  MPI_Finalize();
  return 0;
}
