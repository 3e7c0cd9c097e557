#include "gpu_meter.hpp"

#include <atomic>
#include <memory>
#include <mutex>

#include "accounting/device_peaks.hpp"
#include "nvml_sampler.hpp"
#ifdef FLOPLEDGER_HAVE_CUPTI
#include "cupti_activity.hpp"
#endif

namespace flopledger::runtime::gpu {

namespace {

struct State {
  std::unique_ptr<NvmlSampler> nvml;
  std::atomic<bool> cupti{false};   ///< activity records are being collected
  std::atomic<int> cupti_wanted{0}; ///< 0: meter not started, 1: wanted, -1: off or decided
  std::mutex cupti_mutex;           ///< guards the start and cupti_detail
  std::string cupti_detail;
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
  std::lock_guard<std::mutex> lock(s.cupti_mutex);
#ifdef FLOPLEDGER_HAVE_CUPTI
  if (!config.cupti) {
    s.cupti_detail = "off (FLOPLEDGER_CUPTI=0)";
    s.cupti_wanted = -1;
  } else if (!cupti_cuda_loaded()) {
    // PyTorch loads CUDA when the script imports it: the first cuBLAS call starts CUPTI.
    s.cupti_detail = "waiting: no CUDA library loaded at job start; starts at the first "
                     "cuBLAS/cuBLASLt call";
    s.cupti_wanted = 1;
  } else {
    std::string detail;
    s.cupti = cupti_start(detail);
    s.cupti_detail = detail;
    out.cupti_backed_off = detail.rfind("backed off", 0) == 0;
    s.cupti_wanted = out.cupti_backed_off ? -1 : 1;
  }
#else
  s.cupti_detail =
      config.cupti ? "not built (no CUPTI headers at build time)" : "off (FLOPLEDGER_CUPTI=0)";
  s.cupti_wanted = config.cupti ? 1 : -1;
#endif
  out.cupti = s.cupti_detail;
  return out;
}

bool gpu_first_cuda_call(bool &allowed) noexcept {
  State &s = state();
  const int wanted = s.cupti_wanted.load();
  if (wanted == 0) return false; // the meter has not read the configuration yet
  allowed = wanted > 0;
#ifdef FLOPLEDGER_HAVE_CUPTI
  if (!allowed) return true;
  try {
    std::lock_guard<std::mutex> lock(s.cupti_mutex);
    if (!s.cupti.load()) {
      std::string detail;
      s.cupti = cupti_start(detail);
      s.cupti_detail = detail + " (tried at the first cuBLAS/cuBLASLt call)";
      if (detail.rfind("backed off", 0) == 0) {
        s.cupti_wanted = -1;
        allowed = false;
      }
    }
  } catch (...) {
    allowed = false;
  }
#endif
  return true;
}

std::string gpu_cupti_status() {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.cupti_mutex);
  return s.cupti_detail;
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
  const ResolvedPeak peak =
      peak_for_precisions(s.configured_peak, s.device_name, precisions_in_use(period));
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
  std::lock_guard<std::mutex> lock(s.cupti_mutex);
  s.cupti_wanted = -1; // a cuBLAS call after the job's end starts nothing
  if (s.cupti) cupti_stop();
  s.cupti = false;
#endif
}

} // namespace flopledger::runtime::gpu
