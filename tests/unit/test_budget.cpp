#include <doctest/doctest.h>

#include "u128_printer.hpp"

#include <string>

#include "accounting/budget.hpp"

using namespace flopledger;

namespace {

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

Budget parsed(const char *text) {
  Budget budget;
  std::string error;
  INFO(text);
  REQUIRE_MESSAGE(parse_budget(text, budget, error), error);
  return budget;
}

std::string rejected(const char *text) {
  Budget budget;
  budget.flops = 7;
  std::string error;
  INFO(text);
  CHECK_FALSE(parse_budget(text, budget, error));
  CHECK(budget.flops == 7); // unchanged
  CHECK_FALSE(error.empty());
  return error;
}

u128 e(int exponent, u128 mantissa = 1) {
  for (int i = 0; i < exponent; ++i)
    mantissa *= 10;
  return mantissa;
}

} // namespace

TEST_CASE("parse_budget: fractions of the threshold") {
  const Budget percent = parsed("80%");
  CHECK(percent.kind == Budget::Kind::FractionOfThreshold);
  CHECK(percent.fraction == Fraction{4, 5});
  CHECK(percent.text == "80%");
  CHECK(parsed("0.8").fraction == Fraction{4, 5});
  CHECK(parsed(" 0.80 ").fraction == Fraction{4, 5});
  CHECK(parsed("33.5%").fraction == Fraction{67, 200});
  CHECK(parsed("1.0").fraction == Fraction{1, 1});
  CHECK(parsed("100%").fraction == Fraction{1, 1});
  CHECK(parsed("1/2").fraction == Fraction{1, 2});
  CHECK(parsed("0.000001").fraction == Fraction{1, 1000000});
}

TEST_CASE("parse_budget: absolute FLOP counts") {
  const Budget sci = parsed("2.5e22");
  CHECK(sci.kind == Budget::Kind::Absolute);
  CHECK(sci.flops == e(21, 25));
  CHECK(parsed("1000000").flops == 1000000);
  CHECK(parsed("1").kind == Budget::Kind::Absolute); // no '.' and no '%': one FLOP, not 100%
  CHECK(parsed("1E23").flops == e(23));
  CHECK(parsed("340282366920938463463374607431768211455").flops == kU128Max);
}

TEST_CASE("parse_budget: bad values name the value and what was expected") {
  CHECK(contains(rejected("abc"), "'abc'"));
  CHECK(contains(rejected("abc"), "80%"));
  CHECK(contains(rejected("-1"), "'-1' has a sign"));
  CHECK(contains(rejected("1.5"), "'1.5' is more than the whole threshold"));
  CHECK(contains(rejected("150%"), "'150%' is more than the whole threshold"));
  CHECK(contains(rejected(""), "empty value"));
  CHECK(contains(rejected("   "), "empty value"));
  CHECK(contains(rejected("0%"), "'0%' is zero"));
  CHECK(contains(rejected("0.0"), "is zero"));
  CHECK(contains(rejected("0"), "'0' is zero"));
  CHECK(contains(rejected("1e400"), "greater than 2^128-1"));
  CHECK(contains(rejected("2.5e-3"), "not a whole number"));
  CHECK(contains(rejected("80 %"), "not a number"));
  CHECK(contains(rejected("1/0"), "zero denominator"));
  CHECK(contains(rejected("%"), "not a number"));
  CHECK(contains(rejected(".5"), "not a number"));
  CHECK(contains(rejected("5."), "not a number"));
  CHECK(contains(rejected("0.1234567890123456789"), "too many digits"));
}

TEST_CASE("budget_flops: exact, rounded down") {
  const u128 third_e23 = e(23) / 3; // 33333333333333333333333
  CHECK(budget_flops(parsed("80%"), third_e23) == third_e23 * 4 / 5);
  CHECK(budget_flops(parsed("80%"), 10) == 8);
  CHECK(budget_flops(parsed("80%"), 9) == 7); // 7.2
  CHECK(budget_flops(parsed("1/3"), 2) == 0);
  CHECK(budget_flops(parsed("100%"), kU128Max) == kU128Max);
  CHECK(budget_flops(parsed("0.5"), kU128Max) == kU128Max / 2);
  CHECK(budget_flops(parsed("99%"), kU128Max) == kU128Max / 100 * 99 + (kU128Max % 100) * 99 / 100);
  CHECK(budget_flops(parsed("2.5e22"), third_e23) == e(21, 25));
  CHECK(budget_flops(parsed("5e22"), third_e23) == e(22, 5)); // above the threshold: as asked
}
