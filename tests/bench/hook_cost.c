/* Cost of one hooked BLAS call: times N back-to-back calls of a tiny sgemm_ / cblas_sgemm.
 *
 *   hook_cost [N [CASE]]    N: timed calls per case (default 200000); CASE: run only that case
 *
 * Prints one line per case: "case=<name> calls=<N> ns_per_call=<x>". The process first makes
 * kProcessWarmup untimed calls of every selected case (the first case of an unmetered process
 * was otherwise up to 45% slower in some runs: the metered process had warmed up in the
 * runtime's start), then each case makes kWarmup untimed calls before its timed ones (fixed
 * numbers, independent of N, so that instruction counts taken at two values of N differ only by
 * the timed calls). Run it once plain and once with
 * LD_PRELOAD=libflopledger.so: the difference is what the hook adds per call.
 * Build: cc -O2 -Wall -Wextra -Werror hook_cost.c -o hook_cost -lopenblas */
#define _POSIX_C_SOURCE 199309L
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

/* Fortran BLAS, declared by hand: gfortran passes the CHARACTER lengths as trailing size_t. */
void sgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k,
            const float *alpha, const float *a, const int *lda, const float *b, const int *ldb,
            const float *beta, float *c, const int *ldc, size_t transa_len, size_t transb_len);

enum { kProcessWarmup = 20000, kWarmup = 2000, kMaxDim = 16 };

static float g_a[kMaxDim * kMaxDim], g_b[kMaxDim * kMaxDim], g_c[kMaxDim * kMaxDim];

typedef void (*Loop)(long calls, int dim);

static void fortran_loop(long calls, int dim) {
  const float alpha = 1.0f, beta = 0.0f;
  for (long i = 0; i < calls; ++i)
    sgemm_("N", "N", &dim, &dim, &dim, &alpha, g_a, &dim, g_b, &dim, &beta, g_c, &dim, 1, 1);
}

static void cblas_loop(long calls, int dim) {
  for (long i = 0; i < calls; ++i)
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, dim, dim, dim, 1.0f, g_a, dim, g_b, dim,
                0.0f, g_c, dim);
}

struct Case {
  const char *name;
  Loop loop;
  int dim;
};

static const struct Case kCases[] = {
    {"sgemm_2x2x2", fortran_loop, 2},
    {"sgemm_16x16x16", fortran_loop, 16},
    {"cblas_sgemm_2x2x2", cblas_loop, 2},
    {"cblas_sgemm_16x16x16", cblas_loop, 16},
};

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  long calls = 200000;
  const char *only = NULL;
  if (argc > 1) {
    char *end = NULL;
    calls = strtol(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || calls <= 0) {
      fprintf(stderr, "hook_cost: N must be a positive integer, got '%s'\n", argv[1]);
      return 2;
    }
  }
  if (argc > 2) only = argv[2];
  if (argc > 3) {
    fprintf(stderr, "usage: hook_cost [N [CASE]]\n");
    return 2;
  }

  for (int i = 0; i < kMaxDim * kMaxDim; ++i) {
    g_a[i] = (float)(i % 7) * 0.25f;
    g_b[i] = (float)(i % 5) * 0.5f;
  }

  for (size_t c = 0; c < sizeof kCases / sizeof kCases[0]; ++c)
    if (only == NULL || strcmp(only, kCases[c].name) == 0)
      kCases[c].loop(kProcessWarmup, kCases[c].dim);

  int ran = 0;
  double checksum = 0.0;
  for (size_t c = 0; c < sizeof kCases / sizeof kCases[0]; ++c) {
    const struct Case *cs = &kCases[c];
    if (only != NULL && strcmp(only, cs->name) != 0) continue;
    cs->loop(kWarmup, cs->dim);
    const double start = now_ns();
    cs->loop(calls, cs->dim);
    const double elapsed = now_ns() - start;
    checksum += g_c[0];
    printf("case=%s calls=%ld ns_per_call=%.2f\n", cs->name, calls, elapsed / (double)calls);
    fflush(stdout);
    ++ran;
  }
  if (ran == 0) {
    fprintf(stderr, "hook_cost: unknown case '%s'; cases:", only);
    for (size_t c = 0; c < sizeof kCases / sizeof kCases[0]; ++c)
      fprintf(stderr, " %s", kCases[c].name);
    fprintf(stderr, "\n");
    return 2;
  }
  /* Keeps the results observable; checksum is meaningless beyond that. */
  if (checksum != checksum) fprintf(stderr, "hook_cost: NaN result\n");
  return 0;
}
