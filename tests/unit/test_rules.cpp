#include <doctest/doctest.h>

#include "u128_printer.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
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

std::string read_file(const std::string &path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

std::string rule_file(const std::string &name) {
  return std::string(FLOPLEDGER_SOURCE_DIR) + "/accounting/rulesets/" + name + ".rules";
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
  REQUIRE(rule_sets().size() == 2);
  const RuleSet &rules = default_rule_set();
  CHECK(&rules == &rule_sets().front());
  CHECK(rules.name == "eu-gpai-2025-07");
  CHECK(rules.version == "1");
  CHECK(rules.origin == "built-in");
  CHECK(contains(rules.title, "C(2025) 5045"));
  for (const char *part :
       {"C(2025) 5045", "18 July 2025", "2024/1689", "Art. 51(2)", "Art. 52(1)", "Annex XI"})
    CHECK_MESSAGE(contains(rules.citation, part), part);
  CHECK(rules.fraction == Fraction{1, 3});
  CHECK(rules.unknown_original.flops == e(23));
  CHECK_FALSE(rules.unknown_original.absolute);
  REQUIRE(rules.unknown_systemic_original.has_value());
  CHECK(rules.unknown_systemic_original->flops == e(25));
  CHECK_FALSE(rules.unknown_systemic_original->absolute);
  CHECK_FALSE(rules.known_original_floor.has_value());
  CHECK(rules.systemic_risk_presumption_flops == e(25));
  CHECK(rules.systemic_risk_status);
  CHECK(rules.notification_days == 14);
  CHECK(rules.verdict_method == VerdictMethod::Highest);
  CHECK(rules.method_tolerance_percent == 30);
  CHECK(rules.phase_counts[FLOPLEDGER_PHASE_TRAIN]);
  CHECK_FALSE(rules.phase_counts[FLOPLEDGER_PHASE_RECOMPUTE]);
  CHECK_FALSE(rules.phase_counts[FLOPLEDGER_PHASE_EVAL]);
  CHECK(rules.phase_counts[FLOPLEDGER_PHASE_SYNTHETIC_DATA]);
  CHECK(rules.phase_counts[FLOPLEDGER_PHASE_OTHER]);
}

TEST_CASE("the aws-ftfm rule set reproduces flops_meter.py") {
  const RuleSet *rules = find_rule_set("aws-ftfm");
  REQUIRE(rules != nullptr);
  CHECK(rules == &rule_sets()[1]);
  CHECK(contains(rules->citation, "flops_meter.py"));
  CHECK(contains(rules->citation, "default_3.3e22"));
  CHECK(contains(rules->citation, "30pct_of_actual_pretraining"));
  CHECK(rules->fraction == Fraction{3, 10});
  CHECK(rules->unknown_original.absolute);
  CHECK(rules->unknown_original.flops == e(21, 33));
  CHECK_FALSE(rules->unknown_systemic_original.has_value());
  REQUIRE(rules->known_original_floor.has_value());
  CHECK(*rules->known_original_floor == e(23));
  CHECK(rules->below_floor.absolute);
  CHECK(rules->below_floor.flops == e(21, 33));
  CHECK_FALSE(rules->systemic_risk_status);
  CHECK(rules->notification_days == 0);
  CHECK(rules->verdict_method == VerdictMethod::Analytic);
  CHECK(rules->phase_counts[FLOPLEDGER_PHASE_TRAIN]);
  for (int phase : {FLOPLEDGER_PHASE_RECOMPUTE, FLOPLEDGER_PHASE_EVAL,
                    FLOPLEDGER_PHASE_SYNTHETIC_DATA, FLOPLEDGER_PHASE_OTHER})
    CHECK_FALSE(rules->phase_counts[static_cast<std::size_t>(phase)]);
}

TEST_CASE("the built-in rule sets are the files of accounting/rulesets/, byte for byte") {
  for (const RuleSet &rules : rule_sets()) {
    INFO(rules.name);
    const std::string path = rule_file(rules.name);
    CHECK(rules.text == read_file(path));
    RuleSet loaded;
    std::string error;
    REQUIRE_MESSAGE(load_rule_set(path, loaded, error), error);
    CHECK(loaded.origin == path);
    CHECK(loaded.name == rules.name);
    CHECK(loaded.text == rules.text);
    for (const char *key : {"fraction", "systemic_risk_presumption", "counted_phases",
                            "verdict_method", "method_tolerance_percent"})
      CHECK_MESSAGE(contains(rules.text, std::string(key) + ".source = "), key);
  }
}

TEST_CASE("find_rule_set") {
  REQUIRE(find_rule_set("eu-gpai-2025-07") != nullptr);
  CHECK(find_rule_set("eu-gpai-2025-07") == &default_rule_set());
  CHECK(find_rule_set("aws-ftfm") != nullptr);
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
  rules.fraction = Fraction{3, 10};
  rules.unknown_original = ThresholdBase{e(23), false};
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

namespace {

void check_cases(const RuleSet &rules, const std::vector<Case> &cases) {
  for (const Case &c : cases) {
    INFO(rules.name << ": " << c.name);
    const Verdict verdict = evaluate(c.modification, c.original, rules);
    INFO(verdict.reasoning);
    CHECK(status_name(verdict.status) == status_name(c.status));
    CHECK(verdict.rule == c.rule);
    CHECK(verdict.threshold_flops == c.threshold);
    CHECK(verdict.notify_commission == c.notify);
    CHECK(verdict.cumulative_over_systemic_presumption == c.cumulative_over);
    CHECK(contains(verdict.reasoning, "Rule set " + rules.name));
    CHECK(contains(verdict.reasoning, c.rule));
    CHECK(contains(verdict.reasoning, to_decimal(c.modification)));
    CHECK(contains(verdict.reasoning, to_decimal(c.threshold)));
    CHECK(contains(verdict.reasoning, "Art. 52(1)") == c.notify);
  }
}

// The text of a built-in rule set with `line` (a whole "key = value" line) replaced by
// `replacement` (several lines, or none).
std::string edited(const std::string &line, const std::string &replacement,
                   const char *name = "eu-gpai-2025-07") {
  std::string text = find_rule_set(name)->text;
  const std::size_t at = text.find(line + "\n");
  REQUIRE_MESSAGE(at != std::string::npos, line);
  return text.replace(at, line.size() + 1, replacement.empty() ? "" : replacement + "\n");
}

std::string parse_error(const std::string &text) {
  RuleSet rules;
  rules.name = "unchanged";
  std::string error;
  CHECK_FALSE(parse_rule_set(text, "test.rules", rules, error));
  CHECK(rules.name == "unchanged");
  return error;
}

std::size_t line_of(const std::string &text, const std::string &part) {
  const std::size_t at = text.find(part);
  REQUIRE(at != std::string::npos);
  std::size_t line = 1;
  for (std::size_t i = 0; i < at; ++i)
    line += text[i] == '\n';
  return line;
}

} // namespace

TEST_CASE("evaluate (eu-gpai-2025-07): one third that is not an integer") {
  const u128 third_e23 = dec("33333333333333333333333");
  check_cases(
      default_rule_set(),
      {
          {"1e23+1: 1/3 is ...333.67, the floor is not greater", third_e23, known(e(23) + 1),
           Status::DownstreamUser, "known_original_fraction", third_e23, false, false},
          {"1e23+1: one more is greater", third_e23 + 1, known(e(23) + 1), Status::Provider,
           "known_original_fraction", third_e23, false, false},
          {"1e23+2: 1/3 is ...334 exactly, equal is not greater", third_e23 + 1, known(e(23) + 2),
           Status::DownstreamUser, "known_original_fraction", third_e23 + 1, false, false},
          {"1e23+2: one more", third_e23 + 2, known(e(23) + 2), Status::Provider,
           "known_original_fraction", third_e23 + 1, false, false},
          {"1e23+2: one less", third_e23, known(e(23) + 2), Status::DownstreamUser,
           "known_original_fraction", third_e23 + 1, false, false},
          {"unknown, systemic: 1e25 alone is not over the presumption", e(25), unknown(true),
           Status::ProviderSystemicRisk, "unknown_original_systemic_risk",
           dec("3333333333333333333333333"), true, false},
      });
}

TEST_CASE("evaluate (aws-ftfm): the table of flops_meter.py's decisions") {
  const RuleSet &aws = *find_rule_set("aws-ftfm");
  const u128 aws_floor = e(21, 33);                                  // 3.3e22
  const u128 aws_max = kU128Max / 10 * 3 + (kU128Max % 10) * 3 / 10; // floor(0.3 x (2^128-1))
  check_cases(
      aws,
      {
          {"unknown: exactly 3.3e22 is not greater", aws_floor, unknown(), Status::DownstreamUser,
           "unknown_original_default", aws_floor, false, false},
          {"unknown: one more", aws_floor + 1, unknown(), Status::Provider,
           "unknown_original_default", aws_floor, false, false},
          {"unknown: one less", aws_floor - 1, unknown(), Status::DownstreamUser,
           "unknown_original_default", aws_floor, false, false},
          {"unknown, systemic risk: no separate branch", aws_floor + 1, unknown(true),
           Status::Provider, "unknown_original_default", aws_floor, false, false},
          {"unknown, systemic risk: no systemic branch even at 1e25+1", e(25) + 1, unknown(true),
           Status::Provider, "unknown_original_default", aws_floor, false, false},
          {"known 1e23-1 is below the floor: 3.3e22", aws_floor, known(e(23) - 1),
           Status::DownstreamUser, "known_original_below_floor", aws_floor, false, false},
          {"known 1e23-1: one more", aws_floor + 1, known(e(23) - 1), Status::Provider,
           "known_original_below_floor", aws_floor, false, false},
          {"known 0 is below the floor", aws_floor, known(0), Status::DownstreamUser,
           "known_original_below_floor", aws_floor, false, false},
          {"known 5e22: 3.3e22, not one third of it", aws_floor, known(e(22, 5)),
           Status::DownstreamUser, "known_original_below_floor", aws_floor, false, false},
          {"known exactly 1e23 takes 30%: 3e22 is not greater", e(22, 3), known(e(23)),
           Status::DownstreamUser, "known_original_fraction", e(22, 3), false, false},
          {"known exactly 1e23: one more", e(22, 3) + 1, known(e(23)), Status::Provider,
           "known_original_fraction", e(22, 3), false, false},
          {"known 1e23+1: 30% is 3e22+0.3, the floor is not greater", e(22, 3), known(e(23) + 1),
           Status::DownstreamUser, "known_original_fraction", e(22, 3), false, false},
          {"known 1e23+1: one more", e(22, 3) + 1, known(e(23) + 1), Status::Provider,
           "known_original_fraction", e(22, 3), false, false},
          {"known 9e24 with systemic risk: provider, flagged, no notification", e(24, 3),
           known(e(24, 9), true), Status::Provider, "known_original_fraction",
           dec("2700000000000000000000000"), false, true},
          {"known 9e24: not greater than 2.7e24", dec("2700000000000000000000000"), known(e(24, 9)),
           Status::DownstreamUser, "known_original_fraction", dec("2700000000000000000000000"),
           false, true},
          {"huge: 10 x modification overflows 128 bits, equal", aws_max, known(kU128Max),
           Status::DownstreamUser, "known_original_fraction", aws_max, false, true},
          {"huge: one more", aws_max + 1, known(kU128Max), Status::Provider,
           "known_original_fraction", aws_max, false, true},
          {"huge: 2^128-1 against an unknown original", kU128Max, unknown(), Status::Provider,
           "unknown_original_default", aws_floor, false, false},
      });
  const Verdict flagged = evaluate(e(24, 3), known(e(24, 9), true), aws);
  CHECK(contains(flagged.reasoning, "no systemic-risk status"));
  CHECK(contains(flagged.reasoning, "the fixed") == false);
  const Verdict fixed = evaluate(1, known(e(22, 5)), aws);
  CHECK(contains(fixed.reasoning, "the fixed 3.3e22 FLOP (33000000000000000000000) that applies "
                                  "when the original model's declared training compute of 5.0e22 "
                                  "FLOP (50000000000000000000000) is below 1.0e23 FLOP"));
  CHECK(contains(evaluate(1, unknown(true), aws).reasoning, "no separate threshold"));
}

TEST_CASE("evaluate: at threshold_flops never crosses, one more always does (both rule sets)") {
  const std::vector<u128> bases{
      0,     1,         2,         3,         7,     10,        11,           e(22, 5), e(23) - 1,
      e(23), e(23) + 1, e(23) + 2, e(25) - 1, e(25), e(25) + 1, kU128Max - 1, kU128Max};
  for (const RuleSet &rules : rule_sets())
    for (u128 base : bases)
      for (const OriginalModel &original : {known(base), known(base, true)}) {
        INFO(rules.name << " base " << to_decimal(base));
        const Verdict at = evaluate(0, original, rules);
        const u128 t = at.threshold_flops;
        CHECK(evaluate(t, original, rules).status == Status::DownstreamUser);
        if (t > 0) CHECK(evaluate(t - 1, original, rules).status == Status::DownstreamUser);
        if (t < kU128Max) CHECK(evaluate(t + 1, original, rules).status != Status::DownstreamUser);
      }
}

TEST_CASE("parse_rule_set: errors name the origin, the line and the value") {
  const std::string eu = find_rule_set("eu-gpai-2025-07")->text;
  RuleSet ok;
  std::string error;
  REQUIRE(parse_rule_set(eu, "x.rules", ok, error));
  CHECK(ok.origin == "x.rules");

  const std::string fraction_line = "fraction = 1/3";
  const std::string line = std::to_string(line_of(eu, fraction_line));
  CHECK(parse_error(edited(fraction_line, "")) ==
        "test.rules: missing key 'fraction' (the fraction of the original compute, e.g. 1/3)");
  CHECK(parse_error(edited(fraction_line, "fraction = 1/0")) ==
        "test.rules:" + line +
            ": fraction: '1/0' has a zero denominator; expected a fraction such as 1/3, a decimal "
            "such as 0.30 or a percentage such as 30%");
  CHECK(contains(parse_error(edited(fraction_line, "fraction = one third")),
                 "test.rules:" + line + ": fraction: 'one third' is not a number"));
  CHECK(contains(parse_error(edited(fraction_line, "fraction = 4/3")),
                 "'4/3' is not greater than 0 and at most 1"));
  CHECK(contains(parse_error(edited(fraction_line, "fraction = 0%")), "'0%' is not greater"));
  CHECK(contains(parse_error(edited(fraction_line, "fraction = 1/3\nfraction = 3/10")),
                 "test.rules:" + std::to_string(line_of(eu, fraction_line) + 1) +
                     ": duplicate key 'fraction' (first set on line " + line + ")"));
  CHECK(contains(parse_error(edited(fraction_line, "fraction = 1/3\nfractoin = 1/3")),
                 ": unknown key 'fractoin'; expected one of name, version"));
  CHECK(contains(parse_error(edited(fraction_line, "fraction = 1/3\nname.source = me")),
                 "unknown key 'name.source'"));
  CHECK(contains(parse_error(edited(fraction_line, "fraction = 1/3\nfraction")),
                 "expected 'key = value' or a '#' comment, found 'fraction'"));
  CHECK(contains(parse_error(edited(fraction_line, "fraction =")), "key 'fraction' has no value"));

  const std::string source = eu.substr(eu.find("fraction.source = "));
  const std::string source_line = source.substr(0, source.find('\n'));
  CHECK(contains(parse_error(edited(source_line, "")),
                 "test.rules:" + line +
                     ": key 'fraction' has no citation; expected a line "
                     "'fraction.source = where the value comes from'"));
  CHECK(contains(parse_error(edited("unknown_systemic_original_base = 1e25", "")),
                 "'unknown_systemic_original_base.source' cites key "
                 "'unknown_systemic_original_base', which is not set"));
  CHECK(
      contains(parse_error(edited("unknown_original_base = 1e23", "unknown_original_base = 1e400")),
               "unknown_original_base: '1e400' is greater than 2^128-1"));
  CHECK(contains(parse_error(edited("unknown_original_base = 1e23", "unknown_original_base = 0")),
                 "unknown_original_base: '0' is zero"));
  CHECK(contains(parse_error(edited("unknown_original_base = 1e23",
                                    "unknown_original_base = 1e23\nunknown_original_threshold = "
                                    "3e22\nunknown_original_threshold.source = x")),
                 "both unknown_original_base and unknown_original_threshold are set"));
  CHECK(contains(parse_error(edited("systemic_risk_status = yes", "systemic_risk_status = maybe")),
                 "systemic_risk_status: 'maybe' is neither yes nor no"));
  CHECK(contains(parse_error(edited("counted_phases = train synthetic_data other",
                                    "counted_phases = train, inference")),
                 "counted_phases: 'inference' is not a phase; expected some of train, recompute"));
  CHECK(contains(parse_error(edited("verdict_method = highest", "verdict_method = lowest")),
                 "verdict_method: 'lowest' is not a method"));
  CHECK(contains(parse_error(edited("name = eu-gpai-2025-07", "name = EU rules")),
                 "name: 'EU rules' is not a name"));
  CHECK(contains(
      parse_error(edited("method_tolerance_percent = 30", "method_tolerance_percent = 130")),
      "'130' is not a whole number from 0 to 100"));
  CHECK(
      contains(parse_error(edited("known_original_floor = 1e23", "", "aws-ftfm")),
               "'known_original_floor.source' cites key 'known_original_floor', which is not set"));
  CHECK(parse_error("") == "test.rules: missing key 'name' (the rule set's name, e.g. "
                           "eu-gpai-2025-07)");
}

TEST_CASE("parse_rule_set: comments, spaces, CRLF and a comma-separated phase list") {
  std::string text = edited("counted_phases = train synthetic_data other",
                            "  counted_phases   =train,eval  \r\n# a comment = not a key");
  RuleSet rules;
  std::string error;
  REQUIRE_MESSAGE(parse_rule_set(text, "t", rules, error), error);
  CHECK(rules.phase_counts[FLOPLEDGER_PHASE_TRAIN]);
  CHECK(rules.phase_counts[FLOPLEDGER_PHASE_EVAL]);
  CHECK_FALSE(rules.phase_counts[FLOPLEDGER_PHASE_OTHER]);
  CHECK(rules.text == text);
}

TEST_CASE("load_rule_set: a built-in name or a file; a delegated act is a new file") {
  RuleSet rules;
  std::string error;
  REQUIRE(load_rule_set("aws-ftfm", rules, error));
  CHECK(rules.name == "aws-ftfm");
  CHECK(rules.origin == "built-in");

  CHECK_FALSE(load_rule_set("eu-gpai-2099", rules, error));
  CHECK(error == "unknown rule set 'eu-gpai-2099'; expected a built-in name (eu-gpai-2025-07, "
                 "aws-ftfm) or the path of a .rules file");
  CHECK_FALSE(load_rule_set("/no/such/dir/x.rules", rules, error));
  CHECK(error == "cannot read rule-set file '/no/such/dir/x.rules'");
  // A file that never ends is read up to a bound, not forever.
  CHECK_FALSE(load_rule_set("/dev/zero", rules, error));
  CHECK(error == "cannot read rule-set file '/dev/zero': larger than 1048576 bytes");

  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("flopledger-rules-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string changed =
      edited("unknown_original_base = 1e23", "unknown_original_base = 2e23");
  const std::string same_name = (dir / "same-name.rules").string();
  std::ofstream(same_name) << changed;
  CHECK_FALSE(load_rule_set(same_name, rules, error));
  CHECK(contains(error, same_name + ": name 'eu-gpai-2025-07' is a built-in rule set with "
                                    "different text"));

  const std::string renamed = (dir / "eu-gpai-2099-01.rules").string();
  std::string text = changed;
  text.replace(text.find("name = eu-gpai-2025-07"), 22, "name = eu-gpai-2099-01");
  std::ofstream(renamed) << text;
  REQUIRE_MESSAGE(load_rule_set(renamed, rules, error), error);
  CHECK(rules.name == "eu-gpai-2099-01");
  CHECK(rules.origin == renamed);
  CHECK(rules.text == text);
  const Verdict verdict = evaluate(dec("66666666666666666666667"), unknown(), rules);
  CHECK(verdict.threshold_flops == dec("66666666666666666666666"));
  CHECK(verdict.status == Status::Provider);

  const std::string broken = (dir / "broken.rules").string();
  std::ofstream(broken) << "name = x\n";
  CHECK_FALSE(load_rule_set(broken, rules, error));
  CHECK(contains(error, broken + ": missing key 'version'"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("parse_fraction and compare_products") {
  Fraction f;
  std::string error;
  REQUIRE(parse_fraction("1/3", f, error));
  CHECK(f == Fraction{1, 3});
  REQUIRE(parse_fraction("0.30", f, error));
  CHECK(f == Fraction{3, 10});
  REQUIRE(parse_fraction("30%", f, error));
  CHECK(f == Fraction{3, 10});
  REQUIRE(parse_fraction("6/20", f, error));
  CHECK(f == Fraction{3, 10});
  REQUIRE(parse_fraction("0/5", f, error));
  CHECK(f == Fraction{0, 1});
  CHECK(to_string(Fraction{3, 10}) == "3/10");
  CHECK(to_string(Fraction{1, 1}) == "1");
  CHECK_FALSE(parse_fraction("18446744073709551616/1", f, error));
  CHECK(contains(error, "above 2^64-1"));
  CHECK_FALSE(parse_fraction("-1/3", f, error));

  CHECK(compare_products(kU128Max, kU128Max, kU128Max, kU128Max) == 0);
  CHECK(compare_products(kU128Max, kU128Max, kU128Max, kU128Max - 1) > 0);
  CHECK(compare_products(kU128Max - 1, kU128Max, kU128Max, kU128Max - 1) == 0);
  CHECK(compare_products(u128(1) << 64, u128(1) << 64, 1, kU128Max) > 0); // 2^128 > 2^128-1
  CHECK(compare_products(3, 5, 4, 4) < 0);
  CHECK(floor_times(kU128Max, Fraction{1, 3}) == kU128Max / 3);
}
