#include <doctest/doctest.h>

#include "u128_printer.hpp"

#include "accounting/exact.hpp"

using namespace flopledger;

namespace {

constexpr u128 kTwo64 = static_cast<u128>(1) << 64;

// Written independently of parse_flops, so that the tests do not check the parser with itself.
u128 pow10(int exponent) {
  u128 value = 1;
  for (int i = 0; i < exponent; ++i)
    value *= 10;
  return value;
}

u128 parsed(const char *text) {
  const ParsedFlops result = parse_flops(text);
  INFO("text: '" << text << "', error: " << result.error);
  REQUIRE(result.ok);
  CHECK(result.error.empty());
  return result.value;
}

std::string rejection(const char *text) {
  const ParsedFlops result = parse_flops(text);
  INFO("text: '" << text << "'");
  CHECK_FALSE(result.ok);
  CHECK(result.value == 0);
  CHECK_FALSE(result.error.empty());
  return result.error;
}

} // namespace

TEST_CASE("to_decimal prints every digit exactly") {
  CHECK(to_decimal(0) == "0");
  CHECK(to_decimal(1) == "1");
  CHECK(to_decimal(1234567890) == "1234567890");
  CHECK(to_decimal(kTwo64 - 1) == "18446744073709551615");
  CHECK(to_decimal(kTwo64) == "18446744073709551616");
  CHECK(to_decimal(kU128Max) == "340282366920938463463374607431768211455");
  CHECK(to_decimal((pow10(23) - 1) / 3) == "33333333333333333333333");
}

TEST_CASE("to_sci2 gives two significant figures, rounded half up, exact below 1000") {
  CHECK(to_sci2(0) == "0");
  CHECK(to_sci2(42) == "42");
  CHECK(to_sci2(999) == "999");
  CHECK(to_sci2(1000) == "1.0e3");
  CHECK(to_sci2(1049) == "1.0e3");
  CHECK(to_sci2(1050) == "1.1e3"); // exactly half: rounds up
  CHECK(to_sci2(12345) == "1.2e4");
  CHECK(to_sci2(99499) == "9.9e4");
  CHECK(to_sci2(99500) == "1.0e5");
  CHECK(to_sci2(99950) == "1.0e5"); // rounding carries into the exponent
  CHECK(to_sci2((pow10(23) - 1) / 3) == "3.3e22");
  CHECK(to_sci2(34 * pow10(21)) == "3.4e22");
  CHECK(to_sci2(pow10(25)) == "1.0e25");
  CHECK(to_sci2(kU128Max) == "3.4e38");
}

TEST_CASE("to_double is the nearest double") {
  CHECK(to_double(0) == 0.0);
  CHECK(to_double(kTwo64) == 18446744073709551616.0);
  CHECK(to_double(pow10(23)) == 1e23);
  CHECK(to_double(kU128Max) == 340282366920938463463374607431768211455.0);
}

TEST_CASE("parse_flops accepts integers and exact scientific notation") {
  CHECK(parsed("0") == 0);
  CHECK(parsed("123") == 123);
  CHECK(parsed("3.4e22") == 34 * pow10(21));
  CHECK(to_decimal(parsed("3.4e22")) == "34000000000000000000000");
  CHECK(parsed("1E25") == pow10(25));
  CHECK(parsed("1e23") == pow10(23));
  CHECK(parsed("2.5e3") == 2500);
  CHECK(parsed(" 7 ") == 7);
  CHECK(parsed("\t7") == 7);
  CHECK(parsed("1.0e1") == 10);
  CHECK(parsed("1.000000000000000000000000000000000000000000000000e5") == 100000);
  CHECK(parsed("000123") == 123);
  CHECK(parsed("1e+3") == 1000);
  CHECK(parsed("1000e-3") == 1); // a negative exponent is fine when the value stays whole
  CHECK(parsed("0e400") == 0);
  CHECK(parsed("18446744073709551616") == kTwo64);
  CHECK(parsed("340282366920938463463374607431768211455") == kU128Max);
  CHECK(parsed("3.40282366920938463463374607431768211455e38") == kU128Max);
}

TEST_CASE("parse_flops rejects what is not a non-negative whole number below 2^128") {
  CHECK(rejection("").find("empty") != std::string::npos);
  CHECK(rejection("   ").find("empty") != std::string::npos);
  CHECK(rejection("abc").find("'abc'") != std::string::npos);
  CHECK(rejection("-5").find("sign") != std::string::npos);
  CHECK(rejection("+5").find("sign") != std::string::npos);
  CHECK(rejection("2.5").find("not a whole number") != std::string::npos);
  CHECK(rejection("1e-3").find("not a whole number") != std::string::npos);
  CHECK(rejection("1e400").find("greater than 2^128-1") != std::string::npos);
  CHECK(rejection("340282366920938463463374607431768211456").find("greater") != std::string::npos);
  CHECK(rejection("3.5e38").find("greater") != std::string::npos);
  CHECK(rejection("1e99999999999999999999999").find("greater") != std::string::npos);
  CHECK(rejection("1e").find("exponent") != std::string::npos);
  CHECK(rejection("e5").find("'e5'") != std::string::npos);
  CHECK(rejection("1..2e3").find("decimal point") != std::string::npos);
  CHECK(rejection("0x10").find("'x10'") != std::string::npos);
  CHECK(rejection(".5").find("'.5'") != std::string::npos);
  CHECK(rejection("1.").find("decimal point") != std::string::npos);
  CHECK(rejection("1 000").find("' 000'") != std::string::npos);
  CHECK(rejection("12abc").find("'abc'") != std::string::npos);
  CHECK(rejection("nan").find("'nan'") != std::string::npos);
  CHECK(rejection("inf").find("'inf'") != std::string::npos);
}

TEST_CASE("parse_flops errors say what was expected without naming a variable") {
  const std::string error = parse_flops("-5").error;
  CHECK(error == "'-5' has a sign; expected a whole number such as 123 or 3.4e22");
  CHECK(parse_flops("2.5").error == "'2.5' is not a whole number");
  CHECK(parse_flops("1e400").error == "'1e400' is greater than 2^128-1 (about 3.4e38)");
}

TEST_CASE("checked_add carries across 2^64 and refuses to wrap") {
  u128 out = 7;
  REQUIRE(checked_add(kTwo64 - 1, 1, out));
  CHECK(out == kTwo64);
  CHECK(hi_word(out) == 1);
  CHECK(lo_word(out) == 0);
  REQUIRE(checked_add(kU128Max - 5, 5, out));
  CHECK(out == kU128Max);
  out = 7;
  CHECK_FALSE(checked_add(kU128Max, 1, out));
  CHECK(out == 7);
  CHECK_FALSE(checked_add(kU128Max / 2 + 1, kU128Max / 2 + 1, out));
  CHECK(out == 7);
}

TEST_CASE("checked_mul is exact up to 2^128-1 and refuses to wrap") {
  u128 out = 7;
  REQUIRE(checked_mul(kTwo64 - 1, kTwo64 - 1, out));
  CHECK(out == kU128Max - 2 * (kTwo64 - 1)); // (2^64-1)^2 = 2^128 - 2^65 + 1
  REQUIRE(checked_mul(kTwo64, kTwo64 - 1, out));
  CHECK(out == kU128Max - (kTwo64 - 1));
  REQUIRE(checked_mul(0, kU128Max, out));
  CHECK(out == 0);
  out = 7;
  CHECK_FALSE(checked_mul(kTwo64, kTwo64, out));
  CHECK(out == 7);
  CHECK_FALSE(checked_mul(kU128Max, 2, out));
  CHECK(out == 7);
}

TEST_CASE("words round-trip the MPI and HDF5 layout") {
  const u128 value = from_words(0x0123456789abcdefULL, 0xfedcba9876543210ULL);
  CHECK(lo_word(value) == 0x0123456789abcdefULL);
  CHECK(hi_word(value) == 0xfedcba9876543210ULL);
  CHECK(from_words(0, 1) == kTwo64);
  CHECK(from_words(~0ULL, ~0ULL) == kU128Max);
}
