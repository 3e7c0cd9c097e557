#include <doctest/doctest.h>

#include "u128_printer.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "accounting/rules.hpp"

using namespace flopledger;

namespace {

// Built by hand rather than with parse_flops, so that these tests do not depend on the parser.
u128 dec(const char *digits) {
  u128 value = 0;
  for (; *digits; ++digits)
    value = value * 10 + static_cast<u128>(*digits - '0');
  return value;
}

u128 e(int exponent, u128 mantissa = 1) {
  for (int i = 0; i < exponent; ++i)
    mantissa *= 10;
  return mantissa;
}

OriginalModel known(u128 flops, bool systemic = false) {
  return {true, flops, systemic};
}
OriginalModel unknown(bool systemic = false) {
  return {false, 0, systemic};
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

struct Case {
  const char *name;
  u128 modification;
  OriginalModel original;
  Status status;
  const char *rule;
  u128 threshold;
  bool notify;
  bool cumulative_over;
};

} // namespace

TEST_CASE("the eu-gpai-2025-07 rule set carries the guidelines' numbers and citations") {
  REQUIRE(rule_sets().size() == 1);
  const RuleSet &rules = default_rule_set();
  CHECK(&rules == &rule_sets().front());
  CHECK(rules.name == "eu-gpai-2025-07");
  CHECK(contains(std::string(rules.title), "C(2025) 5045"));
  for (const char *part : {"C(2025) 5045", "18 July 2025", "2024/1689", "Art. 51(2)", "Art. 52(1)"})
    CHECK_MESSAGE(contains(std::string(rules.citation), part), part);
  CHECK(rules.fraction_numerator == 1);
  CHECK(rules.fraction_denominator == 3);
  CHECK(rules.unknown_original_flops == e(23));
  CHECK(rules.unknown_systemic_original_flops == e(25));
  CHECK(rules.systemic_risk_presumption_flops == e(25));
  CHECK(rules.phase_counts[FLOPLEDGER_PHASE_TRAIN]);
  CHECK_FALSE(rules.phase_counts[FLOPLEDGER_PHASE_RECOMPUTE]);
  CHECK_FALSE(rules.phase_counts[FLOPLEDGER_PHASE_EVAL]);
  CHECK(rules.phase_counts[FLOPLEDGER_PHASE_SYNTHETIC_DATA]);
  CHECK(rules.phase_counts[FLOPLEDGER_PHASE_OTHER]);
}

TEST_CASE("find_rule_set") {
  REQUIRE(find_rule_set("eu-gpai-2025-07") != nullptr);
  CHECK(find_rule_set("eu-gpai-2025-07") == &default_rule_set());
  CHECK(find_rule_set("nope") == nullptr);
  CHECK(find_rule_set("") == nullptr);
  CHECK(find_rule_set("EU-GPAI-2025-07") == nullptr);
}

TEST_CASE("status_name") {
  CHECK(status_name(Status::DownstreamUser) == "downstream_user");
  CHECK(status_name(Status::Provider) == "provider");
  CHECK(status_name(Status::ProviderSystemicRisk) == "provider_systemic_risk");
}

TEST_CASE("evaluate: the table of decisive cases") {
  const u128 third_e23 = dec("33333333333333333333333");
  const u128 third_e25 = dec("3333333333333333333333333");
  const u128 third_max = dec("113427455640312821154458202477256070485"); // (2^128-1)/3, exact
  const std::vector<Case> cases{
      {"known: exactly one third is not greater", e(23), known(e(23, 3)), Status::DownstreamUser,
       "known_original_fraction", e(23), false, false},
      {"known: one FLOP more", e(23) + 1, known(e(23, 3)), Status::Provider,
       "known_original_fraction", e(23), false, false},
      {"known: nothing counted", 0, known(e(23, 3)), Status::DownstreamUser,
       "known_original_fraction", e(23), false, false},
      {"unknown: 1/3 x 1e23 rounded down", third_e23, unknown(), Status::DownstreamUser,
       "unknown_original_default", third_e23, false, false},
      {"unknown: one more", third_e23 + 1, unknown(), Status::Provider, "unknown_original_default",
       third_e23, false, false},
      {"unknown systemic: 1/3 x 1e25 rounded down", third_e25, unknown(true),
       Status::DownstreamUser, "unknown_original_systemic_risk", third_e25, false, false},
      {"unknown systemic: one more", third_e25 + 1, unknown(true), Status::ProviderSystemicRisk,
       "unknown_original_systemic_risk", third_e25, true, false},
      {"known 9e24: provider, cumulative over 1e25", e(24, 3) + 1, known(e(24, 9)),
       Status::ProviderSystemicRisk, "known_original_fraction", e(24, 3), true, true},
      {"known 9e24: not provider; the cumulative fact is still reported", e(24, 3), known(e(24, 9)),
       Status::DownstreamUser, "known_original_fraction", e(24, 3), false, true},
      {"known 7e24: provider, cumulative exactly 1e25 is not greater", e(24, 3), known(e(24, 7)),
       Status::Provider, "known_original_fraction", dec("2333333333333333333333333"), false, false},
      {"known with systemic risk: provider with systemic risk", e(23) + 1, known(e(23, 3), true),
       Status::ProviderSystemicRisk, "known_original_fraction", e(23), true, false},
      {"known with systemic risk, under the threshold", e(23), known(e(23, 3), true),
       Status::DownstreamUser, "known_original_fraction", e(23), false, false},
      {"unknown: a modification alone over 1e25", e(25) + 1, unknown(),
       Status::ProviderSystemicRisk, "unknown_original_default", third_e23, true, false},
      {"unknown: a modification of exactly 1e25", e(25), unknown(), Status::Provider,
       "unknown_original_default", third_e23, false, false},
      {"huge: 2^128-1 against an unknown original", kU128Max, unknown(),
       Status::ProviderSystemicRisk, "unknown_original_default", third_e23, true, false},
      {"huge: 3 x modification overflows 128 bits, equal", third_max, known(kU128Max),
       Status::DownstreamUser, "known_original_fraction", third_max, false, true},
      {"huge: 3 x modification overflows 128 bits, one more", third_max + 1, known(kU128Max),
       Status::ProviderSystemicRisk, "known_original_fraction", third_max, true, true},
      {"huge: both at 2^128-1", kU128Max, known(kU128Max), Status::ProviderSystemicRisk,
       "known_original_fraction", third_max, true, true},
      {"an original declared with zero compute", 1, known(0), Status::Provider,
       "known_original_fraction", 0, false, false},
      {"an original declared with zero compute, nothing counted", 0, known(0),
       Status::DownstreamUser, "known_original_fraction", 0, false, false},
  };
  for (const Case &c : cases) {
    INFO(c.name);
    const Verdict verdict = evaluate(c.modification, c.original, default_rule_set());
    CHECK(status_name(verdict.status) == status_name(c.status));
    CHECK(verdict.rule == c.rule);
    CHECK(verdict.threshold_flops == c.threshold);
    CHECK(verdict.notify_commission == c.notify);
    CHECK(verdict.cumulative_over_systemic_presumption == c.cumulative_over);
    CHECK(contains(verdict.reasoning, "eu-gpai-2025-07"));
    CHECK(contains(verdict.reasoning, c.rule));
    CHECK(contains(verdict.reasoning, to_decimal(c.modification)));
    CHECK(contains(verdict.reasoning, to_decimal(c.threshold)));
    CHECK(contains(verdict.reasoning, "Art. 52(1)") == c.notify);
  }
}

TEST_CASE("evaluate: for integers, greater than the exact threshold is greater than the floor") {
  const RuleSet &rules = default_rule_set();
  const std::vector<u128> bases{1,       2,   3,     4,         5,         10,        11,
                                99,      100, e(23), e(23) + 1, e(23) + 2, e(25) - 1, kU128Max - 1,
                                kU128Max};
  for (u128 base : bases) {
    INFO("base " << to_decimal(base));
    const Verdict at = evaluate(base / 3, known(base), rules);
    CHECK(at.threshold_flops == base / 3);
    CHECK(at.status == Status::DownstreamUser);
    CHECK(evaluate(base / 3 + 1, known(base), rules).status != Status::DownstreamUser);
  }
}

TEST_CASE("evaluate: other fractions, as a later delegated act might set") {
  RuleSet rules = default_rule_set();
  rules.fraction_numerator = 3;
  rules.fraction_denominator = 10;
  const Verdict at = evaluate(e(22, 3), unknown(), rules);
  CHECK(at.threshold_flops == e(22, 3));
  CHECK(at.status == Status::DownstreamUser);
  CHECK(contains(at.reasoning, "3/10"));
  CHECK(evaluate(e(22, 3) + 1, unknown(), rules).status == Status::Provider);
  // 3/10 of 7 is 2.1: 2 is not greater, 3 is.
  CHECK(evaluate(2, known(7), rules).status == Status::DownstreamUser);
  CHECK(evaluate(3, known(7), rules).status == Status::Provider);
  CHECK(evaluate(3, known(7), rules).threshold_flops == 2);
}

TEST_CASE("evaluate: fraction_of_threshold is for display") {
  const RuleSet &rules = default_rule_set();
  CHECK(evaluate(0, unknown(), rules).fraction_of_threshold == 0.0);
  CHECK(evaluate(e(22), unknown(), rules).fraction_of_threshold == doctest::Approx(0.3));
  CHECK(evaluate(e(23), known(e(23, 3)), rules).fraction_of_threshold == doctest::Approx(1.0));
  CHECK(evaluate(e(24, 6), known(e(24, 9)), rules).fraction_of_threshold == doctest::Approx(2.0));
  CHECK(std::isinf(evaluate(1, known(0), rules).fraction_of_threshold));
  CHECK(evaluate(0, known(0), rules).fraction_of_threshold == 0.0);
}

TEST_CASE("evaluate: the reasoning reads as a sentence with both figures") {
  const Verdict verdict = evaluate(e(24, 3) + 1, known(e(24, 9)), default_rule_set());
  INFO(verdict.reasoning);
  CHECK(contains(verdict.reasoning, "3.0e24 FLOP (3000000000000000000000001)"));
  CHECK(contains(verdict.reasoning, "1/3 of the original model's declared training compute of "
                                    "9.0e24 FLOP (9000000000000000000000000)"));
  CHECK(contains(verdict.reasoning, "more than 3000000000000000000000000 FLOP"));
  CHECK(contains(verdict.reasoning, "the provider of the modified model"));
  CHECK(contains(verdict.reasoning, "1.2e25 FLOP is greater than 1.0e25 FLOP"));
  CHECK(contains(verdict.reasoning, "Art. 51(2)"));
  CHECK(contains(verdict.reasoning, "notified within two weeks (Art. 52(1))"));

  const Verdict below = evaluate(e(22), unknown(), default_rule_set());
  INFO(below.reasoning);
  CHECK(contains(below.reasoning, "not greater than the threshold (30% of it)"));
  CHECK(contains(below.reasoning, "remains a downstream user"));
  CHECK(contains(below.reasoning, "1/3 of the default 1.0e23 FLOP"));
  CHECK_FALSE(contains(below.reasoning, "Commission"));
}
