// The fixed-size counter records: what one rank counted in one period (uint64 deltas), and what
// the job counted in one period after the reduction to rank 0 (128-bit sums plus MIN/MAX).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "accounting/exact.hpp"
#include "accounting/tags.hpp"

namespace flopledger {

/// One rank's GPU figures for one period (docs/gpu.md): NVML energy, CUPTI kernel times and the
/// extra FLOPs of the hardware upper bound (uncounted kernel time x the device's peak).
struct RankGpu {
  std::uint64_t energy_mj = 0;       ///< NVML energy of the rank's device, mJ
  std::uint64_t counted_ns = 0;      ///< kernel time of counted cuBLAS/cuBLASLt calls
  std::uint64_t attention_ns = 0;    ///< unattributed kernels named like attention
  std::uint64_t nccl_ns = 0;         ///< NCCL kernels
  std::uint64_t unattributed_ns = 0; ///< every other kernel
  u128 bound_extra_flops = 0;        ///< (unattributed + attention) ns x peak, rounded up
  bool nvml_active = false;          ///< the rank sampled a device's energy
  bool cupti_active = false;         ///< the rank collected kernel times
  bool bound_known = false;          ///< cupti_active and a peak was known (bound_extra valid)
};

/// The job's GPU figures for one period: sums over ranks (times and energy saturate at 2^64-1).
struct JobGpu {
  u128 energy_mj = 0, counted_ns = 0, attention_ns = 0, nccl_ns = 0, unattributed_ns = 0;
  u128 bound_extra_flops = 0;
  std::uint32_t nvml_ranks = 0, cupti_ranks = 0, bound_ranks = 0;
};

/// One rank's counts for one period. Plain data: the runtime packs it into the reduction buffer.
struct RankPeriod {
  std::uint64_t flops[kSources][kPrecisions][kPhases] = {};
  std::uint64_t calls[kSources] = {}; ///< hooked calls that succeeded and were counted
  std::uint64_t tokens = 0;           ///< tokens reported through flopledger_step_end
  /// Training tokens this rank reports for its model replica (the analytic basis): tokens of
  /// steps ended in the train phase on a rank that reports tokens (flopledger_report_tokens).
  std::uint64_t replica_tokens = 0;
  std::uint64_t sequence_sq = 0; ///< sum of squared sequence lengths reported for replica tokens
  std::uint64_t unsequenced_tokens = 0; ///< replica tokens reported without sequence lengths
  std::uint64_t steps = 0;              ///< steps ended in this period
  std::uint64_t last_step = 0;          ///< the rank's step counter at the end of the period
  RankGpu gpu;                          ///< GPU figures (all zero on CPU-only ranks)

  /// Sum of every FLOP cell, exactly.
  u128 total_flops() const;
};

/// A period of the whole job, as rank 0 holds it after the reduction.
struct JobPeriod {
  u128 flops[kSources][kPrecisions][kPhases] = {}; ///< SUM over ranks
  u128 calls[kSources] = {};                       ///< SUM over ranks
  u128 tokens = 0;                                 ///< SUM over ranks
  u128 replica_tokens = 0;                         ///< SUM over ranks
  u128 sequence_sq = 0;                            ///< SUM over ranks
  u128 unsequenced_tokens = 0;                     ///< SUM over ranks
  std::uint64_t step_first = 0; ///< lowest per-rank last_step (MIN): the slowest rank's step
  std::uint64_t step_last = 0;  ///< highest per-rank last_step (MAX)
  std::uint64_t rank_flops_min = 0, rank_flops_max = 0;   ///< per-rank period FLOPs, MIN / MAX
                                                          ///< (saturated at 2^64-1)
  std::uint64_t rank_tokens_min = 0, rank_tokens_max = 0; ///< per-rank period tokens, MIN / MAX
  std::uint32_t ranks = 0;                                ///< ranks that took part in the reduction
  std::uint32_t ranks_active = 0; ///< ranks that counted at least one FLOP in the period
  JobGpu gpu;                     ///< SUM over ranks

  /// Adds one rank's period, as the reduction does (for single-rank jobs and for tests).
  /// Returns false if a 128-bit sum would overflow (the period is then left unchanged).
  bool add_rank(const RankPeriod &rank);

  u128 total_flops() const;
  u128 flops_by_precision(std::size_t precision) const;
  u128 flops_by_phase(std::size_t phase) const;
  u128 flops_by_source(std::size_t source) const;
};

/// The FLOPs of `period` in the phases marked in `phases` (a rule set's counted phases: the part
/// of the period toward the threshold).
u128 flops_in_phases(const RankPeriod &period, const std::array<bool, kPhases> &phases);
u128 flops_in_phases(const JobPeriod &period, const std::array<bool, kPhases> &phases);

/// Which precisions have counted FLOPs in `period` (a RankPeriod or a JobPeriod): the precisions
/// whose device peak bounds the period's GPU work.
template <typename Period> std::array<bool, kPrecisions> precisions_in_use(const Period &period) {
  std::array<bool, kPrecisions> in_use{};
  for (std::size_t source = 0; source < kSources; ++source)
    for (std::size_t p = 0; p < kPrecisions; ++p)
      for (std::size_t h = 0; h < kPhases; ++h)
        in_use[p] = in_use[p] || period.flops[source][p][h] > 0;
  return in_use;
}

} // namespace flopledger
