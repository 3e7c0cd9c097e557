// The fixed-size counter records: what one rank counted in one period (uint64 deltas), and what
// the job counted in one period after the reduction to rank 0 (128-bit sums plus MIN/MAX).
#pragma once

#include <cstdint>

#include "accounting/exact.hpp"
#include "accounting/tags.hpp"

namespace flopledger {

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

  /// Adds one rank's period, as the reduction does (for single-rank jobs and for tests).
  /// Returns false if a 128-bit sum would overflow (the period is then left unchanged).
  bool add_rank(const RankPeriod &rank);

  u128 total_flops() const;
  u128 flops_by_precision(std::size_t precision) const;
  u128 flops_by_phase(std::size_t phase) const;
  u128 flops_by_source(std::size_t source) const;
};

} // namespace flopledger
