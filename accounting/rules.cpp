#include "accounting/rules.hpp"

#include <charconv>
#include <cstdio>
#include <limits>

namespace flopledger {
namespace {

constexpr u128 pow10(unsigned exponent) {
  u128 result = 1;
  for (unsigned i = 0; i < exponent; ++i)
    result *= 10;
  return result;
}

std::array<bool, kPhases> eu_gpai_phases() {
  std::array<bool, kPhases> counts{};
  counts[FLOPLEDGER_PHASE_TRAIN] = true;
  // Activation recomputation and evaluation do not update parameters: the guidelines exclude them.
  counts[FLOPLEDGER_PHASE_RECOMPUTE] = false;
  counts[FLOPLEDGER_PHASE_EVAL] = false;
  // Non-public synthetic data generated for the modification counts (the guidelines say so).
  counts[FLOPLEDGER_PHASE_SYNTHETIC_DATA] = true;
  // Untagged compute counts: the guidelines count compute that directly contributes to parameter
  // updates, and a figure nobody tagged cannot be shown to be excluded. Erring this way can only
  // make the verdict earlier, never let a crossing pass unnoticed.
  counts[FLOPLEDGER_PHASE_OTHER] = true;
  return counts;
}

RuleSet eu_gpai_2025_07() {
  return RuleSet{
      "eu-gpai-2025-07",
      "EU AI Act, European Commission guidelines on the obligations of providers of "
      "general-purpose "
      "AI models, C(2025) 5045 of 18 July 2025",
      "European Commission, Guidelines on the scope of the obligations for providers of "
      "general-purpose AI models under Regulation (EU) 2024/1689, C(2025) 5045, 18 July 2025: a "
      "downstream modifier becomes the provider when the modification uses more than one third of "
      "the original model's training compute; when that compute is unknown, one third of 10^23 "
      "FLOP, or of 10^25 FLOP for an original with systemic risk. Regulation (EU) 2024/1689, "
      "Art. 51(2): presumption of systemic risk when cumulative training compute is greater than "
      "10^25 FLOP; Art. 52(1): notification of the Commission.",
      1,
      3,
      pow10(23),
      pow10(25),
      pow10(25),
      eu_gpai_phases(),
  };
}

// A number of up to 160 bits: high * 2^128 + low. Wide enough for a u128 times a uint32.
struct Wide {
  std::uint64_t high;
  u128 low;
};

Wide multiply(u128 a, std::uint32_t b) {
  const u128 low_part = static_cast<u128>(lo_word(a)) * b;  // < 2^96, weight 1
  const u128 high_part = static_cast<u128>(hi_word(a)) * b; // < 2^96, weight 2^64
  const u128 low = low_part + (high_part << 64);
  const std::uint64_t carry = low < low_part ? 1 : 0;
  return Wide{static_cast<std::uint64_t>(high_part >> 64) + carry, low};
}

bool greater(const Wide &x, const Wide &y) {
  return x.high != y.high ? x.high > y.high : x.low > y.low;
}

// floor(base * num / den) without overflow: base = q * den + r gives q * num + floor(r * num /
// den), where r * num < 2^64. Saturates at 2^128-1 (reachable only for a fraction above one).
u128 threshold(u128 base, std::uint32_t num, std::uint32_t den) {
  if (den == 0) return kU128Max;
  const u128 q = base / den, r = base % den;
  u128 whole;
  if (!checked_mul(q, num, whole) || !checked_add(whole, r * num / den, whole)) return kU128Max;
  return whole;
}

struct Base {
  u128 flops;
  const char *rule;
  std::string description; // what the fraction is taken of
};

Base choose_base(const OriginalModel &original, const RuleSet &rules) {
  if (original.compute_known)
    return {original.training_flops, "known_original_fraction",
            "the original model's declared training compute of " +
                to_sci2(original.training_flops) + " FLOP (" + to_decimal(original.training_flops) +
                ")"};
  if (original.systemic_risk)
    return {rules.unknown_systemic_original_flops, "unknown_original_systemic_risk",
            "the default " + to_sci2(rules.unknown_systemic_original_flops) +
                " FLOP that applies when the original model's compute is unknown and the original "
                "has systemic risk"};
  return {rules.unknown_original_flops, "unknown_original_default",
          "the default " + to_sci2(rules.unknown_original_flops) +
              " FLOP that applies when the original model's compute is unknown"};
}

// modification / (base * num / den) for people. A zero base (an original declared with no
// compute) has no meaningful ratio: any modification is then infinitely over it.
double display_fraction(u128 modification, u128 base, const RuleSet &rules) {
  const double exact_threshold =
      to_double(base) * rules.fraction_numerator / rules.fraction_denominator;
  if (exact_threshold > 0) return to_double(modification) / exact_threshold;
  return modification == 0 ? 0 : std::numeric_limits<double>::infinity();
}

std::string percent(double fraction) {
  char buffer[64];
  // Three significant figures, so that a small fraction never reads as "0.0%".
  std::snprintf(buffer, sizeof buffer, "%.3g%%", fraction * 100);
  return buffer;
}

// What evaluate() established, for the sentence that explains it.
struct Findings {
  bool provider;
  bool original_systemic;
  bool cumulative_over; // original + modification > presumption (original compute known)
  bool alone_over;      // modification > presumption
  u128 cumulative;
};

std::string explain(u128 modification, const RuleSet &rules, const Base &base,
                    const Verdict &verdict, const Findings &found) {
  const std::string fraction =
      std::to_string(rules.fraction_numerator) + "/" + std::to_string(rules.fraction_denominator);
  std::string text = "Rule set " + std::string(rules.name) + ", rule " + verdict.rule +
                     ": the modification counted " + to_sci2(modification) + " FLOP (" +
                     to_decimal(modification) + "). The threshold is " + fraction + " of " +
                     base.description + ", so a modification that uses more than " +
                     to_decimal(verdict.threshold_flops) + " FLOP makes a new model. ";
  text += found.provider ? "The modification is greater than the threshold"
                         : "The modification is not greater than the threshold";
  if (base.flops != 0) text += " (" + percent(verdict.fraction_of_threshold) + " of it)";
  text += found.provider ? ": the modifier is the provider of the modified model."
                         : ": the modifier remains a downstream user.";
  if (!found.provider) return text;

  const std::string presumption = to_sci2(rules.systemic_risk_presumption_flops) + " FLOP";
  if (found.original_systemic)
    text += " The original model has systemic risk, so the modified model is presumed to have "
            "systemic risk too";
  else if (found.cumulative_over)
    text += " The modified model's cumulative training compute (original plus modification) of " +
            to_sci2(found.cumulative) + " FLOP is greater than " + presumption +
            ", so it is presumed to have systemic risk (Art. 51(2))";
  else if (found.alone_over)
    text += " The modification alone is greater than " + presumption +
            ", so the modified model is presumed to have systemic risk (Art. 51(2))";
  else
    return text;
  return text + " and the Commission must be notified within two weeks (Art. 52(1)).";
}

} // namespace

std::string_view status_name(Status status) {
  switch (status) {
  case Status::DownstreamUser:
    return "downstream_user";
  case Status::Provider:
    return "provider";
  case Status::ProviderSystemicRisk:
    return "provider_systemic_risk";
  }
  return "unknown";
}

const std::vector<RuleSet> &rule_sets() {
  // Never destroyed: the runtime evaluates from its exit path, which may run after static
  // destructors (the library-destructor fallback in runtime/lifecycle.cpp).
  static const auto *sets = new std::vector<RuleSet>{eu_gpai_2025_07()};
  return *sets;
}

const RuleSet *find_rule_set(std::string_view name) {
  for (const RuleSet &set : rule_sets())
    if (set.name == name) return &set;
  return nullptr;
}

const RuleSet &default_rule_set() {
  return rule_sets().front();
}

Verdict evaluate(u128 modification_flops, const OriginalModel &original, const RuleSet &rules) {
  const Base base = choose_base(original, rules);
  Verdict verdict;
  verdict.rule = base.rule;
  verdict.threshold_flops =
      threshold(base.flops, rules.fraction_numerator, rules.fraction_denominator);

  // The decision itself: den * modification > num * base, exactly, in 160 bits.
  const bool provider = greater(multiply(modification_flops, rules.fraction_denominator),
                                multiply(base.flops, rules.fraction_numerator));

  verdict.fraction_of_threshold = display_fraction(modification_flops, base.flops, rules);

  u128 cumulative = kU128Max; // an overflowing sum is certainly over the presumption
  checked_add(original.training_flops, modification_flops, cumulative);
  verdict.cumulative_over_systemic_presumption =
      original.compute_known && cumulative > rules.systemic_risk_presumption_flops;
  const bool alone_over = modification_flops > rules.systemic_risk_presumption_flops;

  const bool systemic =
      original.systemic_risk || verdict.cumulative_over_systemic_presumption || alone_over;
  if (provider) verdict.status = systemic ? Status::ProviderSystemicRisk : Status::Provider;
  verdict.notify_commission = verdict.status == Status::ProviderSystemicRisk;
  const Findings found{provider, original.systemic_risk,
                       verdict.cumulative_over_systemic_presumption, alone_over, cumulative};
  verdict.reasoning = explain(modification_flops, rules, base, verdict, found);
  return verdict;
}

} // namespace flopledger
