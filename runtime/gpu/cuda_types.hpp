// What a cuBLAS / cuBLASLt call's data and compute types mean for the ledger: the precision class
// its FLOPs are tagged with and whether the GEMM is real or complex (8 FLOP per complex
// multiply-add). The table is documented in docs/gpu.md ("Precision classes").
#pragma once

#include <library_types.h>

#include <cublas_api.h>

#include "accounting/gemm.hpp"
#include "flopledger/tags.h"

namespace flopledger::runtime::gpu {

/// Complex for the CUDA_C_* types, Real for every other type.
Field field_of(cudaDataType_t type);

/// The precision class of data stored as `type` and multiplied in FP32 (CUBLAS_COMPUTE_32F):
/// fp32 for R/C_32F, fp16 for R/C_16F, bf16 for R/C_16BF, fp8 for the E4M3 and E5M2 types, int8
/// for R/C_8I and R/C_8U, fp64 for R/C_64F; other (fp6, fp4, integer types) otherwise.
flopledger_precision precision_of_data(cudaDataType_t type);

/// The precision class of a GEMM with compute type `compute` on inputs of type `a_type` (the
/// type of A; cuBLAS requires B to match it). The compute type decides when it names a precision
/// (16F, the FAST_* modes, 64F, the emulations), the input type otherwise (32F, 32I); an unknown
/// compute type gives `other`.
flopledger_precision precision_of(cublasComputeType_t compute, cudaDataType_t a_type);

} // namespace flopledger::runtime::gpu
