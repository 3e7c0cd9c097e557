// The compute budget (FLOPLEDGER_BUDGET): where a job asks to stop, either as a fraction of the
// rule set's threshold or as an absolute FLOP count. Parsed and applied exactly.
#pragma once

#include <string>
#include <string_view>

#include "accounting/exact.hpp"
#include "accounting/fraction.hpp"

namespace flopledger {

/// A parsed budget. Exactly one of the two forms applies.
struct Budget {
  enum class Kind { FractionOfThreshold, Absolute };
  Kind kind = Kind::FractionOfThreshold;
  Fraction fraction{1, 1}; ///< Kind::FractionOfThreshold: 0 < fraction <= 1, lowest terms
  u128 flops = 0;          ///< Kind::Absolute: a FLOP count greater than zero
  std::string text;        ///< the value as given, for messages and the ledger
};

/// Parses a budget. How the form is decided, so that no value is ambiguous:
///  - ends with '%' ("80%", "33.5%"): a percentage of the threshold;
///  - contains '/' ("1/2"): an exact fraction of the threshold;
///  - contains '.' and no exponent marker ('e' or 'E') ("0.8", "1.0"): a decimal fraction of the
///    threshold;
///  - otherwise (a whole number "1000000", or scientific notation "2.5e22", "1E23"): an absolute
///    FLOP count, read by parse_flops (so it must be a whole number of FLOPs).
/// A fraction must be greater than 0 and at most 1 (100%); an absolute count greater than 0.
/// Returns true and sets `out`; on failure returns false with `error` naming the value and what
/// was expected (callers prefix the setting's name), leaving `out` unchanged.
bool parse_budget(std::string_view text, Budget &out, std::string &error);

/// The budget in FLOPs: floor(threshold_flops x fraction) for a fraction, the count itself for an
/// absolute budget (which may lie above the threshold: the user asked for it). Exact; never fails.
u128 budget_flops(const Budget &budget, u128 threshold_flops);

} // namespace flopledger
