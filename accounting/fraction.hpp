// Exact fractions for thresholds and budgets ("1/3", "0.30", "80%"), and exact comparisons of
// products wider than 128 bits. Nothing here goes through binary floating point.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "accounting/exact.hpp"

namespace flopledger {

/// A non-negative rational in lowest terms; the denominator is never zero.
struct Fraction {
  std::uint64_t numerator = 0;
  std::uint64_t denominator = 1;
};

inline bool operator==(const Fraction &a, const Fraction &b) {
  return a.numerator == b.numerator && a.denominator == b.denominator;
}

/// "1/3", "3/10", "1" (a whole number prints without a denominator). Never fails.
std::string to_string(const Fraction &fraction);

/// `text` without leading and trailing ASCII spaces and tabs.
std::string_view trim_blanks(std::string_view text);

/// Parses a non-negative exact fraction written as "a/b" (integers, b > 0: "1/3"), as a decimal
/// ("0.30", "1", "0.8") or as a percentage ("30%", "33.5%"), with optional surrounding ASCII
/// spaces, and reduces it to lowest terms ("0.30" -> 3/10). Returns true and sets `out`; on
/// failure returns false, leaves `out` unchanged and sets `error` to a message naming the text and
/// what was expected (without the setting's name: callers prefix that). Numerators and
/// denominators must fit in 64 bits (at most 18 significant digits in a decimal).
bool parse_fraction(std::string_view text, Fraction &out, std::string &error);

/// True when fraction <= 1.
bool at_most_one(const Fraction &fraction);

/// floor(value * fraction), exact, for a fraction of at most one (so the result fits; a larger
/// fraction saturates at 2^128-1).
u128 floor_times(u128 value, const Fraction &fraction);

/// Compares a*b with c*d exactly (256-bit products): negative, zero or positive.
int compare_products(u128 a, u128 b, u128 c, u128 d);

} // namespace flopledger
