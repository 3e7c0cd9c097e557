#include <doctest/doctest.h>

#include "u128_printer.hpp"

#include <cstdint>
#include <limits>
#include <vector>

#include "accounting/forecast.hpp"
#include "accounting/wide.hpp"

using namespace flopledger;

namespace {
constexpr std::uint64_t kNoLimit = std::numeric_limits<std::uint64_t>::max();
using Percents = std::vector<unsigned>;
} // namespace

TEST_CASE("projection by steps is exact, rounds up and needs two distinct steps") {
  Forecaster forecaster;
  CHECK_FALSE(forecaster.project_by_steps(100).has_value());
  CHECK_FALSE(forecaster.max_rate_per_step().has_value());
  forecaster.observe(10, 1000, 3000, 100.0);
  CHECK(forecaster.project_by_steps(10) == u128{3000});
  CHECK(forecaster.project_by_steps(5) == u128{3000});
  CHECK_FALSE(forecaster.project_by_steps(11).has_value());
  forecaster.observe(10, 1000, 3000, 100.0); // same step: still no rate
  CHECK_FALSE(forecaster.project_by_steps(11).has_value());
  forecaster.observe(13, 1600, 4000, 130.0);
  // 1000 FLOP over 3 steps: 4000 + ceil(1000 * 7 / 3) = 4000 + 2334.
  CHECK(forecaster.project_by_steps(20) == u128{6334});
  CHECK(forecaster.project_by_steps(16) == u128{5000});
  // By tokens: 1000 FLOP per 600 tokens; 2000 more tokens: ceil(1000*2000/600) = 3334.
  CHECK(forecaster.project_by_tokens(3600) == u128{7334});
  CHECK(forecaster.project_by_tokens(1600) == u128{4000});
  CHECK(forecaster.max_rate_per_step() == u128{334});
  CHECK(*forecaster.seconds_to_reach(5000) == doctest::Approx(30.0));
  CHECK(*forecaster.seconds_to_reach(4000) == 0.0);
}

TEST_CASE("the window keeps the last W observations") {
  Forecaster forecaster(3);
  forecaster.observe(1, 10, 100, 0);
  forecaster.observe(2, 20, 1100, 1); // an expensive first step, then 100 per step
  forecaster.observe(3, 30, 1200, 2);
  CHECK(forecaster.max_rate_per_step() == u128{1000});
  CHECK(forecaster.project_by_steps(5) == u128{1200 + 1100}); // (1100 over 2 steps) * 2
  forecaster.observe(4, 40, 1300, 3);
  CHECK(forecaster.size() == 3);
  CHECK(forecaster.max_rate_per_step() == u128{100});
  CHECK(forecaster.project_by_steps(6) == u128{1500});
  CHECK(Forecaster(0).size() == 0);
}

TEST_CASE("an observation going backwards restarts the window") {
  Forecaster forecaster;
  forecaster.observe(5, 50, 500, 0);
  forecaster.observe(6, 60, 600, 1);
  forecaster.observe(3, 30, 300, 2);
  CHECK(forecaster.size() == 1);
  CHECK_FALSE(forecaster.project_by_steps(10).has_value());
  forecaster.observe(4, 40, 250, 3); // total lower than before: restart again
  CHECK(forecaster.size() == 1);
}

TEST_CASE("projections saturate rather than wrap") {
  Forecaster forecaster;
  const u128 big = kU128Max / 4;
  forecaster.observe(0, 0, 0, 0);
  forecaster.observe(1, 1, big, 1);
  CHECK(forecaster.project_by_steps(10) == kU128Max);
  CHECK(forecaster.project_by_tokens(kU128Max) == kU128Max);
  CHECK(forecaster.project_by_steps(3) == big * 3);
}

TEST_CASE("no rate over time when no time elapsed or nothing grew") {
  Forecaster forecaster;
  forecaster.observe(1, 10, 100, 5.0);
  forecaster.observe(2, 20, 100, 6.0);
  CHECK_FALSE(forecaster.seconds_to_reach(200).has_value());
  CHECK_FALSE(forecaster.project_by_tokens(30) == std::nullopt); // rate 0: stays at 100
  CHECK(forecaster.project_by_tokens(30) == u128{100});
  Forecaster same_time;
  same_time.observe(1, 10, 100, 5.0);
  same_time.observe(2, 20, 200, 5.0);
  CHECK_FALSE(same_time.seconds_to_reach(300).has_value());
  Forecaster same_tokens;
  same_tokens.observe(1, 10, 100, 5.0);
  same_tokens.observe(2, 10, 200, 6.0);
  CHECK_FALSE(same_tokens.project_by_tokens(20).has_value());
}

TEST_CASE("threshold crossings at the exact boundaries") {
  const u128 t = 1000;
  CHECK(newly_crossed(0, 499, t).empty());
  CHECK(newly_crossed(0, 500, t) == Percents{50}); // 50% means >= half
  CHECK(newly_crossed(499, 500, t) == Percents{50});
  CHECK(newly_crossed(500, 799, t).empty());
  CHECK(newly_crossed(500, 800, t) == Percents{80});
  CHECK(newly_crossed(0, 1000, t) == Percents({50, 80})); // exactly T is not "greater than"
  CHECK(newly_crossed(1000, 1001, t) == Percents{100});
  CHECK(newly_crossed(0, 1001, t) == Percents({50, 80, 100}));
  CHECK(newly_crossed(1001, 5000, t).empty());
  CHECK(newly_crossed(600, 400, t).empty()); // never "crossed" going down
  // A threshold that is not a multiple of 100: 50% of 333 is 166.5.
  CHECK(newly_crossed(0, 166, 333).empty());
  CHECK(newly_crossed(0, 167, 333) == Percents{50});
  CHECK(newly_crossed(0, 2001, t, {25, 200}) == Percents({25, 200}));
  CHECK(newly_crossed(0, 2000, t, {200}).empty());
  // Full-width values compare exactly.
  CHECK(newly_crossed(0, kU128Max / 2 + 1, kU128Max) == Percents{50});
  CHECK(newly_crossed(0, kU128Max / 2, kU128Max).empty());
}

TEST_CASE("notification deadline: UTC date plus 14 days, across month and year ends") {
  CHECK(notification_deadline_utc(0.0) == "1970-01-15");
  CHECK(notification_deadline_utc(1735603200.0) == "2025-01-14"); // 2024-12-31T00:00Z
  CHECK(notification_deadline_utc(1735689599.0) == "2025-01-14"); // 2024-12-31T23:59:59Z
  CHECK(notification_deadline_utc(1735689600.0) == "2025-01-15"); // 2025-01-01T00:00Z
  CHECK(notification_deadline_utc(1708992000.0) == "2024-03-12"); // 2024-02-27, leap year
  CHECK(notification_deadline_utc(1740614400.0) == "2025-03-13"); // 2025-02-27
  CHECK(notification_deadline_utc(1752796800.0, 0) == "2025-07-18");
  CHECK(notification_deadline_utc(-1.0) == "1970-01-14"); // 1969-12-31T23:59:59Z
  CHECK(notification_deadline_utc(std::numeric_limits<double>::infinity()).empty());
  CHECK(notification_deadline_utc(std::numeric_limits<double>::quiet_NaN()).empty());
  CHECK(notification_deadline_utc(1e14).empty()); // beyond year 9999
}

TEST_CASE("budget step limit") {
  // 1000 left at 300 per step: 3 more steps (900), the 4th would pass the budget.
  CHECK(budget_step_limit(10, 9000, 10000, 300) == 13);
  CHECK(budget_step_limit(10, 9100, 10000, 300) == 13); // exactly reaching the budget is allowed
  CHECK(budget_step_limit(10, 9101, 10000, 300) == 12);
  CHECK(budget_step_limit(10, 10000, 10000, 300) == 10); // at the budget
  CHECK(budget_step_limit(10, 10001, 10000, 300) == 10); // over it
  CHECK(budget_step_limit(10, 10000, 10000, 0) == 10);
  CHECK(budget_step_limit(10, 9999, 10000, 0) == kNoLimit);
  CHECK(budget_step_limit(10, 0, kU128Max, 1) == kNoLimit);
  CHECK(budget_step_limit(kNoLimit - 5, 0, 3, 1) == kNoLimit - 2);
  CHECK(budget_step_limit(0, 0, 10, 11) == 0);
}

TEST_CASE("wide arithmetic: products and quotients beyond 128 bits") {
  const wide::U256 p = wide::mul(kU128Max, kU128Max); // (2^128-1)^2 = 2^256 - 2^129 + 1
  CHECK(p.hi == kU128Max - 1);
  CHECK(p.lo == 1);
  u128 q = 0;
  CHECK(wide::mul_div(kU128Max, kU128Max, kU128Max, false, q));
  CHECK(q == kU128Max);
  CHECK_FALSE(wide::mul_div(kU128Max, 2, 1, false, q));
  CHECK_FALSE(wide::mul_div(1, 1, 0, false, q));
  CHECK(wide::mul_div(7, 3, 2, false, q));
  CHECK(q == 10);
  CHECK(wide::mul_div(7, 3, 2, true, q));
  CHECK(q == 11);
  const u128 half = static_cast<u128>(1) << 127;
  CHECK(wide::mul_div(half + 1, 6, half + 2, true, q)); // remainder beyond 2^127 (carry path)
  CHECK(q == 6);
  CHECK(wide::compare_products(100, 30, 30, 100) == 0);
  CHECK(wide::compare_products(kU128Max, 2, kU128Max, 3) < 0);
}
