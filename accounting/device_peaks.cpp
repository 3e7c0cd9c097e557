#include "accounting/device_peaks.hpp"

#include <vector>

namespace flopledger {

namespace {

constexpr u128 giga(std::uint64_t gflops) {
  return static_cast<u128>(gflops) * 1000000000u;
}

// Columns: fp64, fp32, tf32, fp16, bf16, fp8, int8, other. Tensor-core figures where the data
// sheet has one (fp64 on A100/H100/H200/B200/GB200 is the FP64 Tensor Core figure, which DGEMM
// reaches); sparsity figures halved to dense. Sources and dates: docs/gpu.md.
constexpr std::array<u128, kPrecisions> row(std::uint64_t fp64, std::uint64_t fp32,
                                            std::uint64_t tf32, std::uint64_t fp16,
                                            std::uint64_t bf16, std::uint64_t fp8,
                                            std::uint64_t int8) {
  return {giga(fp64), giga(fp32), giga(tf32), giga(fp16), giga(bf16), giga(fp8), giga(int8), 0};
}

constexpr const char *kA100 = "NVIDIA A100 Tensor Core GPU data sheet (2021)";
constexpr const char *kH100 = "NVIDIA H100 Tensor Core GPU data sheet (2023)";
constexpr const char *kH200 = "NVIDIA H200 Tensor Core GPU product brief (2024)";
constexpr const char *kL40S = "NVIDIA L40S GPU data sheet (2023)";
constexpr const char *kL4 = "NVIDIA L4 Tensor Core GPU data sheet (2023)";
constexpr const char *kB200 = "NVIDIA HGX B200 data sheet (2024), per GPU of 8";
constexpr const char *kGB200 = "NVIDIA GB200 NVL72 data sheet (2024), per GPU of 72";

const std::array<DevicePeak, 11> kTable{{
    {"A100 PCIe", "a100 pcie", kA100, row(19500, 19500, 156000, 312000, 312000, 0, 624000)},
    {"A100 SXM", "a100", kA100, row(19500, 19500, 156000, 312000, 312000, 0, 624000)},
    {"H100 NVL", "h100 nvl", kH100, row(60000, 60000, 417500, 835500, 835500, 1670500, 1670500)},
    {"H100 PCIe", "h100 pcie", kH100, row(51000, 51000, 378000, 756500, 756500, 1513000, 1513000)},
    {"H100 SXM", "h100", kH100, row(67000, 67000, 494500, 989500, 989500, 1979000, 1979000)},
    {"H200 NVL", "h200 nvl", kH200, row(60000, 60000, 417500, 835500, 835500, 1670500, 1670500)},
    {"H200 SXM", "h200", kH200, row(67000, 67000, 494500, 989500, 989500, 1979000, 1979000)},
    {"L40S", "l40s", kL40S, row(0, 91600, 183000, 362050, 362050, 733000, 733000)},
    {"L4", "l4", kL4, row(0, 30300, 60000, 121000, 121000, 242500, 242500)},
    {"GB200", "gb200", kGB200, row(45000, 80000, 1250000, 2500000, 2500000, 5000000, 5000000)},
    {"B200", "b200", kB200, row(37000, 75000, 1125000, 2250000, 2250000, 4500000, 4500000)},
}};

std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  for (char c : text) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum) {
      word.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    } else if (!word.empty()) {
      out.push_back(word);
      word.clear();
    }
  }
  if (!word.empty()) out.push_back(word);
  return out;
}

bool has_all(const std::vector<std::string> &name, std::string_view pattern) {
  for (const std::string &wanted : words(pattern)) {
    bool found = false;
    for (const std::string &w : name)
      found = found || w == wanted;
    if (!found) return false;
  }
  return true;
}

} // namespace

const std::array<DevicePeak, 11> &device_peaks() {
  return kTable;
}

const DevicePeak *find_device_peak(std::string_view nvml_name) {
  const std::vector<std::string> name = words(nvml_name);
  for (const DevicePeak &peak : kTable)
    if (has_all(name, peak.match)) return &peak;
  return nullptr;
}

ResolvedPeak resolve_peak(u128 configured_peak, std::string_view nvml_name, std::size_t precision) {
  ResolvedPeak out;
  if (configured_peak > 0) {
    out.origin = PeakOrigin::Configured;
    out.flops_per_second = configured_peak;
    return out;
  }
  const std::string precision_name =
      precision < kPrecisions ? std::string(kPrecisionNames[precision]) : "unknown";
  if (nvml_name.empty()) {
    out.reason = "no GPU device known and FLOPLEDGER_HARDWARE_PEAK_FLOPS not set";
    return out;
  }
  const DevicePeak *peak = find_device_peak(nvml_name);
  if (!peak) {
    out.reason = "device '" + std::string(nvml_name) +
                 "' is not in the peak table: set FLOPLEDGER_HARDWARE_PEAK_FLOPS";
    return out;
  }
  if (precision >= kPrecisions || peak->flops_per_second[precision] == 0) {
    out.reason = "the " + std::string(peak->model) + " data sheet gives no " + precision_name +
                 " peak: set FLOPLEDGER_HARDWARE_PEAK_FLOPS";
    return out;
  }
  out.origin = PeakOrigin::Table;
  out.flops_per_second = peak->flops_per_second[precision];
  return out;
}

ResolvedPeak peak_for_precisions(u128 configured_peak, std::string_view nvml_name,
                                 const std::array<bool, kPrecisions> &in_use) {
  if (configured_peak > 0) return resolve_peak(configured_peak, nvml_name, 0);
  ResolvedPeak best;
  best.reason = "no counted precision to take a peak from";
  for (std::size_t p = 0; p < kPrecisions; ++p) {
    if (!in_use[p]) continue;
    ResolvedPeak candidate = resolve_peak(0, nvml_name, p);
    if (candidate.origin == PeakOrigin::Unknown) return candidate; // an unknown peak: no bound
    if (best.origin == PeakOrigin::Unknown || candidate.flops_per_second > best.flops_per_second)
      best = candidate;
  }
  return best;
}

u128 upper_bound_flops(u128 counted, std::uint64_t unattributed_ns, std::uint64_t attention_ns,
                       u128 peak_flops_per_second) {
  const u128 ns = static_cast<u128>(unattributed_ns) + attention_ns; // < 2^65
  const u128 per_ns = 1000000000u;
  // ns * peak may exceed 2^128 only for peaks beyond 2^63 FLOP/s: split to stay exact.
  const u128 whole = ns / per_ns, part = ns % per_ns;
  u128 extra = saturating_mul(whole, peak_flops_per_second);
  const u128 part_product = saturating_mul(part, peak_flops_per_second);
  extra = saturating_add(extra, part_product / per_ns + (part_product % per_ns != 0 ? 1 : 0));
  return saturating_add(counted, extra);
}

} // namespace flopledger
