#include "accounting/budget.hpp"

namespace flopledger {
namespace {

constexpr const char *kExpectedBudget =
    "expected a fraction of the threshold (80% or 0.8, at most 100%) or an absolute FLOP count "
    "(2.5e22 or 1000000)";

bool is_fraction_form(std::string_view text) {
  const bool exponent = text.find_first_of("eE") != std::string_view::npos;
  return text.back() == '%' || text.find('/') != std::string_view::npos ||
         (text.find('.') != std::string_view::npos && !exponent);
}

} // namespace

bool parse_budget(std::string_view text, Budget &out, std::string &error) {
  const std::string_view body = trim_blanks(text);
  const std::string quoted = "'" + std::string(body) + "'";
  if (body.empty()) {
    error = std::string("empty value; ") + kExpectedBudget;
    return false;
  }
  Budget budget;
  budget.text = std::string(body);
  if (is_fraction_form(body)) {
    std::string why;
    if (!parse_fraction(body, budget.fraction, why)) {
      error = why + "; a budget is " + kExpectedBudget;
      return false;
    }
    if (budget.fraction.numerator == 0) {
      error = quoted + " is zero: a budget must be a fraction greater than 0 and at most 100% of "
                       "the threshold";
      return false;
    }
    if (!at_most_one(budget.fraction)) {
      error = quoted + " is more than the whole threshold: a fraction must be at most 1 (100%); "
                       "write an absolute FLOP count such as 5e22 for a budget above it";
      return false;
    }
    budget.kind = Budget::Kind::FractionOfThreshold;
  } else {
    const ParsedFlops parsed = parse_flops(body);
    if (!parsed.ok) {
      error = parsed.error + "; a budget is " + kExpectedBudget;
      return false;
    }
    if (parsed.value == 0) {
      error = quoted + " is zero: an absolute budget must be greater than 0 FLOP";
      return false;
    }
    budget.kind = Budget::Kind::Absolute;
    budget.flops = parsed.value;
  }
  out = std::move(budget);
  return true;
}

u128 budget_flops(const Budget &budget, u128 threshold_flops) {
  if (budget.kind == Budget::Kind::Absolute) return budget.flops;
  return floor_times(threshold_flops, budget.fraction);
}

} // namespace flopledger
