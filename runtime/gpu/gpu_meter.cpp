#include "gpu_meter.hpp"

#include <memory>

#include "accounting/device_peaks.hpp"
#include "nvml_sampler.hpp"
#ifdef FLOPLEDGER_HAVE_CUPTI
#include "cupti_activity.hpp"
#endif

namespace flopledger::runtime::gpu {

namespace {

struct State {
  std::unique_ptr<NvmlSampler> nvml;
  bool cupti = false;
  std::string device_name;
  u128 configured_peak = 0;
};

State &state() {
  static State *s = new State; // never destroyed: the meter may run at exit
  return *s;
}

bool contains(const std::string &text, const char *part) {
  return text.find(part) != std::string::npos;
}

} // namespace

GpuStatus gpu_start(const Config &config) {
  State &s = state();
  GpuStatus out;
  s.configured_peak = config.hardware_peak_flops;
  if (!config.nvml) {
    out.nvml = "off (FLOPLEDGER_NVML=0)";
  } else {
    s.nvml = std::make_unique<NvmlSampler>();
    if (s.nvml->open("")) {
      s.device_name = s.nvml->reading().device_name;
      if (!s.nvml->start(config.nvml_period_ms)) {
        // Readings are still taken when each period is reduced.
      }
    } else {
      // Found but unusable (permission, driver): worth an event. Absent: an environment line.
      const std::string why = s.nvml->status();
      out.nvml_failed = !contains(why, "not loaded") && !contains(why, "no device for this rank");
      s.nvml.reset();
      out.nvml = "unavailable: " + why;
    }
    if (s.nvml) out.nvml = s.nvml->status();
  }
  out.device_name = s.device_name;
#ifdef FLOPLEDGER_HAVE_CUPTI
  if (!config.cupti) {
    out.cupti = "off (FLOPLEDGER_CUPTI=0)";
  } else {
    std::string detail;
    s.cupti = cupti_start(detail);
    out.cupti = detail;
    out.cupti_backed_off = detail.rfind("backed off", 0) == 0;
  }
#else
  out.cupti =
      config.cupti ? "not built (no CUPTI headers at build time)" : "off (FLOPLEDGER_CUPTI=0)";
#endif
  return out;
}

void gpu_fill(RankPeriod &period) {
  State &s = state();
  if (s.nvml) {
    s.nvml->sample(); // the period ends now: its energy up to now
    period.gpu.energy_mj += s.nvml->take_energy_mj();
    period.gpu.nvml_active = true;
  }
#ifdef FLOPLEDGER_HAVE_CUPTI
  if (!s.cupti) return;
  const KernelTimes times = cupti_take();
  RankGpu &gpu = period.gpu;
  gpu.cupti_active = true;
  gpu.counted_ns += times.counted_ns;
  gpu.attention_ns += times.attention_ns;
  gpu.nccl_ns += times.nccl_ns;
  gpu.unattributed_ns += times.unattributed_ns;
  std::array<bool, kPrecisions> in_use{};
  for (std::size_t source = 0; source < kSources; ++source)
    for (std::size_t p = 0; p < kPrecisions; ++p)
      for (std::size_t h = 0; h < kPhases; ++h)
        in_use[p] = in_use[p] || period.flops[source][p][h] > 0;
  const ResolvedPeak peak = peak_for_precisions(s.configured_peak, s.device_name, in_use);
  const bool nothing_uncounted = gpu.unattributed_ns == 0 && gpu.attention_ns == 0;
  gpu.bound_known = peak.origin != PeakOrigin::Unknown || nothing_uncounted;
  gpu.bound_extra_flops =
      gpu.bound_known
          ? upper_bound_flops(0, gpu.unattributed_ns, gpu.attention_ns, peak.flops_per_second)
          : 0;
#endif
}

void gpu_stop() {
  State &s = state();
  if (s.nvml) s.nvml->stop();
#ifdef FLOPLEDGER_HAVE_CUPTI
  if (s.cupti) cupti_stop();
  s.cupti = false;
#endif
}

} // namespace flopledger::runtime::gpu
