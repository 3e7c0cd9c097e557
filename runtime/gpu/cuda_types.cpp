#include "cuda_types.hpp"

namespace flopledger::runtime::gpu {

Field field_of(cudaDataType_t type) {
  switch (type) {
  case CUDA_C_16F:
  case CUDA_C_16BF:
  case CUDA_C_32F:
  case CUDA_C_64F:
  case CUDA_C_4I:
  case CUDA_C_4U:
  case CUDA_C_8I:
  case CUDA_C_8U:
  case CUDA_C_16I:
  case CUDA_C_16U:
  case CUDA_C_32I:
  case CUDA_C_32U:
  case CUDA_C_64I:
  case CUDA_C_64U:
    return Field::Complex;
  default:
    return Field::Real;
  }
}

flopledger_precision precision_of_data(cudaDataType_t type) {
  switch (type) {
  case CUDA_R_32F:
  case CUDA_C_32F:
    return FLOPLEDGER_PRECISION_FP32;
  case CUDA_R_64F:
  case CUDA_C_64F:
    return FLOPLEDGER_PRECISION_FP64;
  case CUDA_R_16F:
  case CUDA_C_16F:
    return FLOPLEDGER_PRECISION_FP16;
  case CUDA_R_16BF:
  case CUDA_C_16BF:
    return FLOPLEDGER_PRECISION_BF16;
  case CUDA_R_8F_E4M3:
  case CUDA_R_8F_E5M2:
    return FLOPLEDGER_PRECISION_FP8;
  case CUDA_R_8I:
  case CUDA_C_8I:
  case CUDA_R_8U:
  case CUDA_C_8U:
    return FLOPLEDGER_PRECISION_INT8;
  default:
    return FLOPLEDGER_PRECISION_OTHER;
  }
}

flopledger_precision precision_of(cublasComputeType_t compute, cudaDataType_t a_type) {
  switch (compute) {
  case CUBLAS_COMPUTE_16F:
  case CUBLAS_COMPUTE_16F_PEDANTIC:
  case CUBLAS_COMPUTE_32F_FAST_16F:
    return FLOPLEDGER_PRECISION_FP16;
  case CUBLAS_COMPUTE_32F_FAST_16BF:
    return FLOPLEDGER_PRECISION_BF16;
  case CUBLAS_COMPUTE_32F_FAST_TF32:
    return FLOPLEDGER_PRECISION_TF32;
  // The emulations deliver the accuracy of the type they emulate: the logical GEMM is counted.
  case CUBLAS_COMPUTE_32F_EMULATED_16BFX9:
    return FLOPLEDGER_PRECISION_FP32;
  case CUBLAS_COMPUTE_64F:
  case CUBLAS_COMPUTE_64F_PEDANTIC:
  case CUBLAS_COMPUTE_64F_EMULATED_FIXEDPOINT:
    return FLOPLEDGER_PRECISION_FP64;
  case CUBLAS_COMPUTE_32I:
  case CUBLAS_COMPUTE_32I_PEDANTIC: {
    const flopledger_precision data = precision_of_data(a_type);
    return data == FLOPLEDGER_PRECISION_INT8 ? data : FLOPLEDGER_PRECISION_OTHER;
  }
  case CUBLAS_COMPUTE_32F:
  case CUBLAS_COMPUTE_32F_PEDANTIC: {
    const flopledger_precision data = precision_of_data(a_type);
    return data == FLOPLEDGER_PRECISION_FP64 ? FLOPLEDGER_PRECISION_OTHER : data;
  }
  default:
    return FLOPLEDGER_PRECISION_OTHER;
  }
}

} // namespace flopledger::runtime::gpu
