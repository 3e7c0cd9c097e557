// Exact integer arithmetic for FLOP counts: 128-bit totals, decimal formatting and parsing.
// FLOP figures never pass through binary floating point; doubles appear only for display.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace flopledger {

using u128 = unsigned __int128;

/// The largest value a u128 holds (2^128 - 1, about 3.4e38).
constexpr u128 kU128Max = ~static_cast<u128>(0);

/// Exact decimal digits of `value`, e.g. "33333333333333333333333". Never fails.
std::string to_decimal(u128 value);

/// `value` to two significant figures in scientific notation, rounded half up, e.g. "3.3e22";
/// values below 1000 are printed exactly ("0", "42", "999"). For display and notifications only.
std::string to_sci2(u128 value);

/// `value` as a double (nearest), for ratios shown to people; never used to decide anything.
double to_double(u128 value);

/// Result of parsing: `ok` with `value`, or not `ok` with `error` saying what was expected.
struct ParsedFlops {
  bool ok = false;
  u128 value = 0;
  std::string error;
};

/// Parses a non-negative FLOP count written as a decimal integer ("123"), or in scientific
/// notation with an exact integer value ("3.4e22", "1E25", "2.5e3", "1.0e1"), with optional
/// surrounding ASCII spaces. Rejects: empty text, signs ("-5", "+5"), non-digits ("abc"),
/// fractions that are not whole numbers ("2.5", "1e-3"), and values above 2^128-1 ("1e400").
/// The error names what was found and what was expected, without the variable's name (callers
/// prefix that).
ParsedFlops parse_flops(std::string_view text);

/// a + b, or false when the sum exceeds 2^128-1 (out is then unchanged).
bool checked_add(u128 a, u128 b, u128 &out);
/// a * b, or false on overflow (out is then unchanged).
bool checked_mul(u128 a, u128 b, u128 &out);

/// a + b, or 2^128-1 when the sum overflows: a wrong-but-huge figure is safer than a small one.
inline u128 saturating_add(u128 a, u128 b) {
  u128 sum;
  return checked_add(a, b, sum) ? sum : kU128Max;
}
/// a * b, or 2^128-1 when the product overflows.
inline u128 saturating_mul(u128 a, u128 b) {
  u128 product;
  return checked_mul(a, b, product) ? product : kU128Max;
}

/// Adds the 128-bit number held as (lo, hi) words — the MPI wire and HDF5 column layout.
inline u128 from_words(std::uint64_t lo, std::uint64_t hi) {
  return (static_cast<u128>(hi) << 64) | lo;
}
inline std::uint64_t lo_word(u128 v) {
  return static_cast<std::uint64_t>(v);
}
inline std::uint64_t hi_word(u128 v) {
  return static_cast<std::uint64_t>(v >> 64);
}

} // namespace flopledger
