// The precision class and real/complex field of every cuBLAS data / compute type combination the
// hooks meet (the table of docs/gpu.md, "Precision classes").
#include <doctest/doctest.h>

#include "gpu/cuda_types.hpp"

using namespace flopledger;
using namespace flopledger::runtime::gpu;

TEST_CASE("cuda types: complex data types make 8mnk GEMMs") {
  for (cudaDataType_t t :
       {CUDA_C_16F, CUDA_C_16BF, CUDA_C_32F, CUDA_C_64F, CUDA_C_8I, CUDA_C_8U, CUDA_C_32I})
    CHECK(field_of(t) == Field::Complex);
  for (cudaDataType_t t : {CUDA_R_16F, CUDA_R_16BF, CUDA_R_32F, CUDA_R_64F, CUDA_R_8I, CUDA_R_8U,
                           CUDA_R_8F_E4M3, CUDA_R_8F_E5M2, CUDA_R_4F_E2M1, CUDA_R_32I})
    CHECK(field_of(t) == Field::Real);
}

TEST_CASE("cuda types: data type to precision class (FP32 compute)") {
  CHECK(precision_of_data(CUDA_R_32F) == FLOPLEDGER_PRECISION_FP32);
  CHECK(precision_of_data(CUDA_C_32F) == FLOPLEDGER_PRECISION_FP32);
  CHECK(precision_of_data(CUDA_R_64F) == FLOPLEDGER_PRECISION_FP64);
  CHECK(precision_of_data(CUDA_C_64F) == FLOPLEDGER_PRECISION_FP64);
  CHECK(precision_of_data(CUDA_R_16F) == FLOPLEDGER_PRECISION_FP16);
  CHECK(precision_of_data(CUDA_C_16F) == FLOPLEDGER_PRECISION_FP16);
  CHECK(precision_of_data(CUDA_R_16BF) == FLOPLEDGER_PRECISION_BF16);
  CHECK(precision_of_data(CUDA_R_8F_E4M3) == FLOPLEDGER_PRECISION_FP8);
  CHECK(precision_of_data(CUDA_R_8F_E5M2) == FLOPLEDGER_PRECISION_FP8);
  CHECK(precision_of_data(CUDA_R_8I) == FLOPLEDGER_PRECISION_INT8);
  CHECK(precision_of_data(CUDA_R_8U) == FLOPLEDGER_PRECISION_INT8);
  CHECK(precision_of_data(CUDA_C_8I) == FLOPLEDGER_PRECISION_INT8);
  CHECK(precision_of_data(CUDA_R_4F_E2M1) == FLOPLEDGER_PRECISION_OTHER);
  CHECK(precision_of_data(CUDA_R_6F_E2M3) == FLOPLEDGER_PRECISION_OTHER);
  CHECK(precision_of_data(CUDA_R_32I) == FLOPLEDGER_PRECISION_OTHER);
  CHECK(precision_of_data(static_cast<cudaDataType_t>(999)) == FLOPLEDGER_PRECISION_OTHER);
}

TEST_CASE("cuda types: the compute type decides when it names a precision") {
  // Whatever the inputs, these compute types fix the precision class.
  for (cudaDataType_t a : {CUDA_R_32F, CUDA_R_16F, CUDA_C_32F}) {
    CHECK(precision_of(CUBLAS_COMPUTE_16F, a) == FLOPLEDGER_PRECISION_FP16);
    CHECK(precision_of(CUBLAS_COMPUTE_16F_PEDANTIC, a) == FLOPLEDGER_PRECISION_FP16);
    CHECK(precision_of(CUBLAS_COMPUTE_32F_FAST_16F, a) == FLOPLEDGER_PRECISION_FP16);
    CHECK(precision_of(CUBLAS_COMPUTE_32F_FAST_16BF, a) == FLOPLEDGER_PRECISION_BF16);
    CHECK(precision_of(CUBLAS_COMPUTE_32F_FAST_TF32, a) == FLOPLEDGER_PRECISION_TF32);
    CHECK(precision_of(CUBLAS_COMPUTE_32F_EMULATED_16BFX9, a) == FLOPLEDGER_PRECISION_FP32);
  }
  CHECK(precision_of(CUBLAS_COMPUTE_64F, CUDA_R_64F) == FLOPLEDGER_PRECISION_FP64);
  CHECK(precision_of(CUBLAS_COMPUTE_64F_PEDANTIC, CUDA_C_64F) == FLOPLEDGER_PRECISION_FP64);
  CHECK(precision_of(CUBLAS_COMPUTE_64F_EMULATED_FIXEDPOINT, CUDA_R_64F) ==
        FLOPLEDGER_PRECISION_FP64);
}

TEST_CASE("cuda types: FP32 and INT32 compute take the class of the inputs") {
  CHECK(precision_of(CUBLAS_COMPUTE_32F, CUDA_R_32F) == FLOPLEDGER_PRECISION_FP32);
  CHECK(precision_of(CUBLAS_COMPUTE_32F_PEDANTIC, CUDA_R_32F) == FLOPLEDGER_PRECISION_FP32);
  CHECK(precision_of(CUBLAS_COMPUTE_32F, CUDA_C_32F) == FLOPLEDGER_PRECISION_FP32);
  CHECK(precision_of(CUBLAS_COMPUTE_32F, CUDA_R_16F) == FLOPLEDGER_PRECISION_FP16);
  CHECK(precision_of(CUBLAS_COMPUTE_32F, CUDA_R_16BF) == FLOPLEDGER_PRECISION_BF16);
  CHECK(precision_of(CUBLAS_COMPUTE_32F, CUDA_R_8F_E4M3) == FLOPLEDGER_PRECISION_FP8);
  CHECK(precision_of(CUBLAS_COMPUTE_32F, CUDA_R_8F_E5M2) == FLOPLEDGER_PRECISION_FP8);
  CHECK(precision_of(CUBLAS_COMPUTE_32F, CUDA_R_8I) == FLOPLEDGER_PRECISION_INT8);
  CHECK(precision_of(CUBLAS_COMPUTE_32F, CUDA_R_4F_E2M1) == FLOPLEDGER_PRECISION_OTHER);
  CHECK(precision_of(CUBLAS_COMPUTE_32F, CUDA_R_64F) == FLOPLEDGER_PRECISION_OTHER); // no such GEMM
  CHECK(precision_of(CUBLAS_COMPUTE_32I, CUDA_R_8I) == FLOPLEDGER_PRECISION_INT8);
  CHECK(precision_of(CUBLAS_COMPUTE_32I_PEDANTIC, CUDA_R_8U) == FLOPLEDGER_PRECISION_INT8);
  CHECK(precision_of(CUBLAS_COMPUTE_32I, CUDA_R_32F) == FLOPLEDGER_PRECISION_OTHER);
  CHECK(precision_of(static_cast<cublasComputeType_t>(12345), CUDA_R_32F) ==
        FLOPLEDGER_PRECISION_OTHER);
}
