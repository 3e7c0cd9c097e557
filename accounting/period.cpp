#include "accounting/period.hpp"

#include <algorithm>
#include <limits>

namespace flopledger {
namespace {

// Sums that the invariant of add_rank keeps below 2^128 saturate (saturating_add) instead of
// wrapping if a caller filled a JobPeriod by hand with larger cells.

template <typename Period, typename Select> u128 sum_cells(const Period &period, Select selected) {
  u128 total = 0;
  for (std::size_t s = 0; s < kSources; ++s)
    for (std::size_t p = 0; p < kPrecisions; ++p)
      for (std::size_t h = 0; h < kPhases; ++h)
        if (selected(s, p, h)) total = saturating_add(total, period.flops[s][p][h]);
  return total;
}

} // namespace

u128 RankPeriod::total_flops() const {
  // At most kSources * kPrecisions * kPhases cells below 2^64 each: cannot overflow 128 bits.
  u128 total = 0;
  for (const auto &by_precision : flops)
    for (const auto &by_phase : by_precision)
      for (std::uint64_t cell : by_phase)
        total += cell;
  return total;
}

bool JobPeriod::add_rank(const RankPeriod &rank) {
  if (ranks == std::numeric_limits<std::uint32_t>::max()) return false;
  // The job total bounds every cell and every projection, so checking it (and the other sums)
  // keeps every figure of the period exact.
  const u128 rank_total = rank.total_flops();
  u128 ignored;
  if (!checked_add(total_flops(), rank_total, ignored)) return false;

  JobPeriod next = *this; // work on a copy: on failure the period stays as it was
  for (std::size_t s = 0; s < kSources; ++s) {
    for (std::size_t p = 0; p < kPrecisions; ++p)
      for (std::size_t h = 0; h < kPhases; ++h)
        if (!checked_add(next.flops[s][p][h], rank.flops[s][p][h], next.flops[s][p][h]))
          return false;
    if (!checked_add(next.calls[s], rank.calls[s], next.calls[s])) return false;
  }
  if (!checked_add(next.tokens, rank.tokens, next.tokens) ||
      !checked_add(next.replica_tokens, rank.replica_tokens, next.replica_tokens) ||
      !checked_add(next.sequence_sq, rank.sequence_sq, next.sequence_sq) ||
      !checked_add(next.unsequenced_tokens, rank.unsequenced_tokens, next.unsequenced_tokens))
    return false;

  // The rank's total fits 64 bits only when its cells do not add past 2^64; clamp for MIN/MAX.
  const std::uint64_t rank_flops = rank_total > std::numeric_limits<std::uint64_t>::max()
                                       ? std::numeric_limits<std::uint64_t>::max()
                                       : static_cast<std::uint64_t>(rank_total);
  if (ranks == 0) {
    next.step_first = next.step_last = rank.last_step;
    next.rank_flops_min = next.rank_flops_max = rank_flops;
    next.rank_tokens_min = next.rank_tokens_max = rank.tokens;
  } else {
    next.step_first = std::min(step_first, rank.last_step);
    next.step_last = std::max(step_last, rank.last_step);
    next.rank_flops_min = std::min(rank_flops_min, rank_flops);
    next.rank_flops_max = std::max(rank_flops_max, rank_flops);
    next.rank_tokens_min = std::min(rank_tokens_min, rank.tokens);
    next.rank_tokens_max = std::max(rank_tokens_max, rank.tokens);
  }
  next.ranks = ranks + 1;
  next.ranks_active = ranks_active + (rank_total > 0 ? 1 : 0);
  *this = next;
  return true;
}

u128 JobPeriod::total_flops() const {
  return sum_cells(*this, [](std::size_t, std::size_t, std::size_t) { return true; });
}

u128 JobPeriod::flops_by_precision(std::size_t precision) const {
  return sum_cells(*this, [=](std::size_t, std::size_t p, std::size_t) { return p == precision; });
}

u128 JobPeriod::flops_by_phase(std::size_t phase) const {
  return sum_cells(*this, [=](std::size_t, std::size_t, std::size_t h) { return h == phase; });
}

u128 JobPeriod::flops_by_source(std::size_t source) const {
  return sum_cells(*this, [=](std::size_t s, std::size_t, std::size_t) { return s == source; });
}

u128 flops_in_phases(const RankPeriod &period, const std::array<bool, kPhases> &phases) {
  return sum_cells(period, [&](std::size_t, std::size_t, std::size_t h) { return phases[h]; });
}

u128 flops_in_phases(const JobPeriod &period, const std::array<bool, kPhases> &phases) {
  return sum_cells(period, [&](std::size_t, std::size_t, std::size_t h) { return phases[h]; });
}

} // namespace flopledger
