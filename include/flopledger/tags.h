/* flopledger — counter tags shared by the runtime, the trace writer and every reader.
 *
 * One X-macro list per tag kind: the C enums below, the C++ name tables in accounting/, the
 * HDF5 column order in io/ and docs/trace-format.md all derive from these lists. Append only:
 * the numeric value of a tag is part of the trace format.
 */
#ifndef FLOPLEDGER_TAGS_H
#define FLOPLEDGER_TAGS_H

/* X(ENUM_SUFFIX, "name") */
#define FLOPLEDGER_PRECISIONS(X)                                                                   \
  X(FP64, "fp64")                                                                                  \
  X(FP32, "fp32")                                                                                  \
  X(TF32, "tf32")                                                                                  \
  X(FP16, "fp16")                                                                                  \
  X(BF16, "bf16")                                                                                  \
  X(FP8, "fp8")                                                                                    \
  X(INT8, "int8")                                                                                  \
  X(OTHER, "other")

#define FLOPLEDGER_PHASES(X)                                                                       \
  X(TRAIN, "train")                                                                                \
  X(RECOMPUTE, "recompute")                                                                        \
  X(EVAL, "eval")                                                                                  \
  X(SYNTHETIC_DATA, "synthetic_data")                                                              \
  X(OTHER, "other")

/* Where a count came from: one entry per counter source registered with the runtime core. */
#define FLOPLEDGER_SOURCES(X)                                                                      \
  X(BLAS_GEMM, "blas_gemm")                                                                        \
  X(BLAS_GEMV, "blas_gemv")                                                                        \
  X(CBLAS_GEMM, "cblas_gemm")                                                                      \
  X(CUBLAS, "cublas")                                                                              \
  X(CUBLASLT, "cublaslt")                                                                          \
  X(API, "api")

#define FLOPLEDGER_X_PRECISION_ENUM(id, name) FLOPLEDGER_PRECISION_##id,
#define FLOPLEDGER_X_PHASE_ENUM(id, name) FLOPLEDGER_PHASE_##id,
#define FLOPLEDGER_X_SOURCE_ENUM(id, name) FLOPLEDGER_SOURCE_##id,

typedef enum flopledger_precision {
  FLOPLEDGER_PRECISIONS(FLOPLEDGER_X_PRECISION_ENUM) FLOPLEDGER_PRECISION_COUNT
} flopledger_precision;

typedef enum flopledger_phase {
  FLOPLEDGER_PHASES(FLOPLEDGER_X_PHASE_ENUM) FLOPLEDGER_PHASE_COUNT
} flopledger_phase;

typedef enum flopledger_source {
  FLOPLEDGER_SOURCES(FLOPLEDGER_X_SOURCE_ENUM) FLOPLEDGER_SOURCE_COUNT
} flopledger_source;

#undef FLOPLEDGER_X_PRECISION_ENUM
#undef FLOPLEDGER_X_PHASE_ENUM
#undef FLOPLEDGER_X_SOURCE_ENUM

/* Regulatory status, as stored in the trace (uint8) and returned by the C API. */
typedef enum flopledger_status_code {
  FLOPLEDGER_STATUS_DOWNSTREAM_USER = 0,
  FLOPLEDGER_STATUS_PROVIDER = 1,
  FLOPLEDGER_STATUS_PROVIDER_SYSTEMIC_RISK = 2
} flopledger_status_code;

#endif /* FLOPLEDGER_TAGS_H */
