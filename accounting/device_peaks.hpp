// Dense peak FLOP/s per precision of current data-centre GPUs, matched by the NVML device name,
// and the rules that combine the table with a configured peak (HARDWARE_PEAK_FLOPS). Every
// figure is an exact integer FLOP/s taken from the vendor's data sheet, without sparsity; the
// source of each row is in docs/gpu.md ("Device peak table").
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "accounting/exact.hpp"
#include "accounting/tags.hpp"

namespace flopledger {

/// One row of the table. A peak of 0 means the data sheet gives no figure for that precision.
struct DevicePeak {
  std::string_view model;  ///< e.g. "H100 SXM"
  std::string_view match;  ///< words that must all appear in the NVML name, e.g. "h100 pcie"
  std::string_view source; ///< data sheet and date, as in docs/gpu.md
  std::array<u128, kPrecisions> flops_per_second; ///< indexed by flopledger_precision
};

/// Every row, most specific names first.
const std::array<DevicePeak, 11> &device_peaks();

/// The row for an NVML device name (e.g. "NVIDIA H100 80GB HBM3"), or nullptr when the device
/// is not in the table. Matching is case-insensitive on whole words (see docs/gpu.md).
const DevicePeak *find_device_peak(std::string_view nvml_name);

/// Where the peak used for a hardware figure came from.
enum class PeakOrigin {
  Configured, ///< HARDWARE_PEAK_FLOPS: always wins
  Table,      ///< the device peak table
  Unknown,    ///< neither: no hardware figure is given
};

struct ResolvedPeak {
  PeakOrigin origin = PeakOrigin::Unknown;
  u128 flops_per_second = 0; ///< 0 when Unknown
  std::string reason;        ///< why Unknown, naming the device and precision
};

/// The peak for `precision` on the device named `nvml_name`: the configured peak when it is not
/// 0, else the table's figure, else Unknown with a reason ("" device name: no device known).
ResolvedPeak resolve_peak(u128 configured_peak, std::string_view nvml_name, std::size_t precision);

/// The peak to bound un-counted kernel time with: the highest table peak among the precisions
/// that have counted FLOPs (`in_use[p]`), so that the bound stays an upper bound; the configured
/// peak when set. Unknown when nothing is in use or the table has no figure for those precisions.
ResolvedPeak peak_for_precisions(u128 configured_peak, std::string_view nvml_name,
                                 const std::array<bool, kPrecisions> &in_use);

/// The hardware upper bound of a period: counted + ceil((unattributed non-NCCL kernel ns +
/// attention ns) x peak / 1e9), saturated at 2^128-1.
u128 upper_bound_flops(u128 counted, std::uint64_t unattributed_ns, std::uint64_t attention_ns,
                       u128 peak_flops_per_second);

} // namespace flopledger
