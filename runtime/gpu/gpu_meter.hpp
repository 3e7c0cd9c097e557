// The GPU counter sources of one rank, as the meter sees them: the NVML energy sampler and CUPTI
// kernel times, started with the meter and read on the meter thread when a period is reduced
// (never on a training thread). Every failure is a status line, never an error of the job.
#pragma once

#include <string>

#include "accounting/config.hpp"
#include "accounting/period.hpp"

namespace flopledger::runtime::gpu {

struct GpuStatus {
  std::string nvml;         ///< "ok: device 0 NVIDIA H100 ...", "off (FLOPLEDGER_NVML=0)", why not
  std::string cupti;        ///< "active: ...", "off (FLOPLEDGER_CUPTI=0)", "backed off: ...", ...
  std::string device_name;  ///< the NVML name of the rank's device ("" when unknown)
  bool nvml_failed = false; ///< NVML was found but could not be used (permission, init)
  bool cupti_backed_off = false; ///< another CUPTI client holds CUPTI
};

/// Starts the GPU sources allowed by `config`; returns what happened.
GpuStatus gpu_start(const Config &config);

/// Adds the GPU figures since the previous call to `period` (energy, kernel times, the upper
/// bound's extra FLOPs from the period's counted precisions). Meter thread only.
void gpu_fill(RankPeriod &period);

/// Stops the sampler and CUPTI (after the last period was filled).
void gpu_stop();

} // namespace flopledger::runtime::gpu
