// The seam between the cuBLAS/cuBLASLt hooks and CUPTI activity attribution.
#pragma once

#include <cstdint>

#include "flopledger/tags.h"

namespace flopledger::runtime::gpu {

/// Called by a cuBLAS/cuBLASLt hook on the calling thread just before the real call, when the
/// call's FLOPs are known. Pushes an external correlation id so that CUPTI can attribute the
/// kernels the call launches. Cheap (no lock on the hot path), never throws.
void counted_call_begin(std::uint64_t flops, flopledger_precision precision) noexcept;

/// Called after the real call returns; `counted` is false when the call failed (not counted).
void counted_call_end(bool counted) noexcept;

} // namespace flopledger::runtime::gpu
