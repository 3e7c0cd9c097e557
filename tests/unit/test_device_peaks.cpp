#include <doctest/doctest.h>

#include "u128_printer.hpp"

#include <array>
#include <string>

#include "accounting/device_peaks.hpp"

using namespace flopledger;

namespace {

constexpr u128 kTera = 1000000000000u;

std::string model_of(const char *nvml_name) {
  const DevicePeak *peak = find_device_peak(nvml_name);
  return peak ? std::string(peak->model) : "none";
}

} // namespace

TEST_CASE("NVML device names map to the right row") {
  CHECK(model_of("NVIDIA A100-SXM4-80GB") == "A100 SXM");
  CHECK(model_of("NVIDIA A100-SXM4-40GB") == "A100 SXM");
  CHECK(model_of("NVIDIA A100-PCIE-40GB") == "A100 PCIe");
  CHECK(model_of("NVIDIA A100 80GB PCIe") == "A100 PCIe");
  CHECK(model_of("NVIDIA H100 80GB HBM3") == "H100 SXM");
  CHECK(model_of("NVIDIA H100 PCIe") == "H100 PCIe");
  CHECK(model_of("NVIDIA H100 NVL") == "H100 NVL");
  CHECK(model_of("NVIDIA H200") == "H200 SXM");
  CHECK(model_of("NVIDIA H200 NVL") == "H200 NVL");
  CHECK(model_of("NVIDIA L40S") == "L40S");
  CHECK(model_of("NVIDIA L4") == "L4");
  CHECK(model_of("NVIDIA B200") == "B200");
  CHECK(model_of("NVIDIA GB200") == "GB200");
  // Whole words only: an L40 is neither an L4 nor an L40S; a GH200 is not an H200.
  CHECK(model_of("NVIDIA L40") == "none");
  CHECK(model_of("NVIDIA GH200 480GB") == "none");
  CHECK(model_of("Tesla V100-SXM2-32GB") == "none");
  CHECK(model_of("") == "none");
}

TEST_CASE("table figures are dense peaks, exact integers") {
  const DevicePeak *h100 = find_device_peak("NVIDIA H100 80GB HBM3");
  REQUIRE(h100 != nullptr);
  // 1979 TFLOP/s with sparsity on the data sheet: 989.5 dense.
  CHECK(h100->flops_per_second[FLOPLEDGER_PRECISION_BF16] == 989500 * (kTera / 1000));
  CHECK(h100->flops_per_second[FLOPLEDGER_PRECISION_FP8] == 1979 * kTera);
  CHECK(h100->flops_per_second[FLOPLEDGER_PRECISION_FP64] == 67 * kTera);
  const DevicePeak *a100 = find_device_peak("NVIDIA A100-SXM4-80GB");
  REQUIRE(a100 != nullptr);
  CHECK(a100->flops_per_second[FLOPLEDGER_PRECISION_TF32] == 156 * kTera);
  CHECK(a100->flops_per_second[FLOPLEDGER_PRECISION_FP8] == 0); // no FP8 on Ampere
  for (const DevicePeak &row : device_peaks()) {
    CHECK_FALSE(row.source.empty());
    CHECK(row.flops_per_second[FLOPLEDGER_PRECISION_OTHER] == 0);
    // Dense tensor figures: fp16 and bf16 agree; each narrower type is faster (the data sheets
    // round each figure on its own, so tf32 is about, not exactly, half of fp16).
    CHECK(row.flops_per_second[FLOPLEDGER_PRECISION_FP16] ==
          row.flops_per_second[FLOPLEDGER_PRECISION_BF16]);
    CHECK(row.flops_per_second[FLOPLEDGER_PRECISION_FP32] <
          row.flops_per_second[FLOPLEDGER_PRECISION_TF32]);
    CHECK(row.flops_per_second[FLOPLEDGER_PRECISION_TF32] <
          row.flops_per_second[FLOPLEDGER_PRECISION_FP16]);
    if (row.flops_per_second[FLOPLEDGER_PRECISION_FP8] != 0)
      CHECK(row.flops_per_second[FLOPLEDGER_PRECISION_FP16] <
            row.flops_per_second[FLOPLEDGER_PRECISION_FP8]);
  }
}

TEST_CASE("a configured peak wins; an unknown device needs one") {
  const ResolvedPeak configured = resolve_peak(123 * kTera, "NVIDIA H100 PCIe", 4);
  CHECK(configured.origin == PeakOrigin::Configured);
  CHECK(configured.flops_per_second == 123 * kTera);
  const ResolvedPeak table = resolve_peak(0, "NVIDIA H100 PCIe", FLOPLEDGER_PRECISION_BF16);
  CHECK(table.origin == PeakOrigin::Table);
  CHECK(table.flops_per_second == 756500 * (kTera / 1000));
  const ResolvedPeak unknown = resolve_peak(0, "NVIDIA L40", FLOPLEDGER_PRECISION_BF16);
  CHECK(unknown.origin == PeakOrigin::Unknown);
  CHECK(unknown.flops_per_second == 0);
  CHECK(unknown.reason ==
        "device 'NVIDIA L40' is not in the peak table: set FLOPLEDGER_HARDWARE_PEAK_FLOPS");
  const ResolvedPeak no_fp64 = resolve_peak(0, "NVIDIA L4", FLOPLEDGER_PRECISION_FP64);
  CHECK(no_fp64.origin == PeakOrigin::Unknown);
  CHECK(no_fp64.reason ==
        "the L4 data sheet gives no fp64 peak: set FLOPLEDGER_HARDWARE_PEAK_FLOPS");
  CHECK(resolve_peak(0, "", 0).origin == PeakOrigin::Unknown);
  CHECK(resolve_peak(7, "", 0).flops_per_second == 7);
}

TEST_CASE("the bounding peak is the highest among the precisions in use") {
  std::array<bool, kPrecisions> in_use{};
  CHECK(peak_for_precisions(0, "NVIDIA H100 80GB HBM3", in_use).origin == PeakOrigin::Unknown);
  in_use[FLOPLEDGER_PRECISION_FP32] = true;
  in_use[FLOPLEDGER_PRECISION_BF16] = true;
  const ResolvedPeak mixed = peak_for_precisions(0, "NVIDIA H100 80GB HBM3", in_use);
  CHECK(mixed.origin == PeakOrigin::Table);
  CHECK(mixed.flops_per_second == 989500 * (kTera / 1000));
  in_use[FLOPLEDGER_PRECISION_FP64] = true; // the L4 has no fp64 figure: no bound at all
  CHECK(peak_for_precisions(0, "NVIDIA L4", in_use).origin == PeakOrigin::Unknown);
  CHECK(peak_for_precisions(5 * kTera, "NVIDIA L4", in_use).flops_per_second == 5 * kTera);
}

TEST_CASE("upper bound: counted plus uncounted kernel time at the peak, rounded up") {
  // 1.5 ms unattributed + 0.5 ms attention at 989.5 TFLOP/s: 2e-3 * 989.5e12 = 1.979e12.
  CHECK(upper_bound_flops(1000, 1500000, 500000, 989500 * (kTera / 1000)) ==
        1000 + static_cast<u128>(1979000000000u));
  CHECK(upper_bound_flops(0, 1, 0, 1500000000u) == 2); // 1 ns at 1.5e9 FLOP/s: 1.5, rounded up
  CHECK(upper_bound_flops(0, 1, 0, 1) == 1);
  CHECK(upper_bound_flops(42, 0, 0, 1979 * kTera) == 42);
  // 2^64-1 ns at a huge peak saturates instead of wrapping.
  CHECK(upper_bound_flops(1, UINT64_MAX, UINT64_MAX, kU128Max / 2) == kU128Max);
}
