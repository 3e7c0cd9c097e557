// The regulatory rule sets and the one evaluator that decides a verdict. Rank 0 calls it live,
// the CLI calls it post-hoc: the two can never disagree.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "accounting/exact.hpp"
#include "accounting/tags.hpp"
#include "flopledger/tags.h"

namespace flopledger {

enum class Status {
  DownstreamUser = FLOPLEDGER_STATUS_DOWNSTREAM_USER,
  Provider = FLOPLEDGER_STATUS_PROVIDER,
  ProviderSystemicRisk = FLOPLEDGER_STATUS_PROVIDER_SYSTEMIC_RISK,
};

/// "downstream_user", "provider", "provider_systemic_risk".
std::string_view status_name(Status status);

/// What the modifier knows about the original (base) model.
struct OriginalModel {
  bool compute_known = false;
  u128 training_flops = 0;    ///< meaningful only when compute_known
  bool systemic_risk = false; ///< the original is a GPAI model with systemic risk
};

/// A versioned, cited rule set. Thresholds are exact rationals: base * numerator / denominator.
struct RuleSet {
  std::string_view name;                  ///< e.g. "eu-gpai-2025-07"
  std::string_view title;                 ///< one line for people
  std::string_view citation;              ///< where each number comes from
  std::uint32_t fraction_numerator;       ///< modification must be greater than this fraction ...
  std::uint32_t fraction_denominator;     ///< ... of the original compute (1/3)
  u128 unknown_original_flops;            ///< base when the original compute is unknown (1e23)
  u128 unknown_systemic_original_flops;   ///< ... and the original has systemic risk (1e25)
  u128 systemic_risk_presumption_flops;   ///< Art. 51(2): cumulative compute greater than 1e25
  std::array<bool, kPhases> phase_counts; ///< which phases count toward the threshold
};

/// Every rule set compiled in; the first is the default.
const std::vector<RuleSet> &rule_sets();
/// The rule set called `name`, or nullptr.
const RuleSet *find_rule_set(std::string_view name);
const RuleSet &default_rule_set();

struct Verdict {
  Status status = Status::DownstreamUser;
  u128 threshold_flops = 0; ///< floor(base * num / den): for integers, x > T_exact <=> x > this
  std::string rule;      ///< id of the rule that set the threshold, e.g. "known_original_fraction"
  std::string reasoning; ///< one paragraph for people: which rule applied and why
  double fraction_of_threshold = 0; ///< modification / exact threshold, for display only
  bool notify_commission = false;   ///< Art. 52(1) notification due (systemic risk provider)
  bool cumulative_over_systemic_presumption = false; ///< original + modification > 1e25 (known)
};

/// Decides the status of `modification_flops` (compute that counts toward the threshold) against
/// `original` under `rules`. Exact: "greater than" is `den * modification > num * base` in
/// 128-bit (or wider, without overflow) integer arithmetic. Rules:
///  - original compute known: base = original compute (rule "known_original_fraction");
///  - unknown, no systemic risk: base = unknown_original_flops ("unknown_original_default");
///  - unknown, systemic risk: base = unknown_systemic_original_flops
///    ("unknown_original_systemic_risk").
/// A provider is ProviderSystemicRisk when the original has systemic risk, or when the modified
/// model's cumulative compute (original + modification, when known) or the modification alone is
/// greater than systemic_risk_presumption_flops; notify_commission is then true.
Verdict evaluate(u128 modification_flops, const OriginalModel &original, const RuleSet &rules);

} // namespace flopledger
