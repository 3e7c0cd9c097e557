// The pure part of CUPTI coverage: activity records in, per-period kernel times out. No CUPTI
// library is needed here: the records are CUPTI's own structs (cupti_activity.h, CUPTI 13), and
// the buffer is walked by a function the caller supplies (cuptiActivityGetNextRecord at run
// time, a plain walker over synthetic records in the tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace flopledger::runtime::gpu {

/// What a kernel is, by its name, when no counted call launched it.
enum class KernelClass { Attention, Nccl, Other };

/// flash / fmha / attn / sdpa / attention (FlashAttention, xFormers, cuDNN SDPA, PyTorch's
/// memory-efficient attention, Triton attention kernels) -> Attention; nccl -> Nccl; else Other.
/// Case-insensitive, on the mangled or demangled name.
KernelClass classify_kernel(std::string_view name);

/// One period's GPU kernel time on this rank, in ns (sums of kernel durations: concurrent kernels
/// overlap, so the sum can exceed wall time, which keeps the upper bound an upper bound).
struct KernelTimes {
  std::uint64_t counted_ns = 0;      ///< kernels launched by a counted cuBLAS/cuBLASLt call
  std::uint64_t attention_ns = 0;    ///< unattributed kernels named like attention
  std::uint64_t nccl_ns = 0;         ///< NCCL kernels (communication, no model FLOPs)
  std::uint64_t unattributed_ns = 0; ///< every other kernel
  std::uint64_t kernels = 0;         ///< kernel records seen
  std::uint64_t dropped_records = 0; ///< records CUPTI reported dropped (the bound is then low)

  KernelTimes &operator+=(const KernelTimes &other);
};

/// The external-correlation kind flopledger pushes (CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0).
constexpr std::uint32_t kFlopledgerExternalKind = 3;

/// Returns the next record after `*record` (nullptr: the first) in `buffer`, or false at the end.
using NextRecordFn = bool (*)(std::uint8_t *buffer, std::size_t valid_size, void **record);

/// Consumes completed CUPTI buffers (called on CUPTI's thread) and hands out per-period totals
/// (called on the meter thread). CUPTI writes an EXTERNAL_CORRELATION record when the API call
/// launches and the kernel record when the kernel ends, so the correlation records of a buffer
/// are read before its kernels, and the map of correlation id -> flopledger call persists across
/// buffers (a call may launch several kernels). The map is cleared at 65536 entries: a kernel
/// ending that many counted calls after its own launch falls back to its name.
class KernelTimeAggregator {
public:
  explicit KernelTimeAggregator(NextRecordFn next) : next_(next) {}

  /// Parses one buffer: CONCURRENT_KERNEL and EXTERNAL_CORRELATION records; other kinds ignored.
  void consume(std::uint8_t *buffer, std::size_t valid_size, std::size_t dropped = 0);
  /// The totals since the previous call.
  KernelTimes take();

private:
  NextRecordFn next_;
  std::mutex mutex_;
  KernelTimes pending_;
  std::unordered_map<std::uint32_t, std::uint64_t> external_of_; ///< CUPTI correlation -> ours
};

} // namespace flopledger::runtime::gpu
