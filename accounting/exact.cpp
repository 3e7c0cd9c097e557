#include "accounting/exact.hpp"

#include <algorithm>

namespace flopledger {
namespace {

constexpr const char *kExpectedCount = "expected a whole number such as 123 or 3.4e22";

u128 pow10(unsigned exponent) {
  u128 result = 1;
  for (unsigned i = 0; i < exponent; ++i)
    result *= 10;
  return result;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_space(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && is_space(text.back()))
    text.remove_suffix(1);
  return text;
}

std::string_view take_digits(std::string_view &text) {
  std::size_t n = 0;
  while (n < text.size() && is_digit(text[n]))
    ++n;
  std::string_view digits = text.substr(0, n);
  text.remove_prefix(n);
  return digits;
}

ParsedFlops failure(std::string message) {
  ParsedFlops result;
  result.error = std::move(message);
  return result;
}

std::string quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

// The pieces of "<int>[.<frac>][e[+|-]<exp>]", syntax checked but not yet evaluated.
struct Numeral {
  std::string digits;     // integer and fraction digits, concatenated
  std::int64_t scale = 0; // value = digits * 10^scale
};

// Exponents beyond this cannot change the outcome (overflow or a fraction) but must not overflow
// the arithmetic that adjusts the scale.
constexpr std::int64_t kExponentClamp = 100000;

std::int64_t clamped_exponent(std::string_view digits) {
  std::int64_t value = 0;
  for (char c : digits)
    value = std::min<std::int64_t>(value * 10 + (c - '0'), kExponentClamp);
  return value;
}

// Returns an error message, or an empty string when `text` is a well-formed numeral.
std::string split_numeral(std::string_view text, Numeral &out) {
  const std::string_view original = text;
  if (text.front() == '-' || text.front() == '+')
    return quoted(original) + " has a sign; " + kExpectedCount;
  const std::string_view whole = take_digits(text);
  std::string_view fraction;
  if (!text.empty() && text.front() == '.') {
    text.remove_prefix(1);
    fraction = take_digits(text);
    if (fraction.empty())
      return quoted(original) + " needs digits after the decimal point; " + kExpectedCount;
  }
  if (whole.empty()) return quoted(original) + " does not start with a digit; " + kExpectedCount;
  std::int64_t exponent = 0;
  if (!text.empty() && (text.front() == 'e' || text.front() == 'E')) {
    text.remove_prefix(1);
    bool negative = false;
    if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
      negative = text.front() == '-';
      text.remove_prefix(1);
    }
    const std::string_view exp_digits = take_digits(text);
    if (exp_digits.empty())
      return quoted(original) + " needs digits after the exponent marker; " + kExpectedCount;
    exponent = clamped_exponent(exp_digits);
    if (negative) exponent = -exponent;
  }
  if (!text.empty())
    return quoted(original) + " has unexpected text " + quoted(text) + "; " + kExpectedCount;
  out.digits = std::string(whole) + std::string(fraction);
  out.scale = exponent - static_cast<std::int64_t>(fraction.size());
  return {};
}

// Normalises digits * 10^scale: drops leading zeros and moves trailing zeros into the scale, so
// that "1.000e3" and "1000" become the same (digits, scale) and long but exact numerals fit.
void normalise(Numeral &numeral) {
  std::string &d = numeral.digits;
  const std::size_t first = d.find_first_not_of('0');
  if (first == std::string::npos) {
    d = "0";
    numeral.scale = 0;
    return;
  }
  d.erase(0, first);
  const std::size_t last = d.find_last_not_of('0');
  numeral.scale += static_cast<std::int64_t>(d.size() - 1 - last);
  d.erase(last + 1);
}

} // namespace

std::string to_decimal(u128 value) {
  if (value == 0) return "0";
  std::string digits;
  while (value != 0) {
    digits.push_back(static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  }
  std::reverse(digits.begin(), digits.end());
  return digits;
}

std::string to_sci2(u128 value) {
  // Below 1000 the exact integer is as short as the scientific form and hides nothing.
  if (value < 1000) return to_decimal(value);
  const std::size_t exponent = to_decimal(value).size() - 1;
  const u128 unit = pow10(static_cast<unsigned>(exponent - 1)); // weight of the second digit
  u128 leading = value / unit;                                  // two digits, 10..99
  const u128 rest = value % unit;
  std::size_t shown_exponent = exponent;
  if (rest >= unit - rest) ++leading; // rest >= unit / 2, i.e. round half up, without overflow
  if (leading == 100) {
    leading = 10;
    ++shown_exponent;
  }
  const int two = static_cast<int>(leading);
  return std::to_string(two / 10) + "." + std::to_string(two % 10) + "e" +
         std::to_string(shown_exponent);
}

double to_double(u128 value) {
  return static_cast<double>(value);
}

ParsedFlops parse_flops(std::string_view text) {
  const std::string_view body = trim(text);
  if (body.empty()) return failure("empty value; " + std::string(kExpectedCount));
  Numeral numeral;
  std::string error = split_numeral(body, numeral);
  if (!error.empty()) return failure(std::move(error));
  normalise(numeral);
  if (numeral.scale < 0) return failure(quoted(body) + " is not a whole number");

  const std::string too_large = quoted(body) + " is greater than 2^128-1 (about 3.4e38)";
  u128 value = 0;
  for (char c : numeral.digits)
    if (!checked_mul(value, 10, value) || !checked_add(value, u128(c - '0'), value))
      return failure(too_large);
  for (std::int64_t i = 0; i < numeral.scale && value != 0; ++i)
    if (!checked_mul(value, 10, value)) return failure(too_large);

  ParsedFlops result;
  result.ok = true;
  result.value = value;
  return result;
}

bool checked_add(u128 a, u128 b, u128 &out) {
  u128 sum;
  if (__builtin_add_overflow(a, b, &sum)) return false;
  out = sum;
  return true;
}

bool checked_mul(u128 a, u128 b, u128 &out) {
  u128 product;
  if (__builtin_mul_overflow(a, b, &product)) return false;
  out = product;
  return true;
}

} // namespace flopledger
