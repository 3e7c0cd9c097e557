/* blas_spy — an independent BLAS call counter for the end-to-end tests.
 *
 * Preload it IN FRONT of the runtime (LD_PRELOAD=libblas_spy.so:libflopledger.so) or alone. It
 * defines the Fortran symbols sgemm_ dgemm_ cgemm_ zgemm_ sgemv_ dgemv_ and the CBLAS symbols
 * cblas_sgemm cblas_dgemm cblas_cgemm cblas_zgemm. Each logs the call and then forwards it to the
 * next definition: dlsym(RTLD_NEXT, name) (flopledger, when it is preloaded after the spy),
 * else the first definition found in the loaded objects other than the spy and other than the
 * objects named in LD_PRELOAD (a BLAS that Python loaded with RTLD_LOCAL is invisible to
 * RTLD_NEXT; a preloaded interposer could forward back to the spy).
 *
 * It shares no code with flopledger on purpose: it is "the truth" only because it is a separate,
 * simpler implementation.
 *
 * Log: when BLAS_SPY_DIR is set (and not empty), every process appends to
 * $BLAS_SPY_DIR/spy.<pid>.log one line per call, written with a single write(2) before the call
 * is forwarded:
 *
 *   <function> m=<m> n=<n> k=<k> ta=<c> tb=<c> layout=<F|R|C> alpha0=<0|1> valid=<0|1>
 *   nested=<0|1> prec=<fp32|fp64> kind=<blas_gemm|blas_gemv|cblas_gemm> flops=<decimal> tid=<tid>
 *
 * (one line; fields separated by single spaces; k=0 and tb=- for GEMV; layout F for the Fortran
 * interface, R/C for CBLAS row/column major; ta/tb are the Fortran characters, or N/T/C for
 * CBLAS, ? when invalid). flops is what the call is attributed: 2mnk (real GEMM), 8mnk (complex
 * GEMM), 2mn (real GEMV); 0 when alpha is zero, when the arguments are invalid per the reference
 * BLAS rules, when a dimension is zero, or when the call is nested (made from inside another
 * hooked call on the same thread, e.g. a CBLAS wrapper calling the Fortran symbol): summing the
 * flops column gives the total without double counting.
 *
 * Validity (reference BLAS / CBLAS, the xerbla cases):
 *   Fortran ?gemm: transa, transb in NnTtCc; m, n, k >= 0; lda >= max(1, nrowa),
 *     ldb >= max(1, nrowb), ldc >= max(1, m), nrowa = m if transa is N else k,
 *     nrowb = k if transb is N else n.
 *   Fortran ?gemv: trans in NnTtCc; m, n >= 0; lda >= max(1, m); incx != 0; incy != 0.
 *   cblas_?gemm: layout 101 (row) or 102 (column); trans 111, 112 or 113; m, n, k >= 0;
 *     column major as Fortran; row major: lda >= max(1, transa N ? k : m),
 *     ldb >= max(1, transb N ? n : k), ldc >= max(1, n).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define SPY_EXPORT __attribute__((visibility("default")))

__extension__ typedef unsigned __int128 spy_u128;

/* ---------------------------------------------------------------------------------------------
 * Resolution of the real functions. */

#define SPY_MAX_OBJECTS 2048

struct object_list {
  const char *names[SPY_MAX_OBJECTS];
  size_t count;
  void *self_base; /* load address of the spy, to skip it */
};

static void *spy_self_base(void) {
  Dl_info info;
  if (dladdr((void *)&spy_self_base, &info) == 0) return NULL;
  return info.dli_fbase;
}

static int spy_not_in_self(void *addr, void *self_base) {
  Dl_info info;
  if (addr == NULL) return 0;
  if (dladdr(addr, &info) == 0) return 1;
  return info.dli_fbase != self_base;
}

/* Collects the names of the loaded objects in load order (the loader lock is held here, so the
 * objects are opened only after the iteration). */
static int collect_object(struct dl_phdr_info *info, size_t size, void *data) {
  struct object_list *list = (struct object_list *)data;
  (void)size;
  if (info->dlpi_name == NULL || info->dlpi_name[0] == '\0') return 0; /* main program, vdso */
  if ((void *)info->dlpi_addr == list->self_base) return 0;
  if (list->count == SPY_MAX_OBJECTS) return 1;
  list->names[list->count++] = info->dlpi_name;
  return 0;
}

/* Whether `path` is one of the objects named in LD_PRELOAD (by full name or by file name). The
 * fallback never forwards to those: a preloaded object defining a BLAS symbol is an interposer
 * (the runtime, or another spy) that may forward back here, and only RTLD_NEXT orders them. */
static int spy_is_preloaded(const char *path) {
  const char *list = getenv("LD_PRELOAD");
  if (path == NULL || list == NULL) return 0;
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  while (*list != '\0') {
    size_t len = strcspn(list, ": \t");
    if (len > 0) {
      const char *entry = list;
      const char *entry_base = entry;
      for (size_t i = 0; i < len; ++i) {
        if (entry[i] == '/') entry_base = entry + i + 1;
      }
      const size_t base_len = len - (size_t)(entry_base - entry);
      if ((strlen(path) == len && strncmp(path, entry, len) == 0) ||
          (strlen(base) == base_len && strncmp(base, entry_base, base_len) == 0)) {
        return 1;
      }
    }
    list += len;
    if (*list != '\0') ++list;
  }
  return 0;
}

static void *spy_resolve(const char *symbol) {
  void *self_base = spy_self_base();
  void *p = dlsym(RTLD_NEXT, symbol);
  if (p != NULL && spy_not_in_self(p, self_base)) return p;

  static struct object_list list; /* large: not on the caller's stack */
  static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
  void *found = NULL;
  pthread_mutex_lock(&list_lock);
  list.count = 0;
  list.self_base = self_base;
  dl_iterate_phdr(collect_object, &list);
  for (size_t i = 0; i < list.count && found == NULL; ++i) {
    void *handle = dlopen(list.names[i], RTLD_NOLOAD | RTLD_LAZY);
    if (handle == NULL) continue;
    p = dlsym(handle, symbol);
    if (p != NULL && spy_not_in_self(p, self_base)) {
      Dl_info where;
      if (dladdr(p, &where) == 0 || !spy_is_preloaded(where.dli_fname)) found = p;
    }
    dlclose(handle);
  }
  pthread_mutex_unlock(&list_lock);

  if (found == NULL) {
    static const char msg[] = "blas_spy: no definition of a hooked BLAS function found: ";
    if (write(2, msg, sizeof msg - 1) < 0 || write(2, symbol, strlen(symbol)) < 0 ||
        write(2, "\n", 1) < 0) {
      /* nothing more to do */
    }
    abort();
  }
  return found;
}

/* The real function pointer for `symbol`, cached in *slot (a benign race: every thread resolves
 * the same address). */
static void *spy_real(void **slot, const char *symbol) {
  void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (p == NULL) {
    p = spy_resolve(symbol);
    __atomic_store_n(slot, p, __ATOMIC_RELEASE);
  }
  return p;
}

/* ---------------------------------------------------------------------------------------------
 * The log. */

static pthread_mutex_t spy_log_lock = PTHREAD_MUTEX_INITIALIZER;
static int spy_log_fd = -1;    /* -1: not opened yet in this process; -2: logging disabled */
static __thread int spy_depth; /* hooked calls in progress on this thread */

static void spy_after_fork_child(void) {
  /* The child logs to its own file: reopen on first use. */
  spy_log_fd = -1;
  pthread_mutex_init(&spy_log_lock, NULL);
}

__attribute__((constructor)) static void spy_init(void) {
  pthread_atfork(NULL, NULL, spy_after_fork_child);
}

static int spy_log_open(void) {
  int fd = __atomic_load_n(&spy_log_fd, __ATOMIC_ACQUIRE);
  if (fd != -1) return fd;
  pthread_mutex_lock(&spy_log_lock);
  fd = spy_log_fd;
  if (fd == -1) {
    const char *dir = getenv("BLAS_SPY_DIR");
    fd = -2;
    if (dir != NULL && dir[0] != '\0') {
      char path[4096];
      int n = snprintf(path, sizeof path, "%s/spy.%ld.log", dir, (long)getpid());
      if (n > 0 && (size_t)n < sizeof path) {
        int opened = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (opened >= 0) {
          fd = opened;
        } else {
          fprintf(stderr, "blas_spy: cannot open %s: %s (logging disabled)\n", path,
                  strerror(errno));
        }
      }
    }
    __atomic_store_n(&spy_log_fd, fd, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&spy_log_lock);
  return fd;
}

static size_t spy_u128_decimal(spy_u128 v, char *out) {
  char tmp[48];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + (int)(v % 10));
    v /= 10;
  } while (v != 0);
  for (size_t i = 0; i < n; ++i)
    out[i] = tmp[n - 1 - i];
  out[n] = '\0';
  return n;
}

enum spy_kind { SPY_BLAS_GEMM, SPY_BLAS_GEMV, SPY_CBLAS_GEMM };

struct spy_call {
  const char *function;
  long long m, n, k;
  char ta, tb, layout;
  int alpha_zero, valid, complex_type, double_precision;
  enum spy_kind kind;
};

/* Logs the call (before it runs) and enters it. */
static void spy_enter(const struct spy_call *c) {
  const int nested = spy_depth > 0;
  ++spy_depth;
  int fd = spy_log_open();
  if (fd < 0) return;

  spy_u128 flops = 0;
  if (c->valid && !c->alpha_zero && !nested && c->m > 0 && c->n > 0) {
    flops = (spy_u128)c->m * (spy_u128)c->n * (c->complex_type ? 8u : 2u);
    if (c->kind != SPY_BLAS_GEMV) flops *= (spy_u128)(c->k > 0 ? c->k : 0);
  }
  char decimal[48];
  spy_u128_decimal(flops, decimal);
  static const char *const kinds[] = {"blas_gemm", "blas_gemv", "cblas_gemm"};
  char line[512];
  int n = snprintf(line, sizeof line,
                   "%s m=%lld n=%lld k=%lld ta=%c tb=%c layout=%c alpha0=%d valid=%d nested=%d "
                   "prec=%s kind=%s flops=%s tid=%ld\n",
                   c->function, c->m, c->n, c->k, c->ta, c->tb, c->layout, c->alpha_zero, c->valid,
                   nested, c->double_precision ? "fp64" : "fp32", kinds[c->kind], decimal,
                   (long)syscall(SYS_gettid));
  if (n > 0 && (size_t)n < sizeof line) {
    if (write(fd, line, (size_t)n) < 0) {
      /* a failed log write must not disturb the call */
    }
  }
}

static void spy_leave(void) {
  --spy_depth;
}

/* ---------------------------------------------------------------------------------------------
 * Argument rules. */

static long long max1(long long v) {
  return v > 1 ? v : 1;
}

static int fortran_trans_ok(char t) {
  return t == 'N' || t == 'n' || t == 'T' || t == 't' || t == 'C' || t == 'c';
}
static int fortran_notrans(char t) {
  return t == 'N' || t == 'n';
}

static int fortran_gemm_valid(char ta, char tb, long long m, long long n, long long k,
                              long long lda, long long ldb, long long ldc) {
  if (!fortran_trans_ok(ta) || !fortran_trans_ok(tb)) return 0;
  if (m < 0 || n < 0 || k < 0) return 0;
  const long long nrowa = fortran_notrans(ta) ? m : k;
  const long long nrowb = fortran_notrans(tb) ? k : n;
  return lda >= max1(nrowa) && ldb >= max1(nrowb) && ldc >= max1(m);
}

static int fortran_gemv_valid(char t, long long m, long long n, long long lda, long long incx,
                              long long incy) {
  return fortran_trans_ok(t) && m >= 0 && n >= 0 && lda >= max1(m) && incx != 0 && incy != 0;
}

enum {
  SPY_ROW_MAJOR = 101,
  SPY_COL_MAJOR = 102,
  SPY_NO_TRANS = 111,
  SPY_TRANS = 112,
  SPY_CONJ_TRANS = 113
};

static char cblas_trans_char(int t) {
  switch (t) {
  case SPY_NO_TRANS:
    return 'N';
  case SPY_TRANS:
    return 'T';
  case SPY_CONJ_TRANS:
    return 'C';
  default:
    return '?';
  }
}

static char cblas_layout_char(int layout) {
  return layout == SPY_ROW_MAJOR ? 'R' : (layout == SPY_COL_MAJOR ? 'C' : '?');
}

static int cblas_gemm_valid(int layout, int ta, int tb, long long m, long long n, long long k,
                            long long lda, long long ldb, long long ldc) {
  if (layout != SPY_ROW_MAJOR && layout != SPY_COL_MAJOR) return 0;
  if (cblas_trans_char(ta) == '?' || cblas_trans_char(tb) == '?') return 0;
  if (m < 0 || n < 0 || k < 0) return 0;
  const int a_notrans = ta == SPY_NO_TRANS, b_notrans = tb == SPY_NO_TRANS;
  if (layout == SPY_COL_MAJOR) {
    return lda >= max1(a_notrans ? m : k) && ldb >= max1(b_notrans ? k : n) && ldc >= max1(m);
  }
  return lda >= max1(a_notrans ? k : m) && ldb >= max1(b_notrans ? n : k) && ldc >= max1(n);
}

/* ---------------------------------------------------------------------------------------------
 * The hooked functions. */

#define SPY_REAL(type, name)                                                                       \
  static void *name##_slot;                                                                        \
  type real = (type)spy_real(&name##_slot, #name)

typedef void (*fgemm_t)(const char *, const char *, const int *, const int *, const int *,
                        const void *, const void *, const int *, const void *, const int *,
                        const void *, void *, const int *);
typedef void (*fgemv_t)(const char *, const int *, const int *, const void *, const void *,
                        const int *, const void *, const int *, const void *, void *, const int *);
typedef void (*cgemm_real_t)(int, int, int, int, int, int, float, const float *, int, const float *,
                             int, float, float *, int);
typedef void (*cgemm_double_t)(int, int, int, int, int, int, double, const double *, int,
                               const double *, int, double, double *, int);
typedef void (*cgemm_complex_t)(int, int, int, int, int, int, const void *, const void *, int,
                                const void *, int, const void *, void *, int);

static int real_is_zero_f(const void *alpha) {
  return *(const float *)alpha == 0.0f;
}
static int real_is_zero_d(const void *alpha) {
  return *(const double *)alpha == 0.0;
}
static int complex_is_zero_f(const void *alpha) {
  const float *a = (const float *)alpha;
  return a[0] == 0.0f && a[1] == 0.0f;
}
static int complex_is_zero_d(const void *alpha) {
  const double *a = (const double *)alpha;
  return a[0] == 0.0 && a[1] == 0.0;
}

static void spy_fortran_gemm(const char *function, fgemm_t real, int complex_type,
                             int double_precision, int (*is_zero)(const void *), const char *ta,
                             const char *tb, const int *m, const int *n, const int *k,
                             const void *alpha, const void *a, const int *lda, const void *b,
                             const int *ldb, const void *beta, void *c, const int *ldc) {
  struct spy_call call;
  call.function = function;
  call.m = *m;
  call.n = *n;
  call.k = *k;
  call.ta = *ta;
  call.tb = *tb;
  call.layout = 'F';
  call.alpha_zero = is_zero(alpha);
  call.valid = fortran_gemm_valid(*ta, *tb, *m, *n, *k, *lda, *ldb, *ldc);
  call.complex_type = complex_type;
  call.double_precision = double_precision;
  call.kind = SPY_BLAS_GEMM;
  spy_enter(&call);
  real(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  spy_leave();
}

static void spy_fortran_gemv(const char *function, fgemv_t real, int double_precision,
                             int (*is_zero)(const void *), const char *t, const int *m,
                             const int *n, const void *alpha, const void *a, const int *lda,
                             const void *x, const int *incx, const void *beta, void *y,
                             const int *incy) {
  struct spy_call call;
  call.function = function;
  call.m = *m;
  call.n = *n;
  call.k = 0;
  call.ta = *t;
  call.tb = '-';
  call.layout = 'F';
  call.alpha_zero = is_zero(alpha);
  call.valid = fortran_gemv_valid(*t, *m, *n, *lda, *incx, *incy);
  call.complex_type = 0;
  call.double_precision = double_precision;
  call.kind = SPY_BLAS_GEMV;
  spy_enter(&call);
  real(t, m, n, alpha, a, lda, x, incx, beta, y, incy);
  spy_leave();
}

static void spy_cblas_describe(struct spy_call *call, const char *function, int layout, int ta,
                               int tb, int m, int n, int k, int lda, int ldb, int ldc,
                               int alpha_zero, int complex_type, int double_precision) {
  call->function = function;
  call->m = m;
  call->n = n;
  call->k = k;
  call->ta = cblas_trans_char(ta);
  call->tb = cblas_trans_char(tb);
  call->layout = cblas_layout_char(layout);
  call->alpha_zero = alpha_zero;
  call->valid = cblas_gemm_valid(layout, ta, tb, m, n, k, lda, ldb, ldc);
  call->complex_type = complex_type;
  call->double_precision = double_precision;
  call->kind = SPY_CBLAS_GEMM;
}

SPY_EXPORT void sgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
                       const float *alpha, const float *a, const int *lda, const float *b,
                       const int *ldb, const float *beta, float *c, const int *ldc) {
  SPY_REAL(fgemm_t, sgemm_);
  spy_fortran_gemm("sgemm_", real, 0, 0, real_is_zero_f, ta, tb, m, n, k, alpha, a, lda, b, ldb,
                   beta, c, ldc);
}

SPY_EXPORT void dgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
                       const double *alpha, const double *a, const int *lda, const double *b,
                       const int *ldb, const double *beta, double *c, const int *ldc) {
  SPY_REAL(fgemm_t, dgemm_);
  spy_fortran_gemm("dgemm_", real, 0, 1, real_is_zero_d, ta, tb, m, n, k, alpha, a, lda, b, ldb,
                   beta, c, ldc);
}

SPY_EXPORT void cgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
                       const void *alpha, const void *a, const int *lda, const void *b,
                       const int *ldb, const void *beta, void *c, const int *ldc) {
  SPY_REAL(fgemm_t, cgemm_);
  spy_fortran_gemm("cgemm_", real, 1, 0, complex_is_zero_f, ta, tb, m, n, k, alpha, a, lda, b, ldb,
                   beta, c, ldc);
}

SPY_EXPORT void zgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
                       const void *alpha, const void *a, const int *lda, const void *b,
                       const int *ldb, const void *beta, void *c, const int *ldc) {
  SPY_REAL(fgemm_t, zgemm_);
  spy_fortran_gemm("zgemm_", real, 1, 1, complex_is_zero_d, ta, tb, m, n, k, alpha, a, lda, b, ldb,
                   beta, c, ldc);
}

SPY_EXPORT void sgemv_(const char *t, const int *m, const int *n, const float *alpha,
                       const float *a, const int *lda, const float *x, const int *incx,
                       const float *beta, float *y, const int *incy) {
  SPY_REAL(fgemv_t, sgemv_);
  spy_fortran_gemv("sgemv_", real, 0, real_is_zero_f, t, m, n, alpha, a, lda, x, incx, beta, y,
                   incy);
}

SPY_EXPORT void dgemv_(const char *t, const int *m, const int *n, const double *alpha,
                       const double *a, const int *lda, const double *x, const int *incx,
                       const double *beta, double *y, const int *incy) {
  SPY_REAL(fgemv_t, dgemv_);
  spy_fortran_gemv("dgemv_", real, 1, real_is_zero_d, t, m, n, alpha, a, lda, x, incx, beta, y,
                   incy);
}

SPY_EXPORT void cblas_sgemm(int layout, int ta, int tb, int m, int n, int k, float alpha,
                            const float *a, int lda, const float *b, int ldb, float beta, float *c,
                            int ldc) {
  SPY_REAL(cgemm_real_t, cblas_sgemm);
  struct spy_call call;
  spy_cblas_describe(&call, "cblas_sgemm", layout, ta, tb, m, n, k, lda, ldb, ldc, alpha == 0.0f, 0,
                     0);
  spy_enter(&call);
  real(layout, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  spy_leave();
}

SPY_EXPORT void cblas_dgemm(int layout, int ta, int tb, int m, int n, int k, double alpha,
                            const double *a, int lda, const double *b, int ldb, double beta,
                            double *c, int ldc) {
  SPY_REAL(cgemm_double_t, cblas_dgemm);
  struct spy_call call;
  spy_cblas_describe(&call, "cblas_dgemm", layout, ta, tb, m, n, k, lda, ldb, ldc, alpha == 0.0, 0,
                     1);
  spy_enter(&call);
  real(layout, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  spy_leave();
}

SPY_EXPORT void cblas_cgemm(int layout, int ta, int tb, int m, int n, int k, const void *alpha,
                            const void *a, int lda, const void *b, int ldb, const void *beta,
                            void *c, int ldc) {
  SPY_REAL(cgemm_complex_t, cblas_cgemm);
  struct spy_call call;
  spy_cblas_describe(&call, "cblas_cgemm", layout, ta, tb, m, n, k, lda, ldb, ldc,
                     complex_is_zero_f(alpha), 1, 0);
  spy_enter(&call);
  real(layout, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  spy_leave();
}

SPY_EXPORT void cblas_zgemm(int layout, int ta, int tb, int m, int n, int k, const void *alpha,
                            const void *a, int lda, const void *b, int ldb, const void *beta,
                            void *c, int ldc) {
  SPY_REAL(cgemm_complex_t, cblas_zgemm);
  struct spy_call call;
  spy_cblas_describe(&call, "cblas_zgemm", layout, ta, tb, m, n, k, lda, ldb, ldc,
                     complex_is_zero_d(alpha), 1, 1);
  spy_enter(&call);
  real(layout, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  spy_leave();
}
