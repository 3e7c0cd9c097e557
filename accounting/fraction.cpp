#include "accounting/fraction.hpp"

#include <limits>

namespace flopledger {
namespace {

constexpr const char *kExpectedFraction =
    "expected a fraction such as 1/3, a decimal such as 0.30 or a percentage such as 30%";

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::uint64_t gcd(std::uint64_t a, std::uint64_t b) {
  while (b != 0) {
    const std::uint64_t r = a % b;
    a = b;
    b = r;
  }
  return a;
}

// Appends decimal digits to `value`; false when it would exceed 64 bits.
bool accumulate(std::string_view digits, std::uint64_t &value) {
  for (char c : digits) {
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return false;
    value = value * 10 + digit;
  }
  return true;
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text)
    if (!is_digit(c)) return false;
  return true;
}

// A 256-bit number as two 128-bit halves.
struct U256 {
  u128 high;
  u128 low;
};

U256 multiply(u128 a, u128 b) {
  const u128 mask = ~static_cast<std::uint64_t>(0);
  const u128 a0 = a & mask, a1 = a >> 64, b0 = b & mask, b1 = b >> 64;
  const u128 p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  // The middle column: at most 3 * (2^64 - 1), which fits.
  const u128 middle = (p00 >> 64) + (p01 & mask) + (p10 & mask);
  return U256{p11 + (p01 >> 64) + (p10 >> 64) + (middle >> 64), (middle << 64) | (p00 & mask)};
}

} // namespace

std::string to_string(const Fraction &fraction) {
  if (fraction.denominator == 1) return std::to_string(fraction.numerator);
  return std::to_string(fraction.numerator) + "/" + std::to_string(fraction.denominator);
}

bool parse_fraction(std::string_view text, Fraction &out, std::string &error) {
  const std::string_view body = trim_blanks(text);
  const std::string quoted = "'" + std::string(body) + "'";
  if (body.empty()) {
    error = std::string("empty value; ") + kExpectedFraction;
    return false;
  }
  std::uint64_t numerator = 0, denominator = 1;
  const std::size_t slash = body.find('/');
  if (slash != std::string_view::npos) {
    const std::string_view top = trim_blanks(body.substr(0, slash)),
                           bottom = trim_blanks(body.substr(slash + 1));
    if (!all_digits(top) || !all_digits(bottom)) {
      error = quoted + " is not a fraction of two whole numbers; " + kExpectedFraction;
      return false;
    }
    denominator = 0;
    if (!accumulate(top, numerator) || !accumulate(bottom, denominator)) {
      error = quoted + " has a numerator or denominator above 2^64-1";
      return false;
    }
    if (denominator == 0) {
      error = quoted + " has a zero denominator; " + kExpectedFraction;
      return false;
    }
  } else {
    std::string_view number = body;
    const bool percent = number.back() == '%';
    if (percent) number.remove_suffix(1);
    const std::size_t point = number.find('.');
    const std::string_view whole = number.substr(0, point);
    const std::string_view decimals =
        point == std::string_view::npos ? std::string_view() : number.substr(point + 1);
    if (!all_digits(whole) || (point != std::string_view::npos && !all_digits(decimals))) {
      error = quoted + " is not a number; " + kExpectedFraction;
      return false;
    }
    // 18 digits keep numerator and denominator (10^18 x 100) within 64 bits.
    if (whole.size() + decimals.size() > 18 || decimals.size() > 16) {
      error = quoted + " has too many digits (at most 18, 16 after the point)";
      return false;
    }
    accumulate(whole, numerator);
    accumulate(decimals, numerator);
    for (std::size_t i = 0; i < decimals.size(); ++i)
      denominator *= 10;
    if (percent) denominator *= 100;
  }
  const std::uint64_t divisor = gcd(numerator, denominator);
  out.numerator = numerator / divisor;
  out.denominator = denominator / divisor;
  return true;
}

bool at_most_one(const Fraction &fraction) {
  return fraction.numerator <= fraction.denominator;
}

u128 floor_times(u128 value, const Fraction &fraction) {
  if (fraction.denominator == 0) return kU128Max;
  // value = q * den + r, so value * num / den = q * num + r * num / den, with r * num < 2^128.
  const u128 q = value / fraction.denominator, r = value % fraction.denominator;
  u128 whole;
  if (!checked_mul(q, fraction.numerator, whole) ||
      !checked_add(whole, r * fraction.numerator / fraction.denominator, whole))
    return kU128Max;
  return whole;
}

int compare_products(u128 a, u128 b, u128 c, u128 d) {
  const U256 left = multiply(a, b), right = multiply(c, d);
  if (left.high != right.high) return left.high < right.high ? -1 : 1;
  if (left.low != right.low) return left.low < right.low ? -1 : 1;
  return 0;
}

std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

} // namespace flopledger
