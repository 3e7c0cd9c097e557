// The regulatory rule sets and the one evaluator that decides a verdict. Rank 0 calls it live,
// the CLI calls it post-hoc: the two can never disagree.
//
// A rule set is data: a versioned, cited text file (accounting/rulesets/*.rules, format in
// docs/rule-sets.md). The built-in files are embedded at build time; load_rule_set() also reads
// a file by path, so a delegated act that changes a threshold is a new file, not a code change.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "accounting/exact.hpp"
#include "accounting/fraction.hpp"
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

/// Which figure the verdict uses when several estimation methods give one.
enum class VerdictMethod {
  Highest,  ///< the highest credible figure (conservative: a crossing is never missed)
  Counted,  ///< the operations counted by the hooks
  Analytic, ///< the architecture-based estimate (declared model x tokens)
  Hardware, ///< the hardware-based bound (devices x time x peak x utilisation)
};

/// "highest", "counted", "analytic", "hardware".
std::string_view verdict_method_name(VerdictMethod method);

/// What the modifier knows about the original (base) model.
struct OriginalModel {
  bool compute_known = false;
  u128 training_flops = 0;    ///< meaningful only when compute_known
  bool systemic_risk = false; ///< the original is a GPAI model with systemic risk
};

/// What a threshold is: `flops` itself (absolute) or RuleSet::fraction of `flops`.
struct ThresholdBase {
  u128 flops = 0;
  bool absolute = false;
};

/// A versioned, cited rule set, as parsed from its file. Every number is exact.
struct RuleSet {
  std::string name;     ///< e.g. "eu-gpai-2025-07"
  std::string version;  ///< the file's own revision, e.g. "1"
  std::string title;    ///< one line for people
  std::string citation; ///< the sources, in one paragraph
  std::string origin;   ///< "built-in" or the path it was read from
  std::string text;     ///< the full source text, for a ledger to store for audit

  /// Modification must be greater than this fraction of the original compute (1/3); 0 < f <= 1.
  Fraction fraction{1, 3};
  ThresholdBase unknown_original; ///< the original's compute is unknown
  /// ... and the original has systemic risk; nullopt: `unknown_original` applies then too.
  std::optional<ThresholdBase> unknown_systemic_original;
  /// A known original compute below this uses `below_floor` instead (AWS: 1e23); nullopt: never.
  std::optional<u128> known_original_floor;
  ThresholdBase below_floor; ///< meaningful only with known_original_floor

  /// Art. 51(2): cumulative compute greater than this presumes systemic risk (1e25).
  u128 systemic_risk_presumption_flops = 0;
  /// Whether a provider can have status ProviderSystemicRisk (and must notify the Commission).
  bool systemic_risk_status = true;
  /// Days to notify the Commission (Art. 52(1): 14); 0 when the rule set has no notification.
  std::uint32_t notification_days = 0;

  std::array<bool, kPhases> phase_counts{}; ///< which phases count toward the threshold
  VerdictMethod verdict_method = VerdictMethod::Highest;
  std::uint32_t method_tolerance_percent = 30; ///< an estimate must be accurate within this
};

/// Parses rule-set `text` (the file format of docs/rule-sets.md). `origin` names the text in
/// messages (a path, or "built-in NAME"). Returns true and fills `out` (text and origin included);
/// on failure returns false, leaves `out` unchanged and sets `error` to
/// "ORIGIN:LINE: what was found and what was expected" (or "ORIGIN: missing key ...").
bool parse_rule_set(std::string_view text, const std::string &origin, RuleSet &out,
                    std::string &error);

/// A built-in rule set by name, or else a rule-set file by path. Returns true and fills `out`;
/// on failure returns false with `error` naming the value (an unknown name lists the built-in
/// ones; an unreadable or invalid file names the path and line). A file may not take a built-in
/// name unless its text is identical, so a name in a ledger always means one set of rules.
bool load_rule_set(const std::string &name_or_path, RuleSet &out, std::string &error);

/// The rule set a ledger names: parsed from the text the ledger stores (format 1.1), which must
/// carry the same name, or else the built-in rule set of that name (format 1.0 ledgers). Returns
/// false with `error` naming the rule set when neither is possible.
bool ledger_rule_set(const std::string &name, const std::string &text, RuleSet &out,
                     std::string &error);

/// Every rule set compiled in (from accounting/rulesets/); the first is the default.
const std::vector<RuleSet> &rule_sets();
/// The built-in rule set called `name`, or nullptr.
const RuleSet *find_rule_set(std::string_view name);
/// eu-gpai-2025-07.
const RuleSet &default_rule_set();

/// The ledger's figures by method, as the verdict policy sees them.
struct MethodFigures {
  u128 counted = 0;             ///< counted FLOPs of the phases the rule set counts
  std::optional<u128> analytic; ///< when a model was declared
  std::optional<u128> hardware; ///< when a device peak was known
};

/// The figure a verdict is decided on: `method` is never Highest.
struct ChosenFigure {
  VerdictMethod method = VerdictMethod::Counted;
  u128 flops = 0;
};

/// Applies the rule set's verdict_method to the available figures: Counted, or the named method
/// when available (else counted), or for Highest the largest available figure (counted on ties).
/// Rank 0 (live), the report and merge all decide with this one function.
ChosenFigure choose_verdict_figure(const RuleSet &rules, const MethodFigures &figures);

struct Verdict {
  Status status = Status::DownstreamUser;
  u128 threshold_flops = 0; ///< floor of the exact threshold: for integers x > T <=> x > this
  std::string rule;      ///< id of the rule that set the threshold, e.g. "known_original_fraction"
  std::string reasoning; ///< one paragraph for people: which rule applied and why
  double fraction_of_threshold = 0; ///< modification / exact threshold, for display only
  bool notify_commission = false;   ///< Art. 52(1) notification due (systemic risk provider)
  bool cumulative_over_systemic_presumption = false; ///< original + modification > 1e25 (known)
};

/// Decides the status of `modification_flops` (compute that counts toward the threshold) against
/// `original` under `rules`. Exact: "greater than" is `den x modification > num x base` in 256-bit
/// integer arithmetic, never a division or a double. The rule that sets the threshold:
///  - "known_original_fraction": compute known (and not below known_original_floor): fraction of
///    the original compute;
///  - "known_original_below_floor": compute known but below known_original_floor: below_floor;
///  - "unknown_original_default": compute unknown (and no systemic-risk rule applies);
///  - "unknown_original_systemic_risk": compute unknown, the original has systemic risk and the
///    rule set has unknown_systemic_original.
/// With systemic_risk_status, a provider is ProviderSystemicRisk when the original has systemic
/// risk, or when the modified model's cumulative compute (original + modification, when known)
/// or the modification alone is greater than systemic_risk_presumption_flops; notify_commission
/// is then true. cumulative_over_systemic_presumption is reported whatever the status.
Verdict evaluate(u128 modification_flops, const OriginalModel &original, const RuleSet &rules);

} // namespace flopledger
