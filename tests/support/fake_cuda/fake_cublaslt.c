/* A fake libcublasLt.so.13 for the tests: it stands for NVIDIA's cuBLASLt library where there is
 * no GPU. Same soname, same symbol version (cublasLtMatmul@@libcublasLt.so.13), the real header's
 * prototypes; descriptors and layouts keep their attributes like the real ones, and
 * cublasLtMatmul checks the shapes (op(A) m x k, op(B) k x n, C and D m x n, batch counts) and
 * computes nothing. A call with inconsistent shapes returns CUBLAS_STATUS_INVALID_VALUE, as the
 * real library does. It is never part of flopledger. */
#include <cublasLt.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct FakeDesc {
  int32_t compute, scale, transa, transb;
};

struct FakeLayout {
  uint32_t type;
  uint64_t rows, cols;
  int64_t ld, stride;
  int32_t batch;
};

static cublasStatus_t put(void *buf, size_t size, size_t *written, const void *value, size_t n) {
  if (written != NULL) *written = n;
  if (size == 0 && written != NULL) return CUBLAS_STATUS_SUCCESS; /* size query */
  if (buf == NULL || size < n) return CUBLAS_STATUS_INVALID_VALUE;
  memcpy(buf, value, n);
  return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t take(void *field, size_t field_size, const void *buf, size_t size) {
  if (buf == NULL || size != field_size) return CUBLAS_STATUS_INVALID_VALUE;
  memcpy(field, buf, size);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle) {
  *handle = (cublasLtHandle_t)malloc(16);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
  free(handle);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *desc, cublasComputeType_t compute,
                                        cudaDataType_t scale) {
  struct FakeDesc *d = calloc(1, sizeof *d);
  d->compute = compute;
  d->scale = scale;
  *desc = (cublasLtMatmulDesc_t)d;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
  free(desc);
  return CUBLAS_STATUS_SUCCESS;
}

static void *desc_field(struct FakeDesc *d, cublasLtMatmulDescAttributes_t attr) {
  switch (attr) {
  case CUBLASLT_MATMUL_DESC_COMPUTE_TYPE:
    return &d->compute;
  case CUBLASLT_MATMUL_DESC_SCALE_TYPE:
    return &d->scale;
  case CUBLASLT_MATMUL_DESC_TRANSA:
    return &d->transa;
  case CUBLASLT_MATMUL_DESC_TRANSB:
    return &d->transb;
  default:
    return NULL;
  }
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc,
                                              cublasLtMatmulDescAttributes_t attr, const void *buf,
                                              size_t size) {
  void *field = desc_field((struct FakeDesc *)desc, attr);
  return field == NULL ? CUBLAS_STATUS_INVALID_VALUE : take(field, sizeof(int32_t), buf, size);
}

cublasStatus_t cublasLtMatmulDescGetAttribute(cublasLtMatmulDesc_t desc,
                                              cublasLtMatmulDescAttributes_t attr, void *buf,
                                              size_t size, size_t *written) {
  void *field = desc_field((struct FakeDesc *)desc, attr);
  return field == NULL ? CUBLAS_STATUS_INVALID_VALUE
                       : put(buf, size, written, field, sizeof(int32_t));
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *layout, cudaDataType type,
                                          uint64_t rows, uint64_t cols, int64_t ld) {
  struct FakeLayout *l = calloc(1, sizeof *l);
  l->type = (uint32_t)type;
  l->rows = rows;
  l->cols = cols;
  l->ld = ld;
  l->batch = 1;
  *layout = (cublasLtMatrixLayout_t)l;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
  free(layout);
  return CUBLAS_STATUS_SUCCESS;
}

static void *layout_field(struct FakeLayout *l, cublasLtMatrixLayoutAttribute_t attr,
                          size_t *size) {
  switch (attr) {
  case CUBLASLT_MATRIX_LAYOUT_TYPE:
    *size = 4;
    return &l->type;
  case CUBLASLT_MATRIX_LAYOUT_ROWS:
    *size = 8;
    return &l->rows;
  case CUBLASLT_MATRIX_LAYOUT_COLS:
    *size = 8;
    return &l->cols;
  case CUBLASLT_MATRIX_LAYOUT_LD:
    *size = 8;
    return &l->ld;
  case CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT:
    *size = 4;
    return &l->batch;
  case CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET:
    *size = 8;
    return &l->stride;
  default:
    return NULL;
  }
}

cublasStatus_t cublasLtMatrixLayoutSetAttribute(cublasLtMatrixLayout_t layout,
                                                cublasLtMatrixLayoutAttribute_t attr,
                                                const void *buf, size_t size) {
  size_t field_size = 0;
  void *field = layout_field((struct FakeLayout *)layout, attr, &field_size);
  return field == NULL ? CUBLAS_STATUS_INVALID_VALUE : take(field, field_size, buf, size);
}

cublasStatus_t cublasLtMatrixLayoutGetAttribute(cublasLtMatrixLayout_t layout,
                                                cublasLtMatrixLayoutAttribute_t attr, void *buf,
                                                size_t size, size_t *written) {
  size_t field_size = 0;
  void *field = layout_field((struct FakeLayout *)layout, attr, &field_size);
  return field == NULL ? CUBLAS_STATUS_INVALID_VALUE : put(buf, size, written, field, field_size);
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t computeDesc,
                              const void *alpha, const void *A, cublasLtMatrixLayout_t Adesc,
                              const void *B, cublasLtMatrixLayout_t Bdesc, const void *beta,
                              const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
                              cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo,
                              void *workspace, size_t workspaceSizeInBytes, cudaStream_t stream) {
  (void)alpha, (void)A, (void)B, (void)beta, (void)C, (void)D, (void)algo, (void)workspace;
  (void)workspaceSizeInBytes, (void)stream;
  if (handle == NULL) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (computeDesc == NULL || !Adesc || !Bdesc || !Cdesc || !Ddesc)
    return CUBLAS_STATUS_INVALID_VALUE;
  const struct FakeDesc *d = (const struct FakeDesc *)computeDesc;
  const struct FakeLayout *a = (const void *)Adesc, *b = (const void *)Bdesc,
                          *c = (const void *)Cdesc, *o = (const void *)Ddesc;
  const uint64_t m = o->rows, n = o->cols;
  const uint64_t k = d->transa != CUBLAS_OP_N ? a->rows : a->cols;
  const uint64_t am = d->transa != CUBLAS_OP_N ? a->cols : a->rows;
  const uint64_t bk = d->transb != CUBLAS_OP_N ? b->cols : b->rows;
  const uint64_t bn = d->transb != CUBLAS_OP_N ? b->rows : b->cols;
  if (am != m || bk != k || bn != n || c->rows != m || c->cols != n)
    return CUBLAS_STATUS_INVALID_VALUE;
  if ((a->batch != 1 && a->batch != o->batch) || (b->batch != 1 && b->batch != o->batch) ||
      (c->batch != 1 && c->batch != o->batch))
    return CUBLAS_STATUS_INVALID_VALUE;
  return CUBLAS_STATUS_SUCCESS;
}
