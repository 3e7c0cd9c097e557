// The fixed-size reduction record: one rank's period packed into uint64 words, combined on the
// way to rank 0 by one commutative, associative user-defined MPI operation (128-bit SUM with
// carry for counts, MIN and MAX for imbalance). The record is one element of a contiguous MPI
// datatype, so MPI never splits a 128-bit pair across segments.
#pragma once

#include <cstddef>
#include <cstdint>

#include "accounting/period.hpp"

namespace flopledger::runtime {

/// Flags and per-rank facts that travel with the counts.
struct RankFlags {
  bool done = false;            ///< this rank will count no more (it is shutting down)
  bool leaving = false;         ///< this rank is exiting with an error and leaves the job
  std::int32_t exit_status = 0; ///< meaningful with leaving
  std::uint64_t oversized_calls = 0;
};

/// What the reduction yields at rank 0, besides the JobPeriod.
struct JobFlags {
  std::uint64_t ranks_done = 0;
  std::uint64_t ranks_leaving = 0;
  std::uint64_t max_exit_status = 0;
  u128 oversized_calls = 0;
};

namespace wire {

constexpr std::size_t kCells = kSources * kPrecisions * kPhases;
// SUM pairs: cells, calls, tokens, replica tokens, sequence_sq, unsequenced tokens, ranks,
// ranks_active, done, leaving, oversized; then the GPU figures: energy, four kernel times, the
// bound's extra FLOPs (a full 128-bit pair), nvml, cupti and bound ranks.
constexpr std::size_t kGpuSumValues = 9;
constexpr std::size_t kSumValues = kCells + kSources + 9 + kGpuSumValues;
// MIN words: rank flops, rank tokens, last step. MAX words: the same plus exit status.
constexpr std::size_t kMinWords = 3;
constexpr std::size_t kMaxWords = 4;
constexpr std::size_t kWords = 2 * kSumValues + kMinWords + kMaxWords;

struct Record {
  std::uint64_t words[kWords];
};

/// Packs one rank's period into a record.
void pack(const RankPeriod &period, const RankFlags &flags, Record &out);

/// Combines `in` into `inout` (the MPI operation's body; also used for single-rank jobs).
void combine(const Record &in, Record &inout);

/// Unpacks a combined record.
void unpack(const Record &record, JobPeriod &period, JobFlags &flags);

} // namespace wire

/// Rank 0's decision after each reduction, broadcast to every rank.
struct Control {
  std::uint64_t all_done = 0;      ///< every rank is done: the last round
  std::uint64_t stop_reducing = 0; ///< a rank left with an error: no further rounds
  std::uint64_t status = 0;        ///< flopledger_status_code
  std::uint64_t reductions = 0;
  std::uint64_t last_step = 0;
  std::uint64_t modification_lo = 0, modification_hi = 0;
  std::uint64_t counted_lo = 0, counted_hi = 0;
  std::uint64_t threshold_lo = 0, threshold_hi = 0;
  double fraction_of_threshold = 0;
  std::uint64_t stop_requested = 0;           ///< the budget guard asks the job to stop
  std::uint64_t stop_step_limit = UINT64_MAX; ///< the last step the budget allows
};
constexpr std::size_t kControlWords = sizeof(Control) / sizeof(std::uint64_t);
static_assert(sizeof(Control) % sizeof(std::uint64_t) == 0, "Control must be whole words");

} // namespace flopledger::runtime
