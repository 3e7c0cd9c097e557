// Where the run is heading: projections of the modification FLOPs from the recent rate, the
// threshold fractions a period crossed, the notification deadline and the budget step limit.
// Exact integer arithmetic on FLOPs; doubles only for wall-clock time. See docs/methods.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "accounting/exact.hpp"

namespace flopledger {

/// Projects the cumulative modification FLOPs from a sliding window of recent reductions.
class Forecaster {
public:
  /// Keeps the last `window` observations; values below 2 are taken as 2.
  explicit Forecaster(std::size_t window = 8);

  /// Records the state after a reduction: `step` = last step reduced, totals cumulative.
  /// An observation that goes backwards (a lower step or lower totals than the last one, as
  /// after a restart that recounts) starts the window afresh. Never fails.
  void observe(std::uint64_t step, u128 tokens_total, u128 modification_total, double unix_time);

  /// modification_last + ceil(dmod * (planned_steps - step_last) / dsteps), with dmod and dsteps
  /// taken between the oldest and newest observation of the window; modification_last when
  /// planned_steps <= step_last. nullopt when there is no observation, or (planned_steps beyond
  /// step_last) no two observations with different steps. Saturates at 2^128-1.
  std::optional<u128> project_by_steps(std::uint64_t planned_steps) const;

  /// The same with tokens: modification_last + ceil(dmod * (planned - tokens_last) / dtokens);
  /// modification_last when planned_tokens <= tokens_last; nullopt when there is no observation
  /// or no two observations with different token totals. Saturates at 2^128-1.
  std::optional<u128> project_by_tokens(u128 planned_tokens) const;

  /// Seconds from the last observation until the modification total reaches `target` at the
  /// window's mean rate (dmod / dtime); 0 when already reached; nullopt when the rate is unknown
  /// or zero (fewer than 2 observations, no time elapsed, no growth). For messages only.
  std::optional<double> seconds_to_reach(u128 target) const;

  /// The largest per-step modification rate between consecutive observations of the window,
  /// each rounded up: ceil(dmod / dsteps). nullopt when no two consecutive observations have
  /// different steps. Conservative input for budget_step_limit.
  std::optional<u128> max_rate_per_step() const;

  /// Observations currently held (at most the window).
  std::size_t size() const { return observations_.size(); }

private:
  struct Observation {
    std::uint64_t step;
    u128 tokens;
    u128 modification;
    double unix_time;
  };
  std::size_t window_;
  std::deque<Observation> observations_;
};

/// The percents p of `threshold_flops` (T) that the total crossed going from `before` to
/// `after`, in the order given: p is reached by x when 100*x >= p*T for p < 100, and when
/// 100*x > p*T for p >= 100 (100% is the evaluator's "greater than" the threshold); p is newly
/// crossed when reached by `after` and not by `before`. Exact. Empty when none.
std::vector<unsigned> newly_crossed(u128 before, u128 after, u128 threshold_flops,
                                    const std::vector<unsigned> &percents = {50, 80, 100});

/// The UTC calendar date ("YYYY-MM-DD") `days` days after the UTC date of `unix_time` (seconds
/// since 1970-01-01T00:00:00Z; Art. 52(1): two weeks). "" when unix_time is not finite or the
/// date falls outside years 0000..9999.
std::string notification_deadline_utc(double unix_time, unsigned days = 14);

/// The highest step S such that modification_total + (S - step_last) * max_flops_per_step <=
/// budget_flops: step_last + floor((budget - total) / rate). step_last when the total is already
/// at or over the budget; UINT64_MAX when the rate is 0 (and the total is under budget) or the
/// limit does not fit in 64 bits. Exact.
std::uint64_t budget_step_limit(std::uint64_t step_last, u128 modification_total, u128 budget_flops,
                                u128 max_flops_per_step);

} // namespace flopledger
