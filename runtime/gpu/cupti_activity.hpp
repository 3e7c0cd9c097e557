// CUPTI coverage at run time: libcupti loaded with dlopen (no link dependency), the Activity API
// with CONCURRENT_KERNEL (never the serialising KERNEL kind) and EXTERNAL_CORRELATION records,
// the external correlation ids pushed by the cuBLAS/cuBLASLt hooks (correlation.hpp), and the
// per-period kernel times of kernel_times.hpp. Backs off, saying why, when another CUPTI client
// holds CUPTI or when the process has no CUDA.
#pragma once

#include <cstdint>
#include <string>

#include "kernel_times.hpp"

namespace flopledger::runtime::gpu {

/// The push/pop pair the seam calls (cuptiActivity{Push,Pop}ExternalCorrelationId's shape).
struct CorrelationApi {
  int (*push)(std::uint32_t kind, std::uint64_t id) = nullptr;
  int (*pop)(std::uint32_t kind, std::uint64_t *last_id) = nullptr;
};

/// Installs the table counted_call_begin/end use; nullptr turns them into near-free no-ops.
/// The table must outlive every call (a static). Tests install a fake one.
void set_correlation_api(const CorrelationApi *api) noexcept;

/// Whether a CUDA library (libcuda, libcudart) is loaded in the process now.
bool cupti_cuda_loaded() noexcept;

/// Starts CUPTI activity collection. Returns false, with `detail` saying why, when CUPTI is not
/// used: no CUDA library in the process, libcupti missing or of another major version, another
/// CUPTI client present (Nsight's injection, a subscriber such as PyTorch's profiler), or a
/// failing call. On success `detail` names the library. Never throws.
bool cupti_start(std::string &detail);

/// The kernel times completed since the previous call (flushes CUPTI's completed buffers; no
/// device synchronisation). Zero when CUPTI is not active.
KernelTimes cupti_take();

/// Flushes, disables the activity kinds and stops attributing.
void cupti_stop();

} // namespace flopledger::runtime::gpu
