#include "accounting/forecast.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "accounting/wide.hpp"

namespace flopledger {
namespace {

// last + ceil(delta * (planned - at) / span), saturating; span > 0 and planned > at.
u128 project(u128 last, u128 delta, u128 remaining, u128 span) {
  u128 growth = 0;
  if (!wide::mul_div(delta, remaining, span, true, growth)) return kU128Max;
  u128 total = 0;
  return checked_add(last, growth, total) ? total : kU128Max;
}

bool reached(u128 total, u128 threshold, unsigned percent) {
  const int order = wide::compare_products(100, total, percent, threshold);
  return percent < 100 ? order >= 0 : order > 0;
}

// Days since 1970-01-01 to a proleptic Gregorian (year, month, day) (H. Hinnant's algorithm).
void civil_from_days(long long z, long long &year, unsigned &month, unsigned &day) {
  z += 719468;
  const long long era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  day = doy - (153 * mp + 2) / 5 + 1;
  month = mp < 10 ? mp + 3 : mp - 9;
  year = static_cast<long long>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
}

} // namespace

Forecaster::Forecaster(std::size_t window) : window_(std::max<std::size_t>(window, 2)) {}

void Forecaster::observe(std::uint64_t step, u128 tokens_total, u128 modification_total,
                         double unix_time) {
  if (!observations_.empty()) {
    const Observation &last = observations_.back();
    if (step < last.step || tokens_total < last.tokens || modification_total < last.modification)
      observations_.clear();
  }
  observations_.push_back({step, tokens_total, modification_total, unix_time});
  while (observations_.size() > window_)
    observations_.pop_front();
}

std::optional<u128> Forecaster::project_by_steps(std::uint64_t planned_steps) const {
  if (observations_.empty()) return std::nullopt;
  const Observation &first = observations_.front(), &last = observations_.back();
  if (planned_steps <= last.step) return last.modification;
  if (last.step == first.step) return std::nullopt;
  return project(last.modification, last.modification - first.modification,
                 planned_steps - last.step, last.step - first.step);
}

std::optional<u128> Forecaster::project_by_tokens(u128 planned_tokens) const {
  if (observations_.empty()) return std::nullopt;
  const Observation &first = observations_.front(), &last = observations_.back();
  if (planned_tokens <= last.tokens) return last.modification;
  if (last.tokens == first.tokens) return std::nullopt;
  return project(last.modification, last.modification - first.modification,
                 planned_tokens - last.tokens, last.tokens - first.tokens);
}

std::optional<double> Forecaster::seconds_to_reach(u128 target) const {
  if (observations_.empty()) return std::nullopt;
  const Observation &first = observations_.front(), &last = observations_.back();
  if (target <= last.modification) return 0.0;
  const double elapsed = last.unix_time - first.unix_time;
  const u128 growth = last.modification - first.modification;
  if (!(elapsed > 0) || growth == 0) return std::nullopt;
  return to_double(target - last.modification) * elapsed / to_double(growth);
}

std::optional<u128> Forecaster::max_rate_per_step() const {
  std::optional<u128> highest;
  for (std::size_t i = 1; i < observations_.size(); ++i) {
    const Observation &a = observations_[i - 1], &b = observations_[i];
    if (b.step == a.step) continue;
    u128 rate = 0;
    wide::mul_div(b.modification - a.modification, 1, b.step - a.step, true, rate);
    if (!highest || rate > *highest) highest = rate;
  }
  return highest;
}

std::vector<unsigned> newly_crossed(u128 before, u128 after, u128 threshold_flops,
                                    const std::vector<unsigned> &percents) {
  std::vector<unsigned> crossed;
  for (unsigned percent : percents)
    if (!reached(before, threshold_flops, percent) && reached(after, threshold_flops, percent))
      crossed.push_back(percent);
  return crossed;
}

std::string notification_deadline_utc(double unix_time, unsigned days) {
  if (!std::isfinite(unix_time) || std::fabs(unix_time) > 1e15) return "";
  const auto day = static_cast<long long>(std::floor(unix_time / 86400.0)) + days;
  long long year = 0;
  unsigned month = 0, mday = 0;
  civil_from_days(day, year, month, mday);
  if (year < 0 || year > 9999) return "";
  char text[48];
  std::snprintf(text, sizeof text, "%04lld-%02u-%02u", year, month, mday);
  return text;
}

std::uint64_t budget_step_limit(std::uint64_t step_last, u128 modification_total, u128 budget_flops,
                                u128 max_flops_per_step) {
  constexpr std::uint64_t kNoLimit = std::numeric_limits<std::uint64_t>::max();
  if (modification_total >= budget_flops) return step_last;
  if (max_flops_per_step == 0) return kNoLimit;
  const u128 more_steps = (budget_flops - modification_total) / max_flops_per_step;
  u128 limit = 0;
  if (!checked_add(step_last, more_steps, limit) || limit >= kNoLimit) return kNoLimit;
  return static_cast<std::uint64_t>(limit);
}

} // namespace flopledger
