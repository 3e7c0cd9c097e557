// flopledger evaluate: the verdict for given figures, without a ledger — what a modification of a
// given size would mean under a rule set. Calls the same accounting/ evaluator as rank 0 does.
#include <iostream>

#include "accounting/rules.hpp"
#include "commands.hpp"
#include "io/json.hpp"
#include "options.hpp"

namespace po = boost::program_options;

namespace flopledger::cli {

namespace {

const char *const kUsage =
    "usage: flopledger evaluate --modification-flops X [--original-flops Y | --original-unknown]\n"
    "                           [--original-systemic-risk] [--rule-set NAME_OR_FILE] [--json]\n"
    "       flopledger evaluate --list-rule-sets [--json]\n"
    "The verdict for a modification of X FLOP under a rule set (default eu-gpai-2025-07): the\n"
    "status, the exact threshold, the rule that set it and why. Without --original-flops the\n"
    "original model's compute is unknown.\n";

// A FLOP count given as option `name`; prints the error and returns false when it is not one.
bool flops_option(const po::variables_map &values, const char *name, u128 &out) {
  const std::string text = values[name].as<std::string>();
  const ParsedFlops parsed = parse_flops(text);
  if (!parsed.ok) {
    print_error("--" + std::string(name) + " '" + text + "': " + parsed.error);
    return false;
  }
  out = parsed.value;
  return true;
}

int list_rule_sets(bool json) {
  if (json) {
    io::JsonWriter writer(2);
    writer.begin_array();
    for (const RuleSet &set : rule_sets())
      writer.begin_object()
          .field("name", set.name)
          .field("version", set.version)
          .field("title", set.title)
          .field("default", &set == &default_rule_set())
          .end_object();
    std::cout << writer.end_array().str() << '\n';
    return 0;
  }
  for (const RuleSet &set : rule_sets())
    std::cout << set.name << " (version " << set.version << ")"
              << (&set == &default_rule_set() ? ", the default" : "") << "\n  " << set.title
              << "\n";
  std::cout << "A path to a .rules file is accepted too (see docs/rule-sets.md).\n";
  return 0;
}

std::string percent_text(double fraction) {
  if (fraction != fraction || fraction > 1e300) return "infinite (the threshold is 0)";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.3g%%", fraction * 100);
  return buffer;
}

std::string figure(u128 flops) {
  return to_sci2(flops) + " FLOP (" + to_decimal(flops) + ")";
}

void print_json(const RuleSet &rules, u128 modification, const OriginalModel &original,
                const Verdict &verdict) {
  io::JsonWriter json(2);
  json.begin_object()
      .field("status", status_name(verdict.status))
      .field("threshold_flops", to_decimal(verdict.threshold_flops))
      .field("threshold_flops_sci2", to_sci2(verdict.threshold_flops))
      .field("fraction_of_threshold", verdict.fraction_of_threshold)
      .field("rule_set", rules.name)
      .field("rule_set_version", rules.version)
      .field("rule_set_origin", rules.origin)
      .field("rule", verdict.rule)
      .field("verdict_method", verdict_method_name(rules.verdict_method))
      .field("notify_commission", verdict.notify_commission)
      .field("notification_days", rules.notification_days)
      .field("modification_flops", to_decimal(modification))
      .field("original_flops",
             original.compute_known ? to_decimal(original.training_flops) : "unknown")
      .field("original_systemic_risk", original.systemic_risk)
      .field("cumulative_over_systemic_presumption", verdict.cumulative_over_systemic_presumption)
      .field("systemic_risk_presumption_flops", to_decimal(rules.systemic_risk_presumption_flops))
      .field("reasoning", verdict.reasoning)
      .end_object();
  std::cout << json.str() << '\n';
}

void print_text(const RuleSet &rules, u128 modification, const OriginalModel &original,
                const Verdict &verdict) {
  std::cout << "Rule set:       " << rules.name << " (version " << rules.version << ", "
            << rules.origin << ")\n"
            << "Modification:   " << figure(modification) << "\n"
            << "Original:       "
            << (original.compute_known ? figure(original.training_flops) : "unknown")
            << (original.systemic_risk ? ", with systemic risk" : "") << "\n"
            << "Threshold:      " << figure(verdict.threshold_flops)
            << "; a modification greater than this makes a new model\n"
            << "Fraction:       " << percent_text(verdict.fraction_of_threshold)
            << " of the threshold\n"
            << "Status:         " << status_name(verdict.status) << "\n"
            << "Rule:           " << verdict.rule << "\n"
            << "Notify:         "
            << (verdict.notify_commission
                    ? "yes, the Commission within " + std::to_string(rules.notification_days) +
                          " days (Art. 52(1))"
                    : std::string("no"))
            << "\n";
  if (verdict.cumulative_over_systemic_presumption)
    std::cout << "Cumulative:     original + modification is greater than "
              << to_sci2(rules.systemic_risk_presumption_flops)
              << " FLOP: systemic risk is presumed (Art. 51(2))\n";
  std::cout << "Reasoning:      " << verdict.reasoning << "\n";
}

} // namespace

int evaluate_command(const Args &args) {
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "modification-flops", po::value<std::string>(),
      "compute of the modification that counts toward the threshold, e.g. 2.5e22")(
      "original-flops", po::value<std::string>(),
      "training compute of the original model, e.g. 3.4e24 (or 'unknown')")(
      "original-unknown", "the original model's training compute is unknown (the default)")(
      "original-systemic-risk", "the original is a GPAI model with systemic risk")(
      "rule-set", po::value<std::string>(),
      "a built-in rule set name or the path of a .rules file (default eu-gpai-2025-07)")(
      "list-rule-sets", "list the built-in rule sets")("json", "print one JSON object");
  po::variables_map values;
  try {
    po::store(po::command_line_parser(args).options(options).run(), values);
    po::notify(values);
  } catch (const po::error &error) {
    print_error(std::string(error.what()) + " (see --help)");
    return kExitUsage;
  }
  if (values.count("help")) {
    std::cout << kUsage << '\n' << options;
    return 0;
  }
  const bool json = values.count("json") != 0;
  if (values.count("list-rule-sets")) return list_rule_sets(json);

  if (!values.count("modification-flops")) {
    print_error(std::string("--modification-flops is required\n") + kUsage);
    return kExitUsage;
  }
  u128 modification = 0;
  if (!flops_option(values, "modification-flops", modification)) return kExitUsage;

  OriginalModel original;
  original.systemic_risk = values.count("original-systemic-risk") != 0;
  if (values.count("original-flops")) {
    if (values.count("original-unknown")) {
      print_error("--original-flops and --original-unknown contradict each other; give one");
      return kExitUsage;
    }
    if (values["original-flops"].as<std::string>() != "unknown") {
      if (!flops_option(values, "original-flops", original.training_flops)) return kExitUsage;
      original.compute_known = true;
    }
  }

  RuleSet rules = default_rule_set();
  if (values.count("rule-set")) {
    std::string error;
    if (!load_rule_set(values["rule-set"].as<std::string>(), rules, error)) {
      print_error("--rule-set: " + error);
      return kExitUsage;
    }
  }

  const Verdict verdict = evaluate(modification, original, rules);
  if (json)
    print_json(rules, modification, original, verdict);
  else
    print_text(rules, modification, original, verdict);
  return 0;
}

} // namespace flopledger::cli
