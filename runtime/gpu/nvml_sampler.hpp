// The NVML energy sampler: libnvidia-ml.so.1 loaded with dlopen at run time (no header, no link
// dependency: CPU-only users load the runtime without it), one device per rank, read from a
// low-priority thread. It never makes the training job fail: a missing library, a missing
// permission or a failing call is recorded as a status line and the sampler stays idle.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace flopledger::runtime::gpu {

/// Energy consumed between two readings of NVML's total-energy counter (mJ). The counter only
/// grows; when it goes back it either wrapped at 2^64 (the modular difference is small, below
/// 2^62 mJ) or was reset (driver reload, GPU reset): then the energy since the reset is `now`.
std::uint64_t energy_delta_mj(std::uint64_t previous, std::uint64_t now);

/// Which NVML device this rank samples: the `local_rank`-th device visible to CUDA. `visible` is
/// CUDA_VISIBLE_DEVICES (unset: every device, in NVML order). Returns the entry as NVML can find
/// it ("3" an index, "GPU-..." a UUID), or "" when this rank samples nothing (its local rank is
/// beyond the visible devices: the device is shared and another rank reports its energy).
std::string device_for_rank(const char *visible, unsigned local_rank, unsigned nvml_devices);

/// The local rank from the launcher's environment (OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID,
/// MPI_LOCALRANKID, PMI_LOCAL_RANK); 0 when none is set.
unsigned local_rank_from_environment();

struct NvmlReading {
  std::string device_name;     ///< nvmlDeviceGetName
  std::uint64_t energy_mj = 0; ///< since the sampler started, wrap and reset handled
  std::uint32_t power_mw = 0;  ///< last reading
  std::uint32_t sm_clock_mhz = 0;
  std::uint32_t utilization_percent = 0;
  std::uint64_t samples = 0;
};

class NvmlSampler {
public:
  /// `library`: the NVML soname to dlopen (tests name a missing one).
  explicit NvmlSampler(std::string library = "libnvidia-ml.so.1") : library_name_(library) {}
  NvmlSampler(const NvmlSampler &) = delete;
  NvmlSampler &operator=(const NvmlSampler &) = delete;
  ~NvmlSampler();

  /// Loads NVML and opens this rank's device (`device`: as device_for_rank returns). Returns
  /// false, with status() saying why, when NVML or the device cannot be used; never throws.
  bool open(const std::string &device);
  /// Starts the sampling thread (SCHED_IDLE, niceness 19) after open succeeded.
  bool start(std::uint64_t period_ms);
  /// Takes a last reading, stops the thread and shuts NVML down.
  void stop();
  /// One reading now (the thread's body; tests call it directly).
  void sample();

  /// Energy since the previous call (mJ); for the period being harvested.
  std::uint64_t take_energy_mj();
  NvmlReading reading() const;
  /// "ok" or what went wrong ("libnvidia-ml.so.1 not found: ...", "no permission ...").
  std::string status() const;
  bool active() const { return device_ != nullptr; }

private:
  std::string library_name_;
  void *library_ = nullptr;
  void *device_ = nullptr;
  bool have_energy_ = false;
  std::uint64_t last_counter_ = 0;
  std::uint64_t taken_mj_ = 0;
  mutable std::mutex mutex_;
  NvmlReading reading_;
  std::string status_ = "not started";
  struct Thread;
  Thread *thread_ = nullptr;
  struct Api;
  Api *api_ = nullptr;
};

} // namespace flopledger::runtime::gpu
