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

/// Called by the cuBLAS/cuBLASLt hooks at their first call in the process, when CUDA is certainly
/// loaded. Starts CUPTI activity records if the configuration wants them and they did not start
/// with the meter (PyTorch loads CUDA after the job starts). Returns false while the meter has not
/// started yet (the configuration is unknown: call again later), true once decided. When it
/// returns true, `allowed` says whether the process may hold a CUPTI subscriber (FLOPLEDGER_CUPTI
/// is not 0 and no other CUPTI client was found).
bool gpu_first_cuda_call(bool &allowed) noexcept;

/// CUPTI's state now (it may have started after gpu_start): "active: ...", "backed off: ...".
std::string gpu_cupti_status();

} // namespace flopledger::runtime::gpu
