#include "accounting/rules.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "accounting/builtin_rule_sets.hpp"

namespace flopledger {
namespace {

// ------------------------------------------------------------------------------------------------
// The file format

enum class Kind { Text, Name, Fraction, Flops, YesNo, Phases, Method, Count };

struct KeySpec {
  const char *key;
  Kind kind;
  bool required;
  const char *meaning; // for "missing key" messages
};

// Every key a rule-set file may set. Every key but the four descriptive ones needs a
// "<key>.source" line: no number without its citation.
const KeySpec kKeys[] = {
    {"name", Kind::Name, true, "the rule set's name, e.g. eu-gpai-2025-07"},
    {"version", Kind::Text, true, "the file's revision"},
    {"title", Kind::Text, true, "one line for people"},
    {"citation", Kind::Text, true, "the sources, in one paragraph"},
    {"fraction", Kind::Fraction, true, "the fraction of the original compute, e.g. 1/3"},
    {"unknown_original_base", Kind::Flops, false,
     "the compute the fraction is taken of when the original's is unknown"},
    {"unknown_original_threshold", Kind::Flops, false,
     "the absolute threshold when the original's compute is unknown"},
    {"unknown_systemic_original_base", Kind::Flops, false,
     "the compute the fraction is taken of when the original's is unknown and it has systemic "
     "risk"},
    {"unknown_systemic_original_threshold", Kind::Flops, false,
     "the absolute threshold when the original's compute is unknown and it has systemic risk"},
    {"known_original_floor", Kind::Flops, false,
     "a known original compute below this uses below_floor_threshold or below_floor_base"},
    {"below_floor_base", Kind::Flops, false,
     "the compute the fraction is taken of below known_original_floor"},
    {"below_floor_threshold", Kind::Flops, false,
     "the absolute threshold below known_original_floor"},
    {"systemic_risk_presumption", Kind::Flops, true,
     "the cumulative compute above which systemic risk is presumed (Art. 51(2))"},
    {"systemic_risk_status", Kind::YesNo, true,
     "yes when a provider can be a provider with systemic risk"},
    {"notification_days", Kind::Count, false, "days to notify the Commission"},
    {"counted_phases", Kind::Phases, true, "the phases that count toward the threshold"},
    {"verdict_method", Kind::Method, true, "which method's figure the verdict uses"},
    {"method_tolerance_percent", Kind::Count, true, "the accuracy an estimate must have"},
};

constexpr const char *kSourceSuffix = ".source";

const KeySpec *find_key(std::string_view key) {
  for (const KeySpec &spec : kKeys)
    if (key == spec.key) return &spec;
  return nullptr;
}

bool needs_source(const KeySpec &spec) {
  return spec.kind != Kind::Text && spec.kind != Kind::Name;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

std::string quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

struct Entry {
  std::string value;
  std::size_t line = 0;
};

constexpr std::array<VerdictMethod, 4> kMethods = {VerdictMethod::Highest, VerdictMethod::Counted,
                                                   VerdictMethod::Analytic,
                                                   VerdictMethod::Hardware};

// Converts and checks the value of one key; returns an error message or "".
class Converter {
public:
  Converter(const std::string &origin, const std::map<std::string, Entry> &entries)
      : origin_(origin), entries_(entries) {}

  bool has(const char *key) const { return entries_.count(key) != 0; }
  const std::string &text(const char *key) const { return entries_.at(key).value; }

  std::string fail(const char *key, const std::string &why) const {
    return origin_ + ":" + std::to_string(entries_.at(key).line) + ": " + key + ": " + why;
  }

  std::string flops(const char *key, u128 &out) const {
    const ParsedFlops parsed = parse_flops(text(key));
    if (!parsed.ok) return fail(key, parsed.error);
    if (parsed.value == 0)
      return fail(key, quoted(text(key)) + " is zero; expected a FLOP count "
                                           "greater than 0");
    out = parsed.value;
    return {};
  }

  std::string fraction(const char *key, Fraction &out) const {
    std::string why;
    if (!parse_fraction(text(key), out, why)) return fail(key, why);
    if (out.numerator == 0 || !at_most_one(out))
      return fail(key, quoted(text(key)) + " is not greater than 0 and at most 1; expected a "
                                           "fraction such as 1/3 or 0.30");
    return {};
  }

  std::string count(const char *key, std::uint32_t low, std::uint32_t high,
                    std::uint32_t &out) const {
    const ParsedFlops parsed = parse_flops(text(key));
    if (!parsed.ok || parsed.value < low || parsed.value > high)
      return fail(key, quoted(text(key)) + " is not a whole number from " + std::to_string(low) +
                           " to " + std::to_string(high));
    out = static_cast<std::uint32_t>(parsed.value);
    return {};
  }

  std::string yes_no(const char *key, bool &out) const {
    if (text(key) == "yes" || text(key) == "no") {
      out = text(key) == "yes";
      return {};
    }
    return fail(key, quoted(text(key)) + " is neither yes nor no");
  }

  std::string phases(const char *key, std::array<bool, kPhases> &out) const {
    std::string names = text(key);
    for (char &c : names)
      if (c == ',') c = ' ';
    std::istringstream words(names);
    std::array<bool, kPhases> counts{};
    std::string word;
    bool any = false;
    while (words >> word) {
      const auto index = tag_index(kPhaseNames, word);
      if (!index) {
        std::string known;
        for (std::string_view phase : kPhaseNames)
          known += (known.empty() ? "" : ", ") + std::string(phase);
        return fail(key, quoted(word) + " is not a phase; expected some of " + known);
      }
      if (counts[*index]) return fail(key, "phase " + quoted(word) + " is listed twice");
      counts[*index] = any = true;
    }
    if (!any) return fail(key, "no phase listed; expected at least one, e.g. train");
    out = counts;
    return {};
  }

  std::string method(const char *key, VerdictMethod &out) const {
    for (VerdictMethod m : kMethods)
      if (text(key) == verdict_method_name(m)) {
        out = m;
        return {};
      }
    return fail(key, quoted(text(key)) + " is not a method; expected highest, counted, analytic or "
                                         "hardware");
  }

  std::string name(const char *key) const {
    const std::string &value = text(key);
    bool ok = value.front() >= 'a' && value.front() <= 'z';
    for (char c : value)
      ok = ok &&
           ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_');
    return ok ? std::string()
              : fail(key, quoted(value) + " is not a name of lower-case letters, "
                                          "digits, '-', '.' and '_'");
  }

  // "<prefix>_base" (the fraction of it) or "<prefix>_threshold" (absolute): at most one of them;
  // `set` tells whether either was given.
  std::string base_or_threshold(const std::string &prefix, ThresholdBase &out, bool &set) const {
    const std::string base = prefix + "_base", threshold = prefix + "_threshold";
    const bool has_base = has(find_key(base)->key), has_threshold = has(find_key(threshold)->key);
    set = has_base || has_threshold;
    if (has_base && has_threshold)
      return fail(find_key(threshold)->key,
                  "both " + base + " and " + threshold + " are set; expected one of them");
    if (!set) return {};
    out.absolute = has_threshold;
    return flops(find_key(has_base ? base : threshold)->key, out.flops);
  }

private:
  const std::string &origin_;
  const std::map<std::string, Entry> &entries_;
};

// Reads the lines into `entries`; returns an error message or "".
std::string read_entries(std::string_view text, const std::string &origin,
                         std::map<std::string, Entry> &entries) {
  std::size_t line_number = 0;
  while (!text.empty() || line_number == 0) {
    ++line_number;
    const std::size_t end = text.find('\n');
    const std::string_view raw = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    const std::string_view line = trim(raw);
    const std::string where = origin + ":" + std::to_string(line_number) + ": ";
    if (line.empty() || line.front() == '#') continue;
    const std::size_t equals = line.find('=');
    if (equals == std::string_view::npos)
      return where + "expected 'key = value' or a '#' comment, found " + quoted(line);
    const std::string key(trim(line.substr(0, equals)));
    const std::string value(trim(line.substr(equals + 1)));
    const bool is_source = key.size() > std::string_view(kSourceSuffix).size() &&
                           key.compare(key.size() - 7, 7, kSourceSuffix) == 0;
    const KeySpec *spec = find_key(is_source ? key.substr(0, key.size() - 7) : key);
    if (spec == nullptr || (is_source && !needs_source(*spec))) {
      std::string known;
      for (const KeySpec &k : kKeys)
        known += (known.empty() ? "" : ", ") + std::string(k.key);
      return where + "unknown key " + quoted(key) + "; expected one of " + known +
             " (and KEY.source for each number)";
    }
    if (value.empty()) return where + "key " + quoted(key) + " has no value";
    const auto previous = entries.find(key);
    if (previous != entries.end())
      return where + "duplicate key " + quoted(key) + " (first set on line " +
             std::to_string(previous->second.line) + ")";
    entries.emplace(key, Entry{value, line_number});
  }
  return {};
}

// Checks required keys and citations; returns an error message or "".
std::string check_presence(const std::string &origin, const std::map<std::string, Entry> &entries) {
  for (const KeySpec &spec : kKeys) {
    const bool present = entries.count(spec.key) != 0;
    const std::string source = std::string(spec.key) + kSourceSuffix;
    if (spec.required && !present)
      return origin + ": missing key '" + spec.key + "' (" + spec.meaning + ")";
    if (!needs_source(spec)) continue;
    if (present && entries.count(source) == 0)
      return origin + ":" + std::to_string(entries.at(spec.key).line) + ": key '" + spec.key +
             "' has no citation; expected a line '" + source + " = where the value comes from'";
    if (!present && entries.count(source) != 0)
      return origin + ":" + std::to_string(entries.at(source).line) + ": '" + source +
             "' cites key '" + spec.key + "', which is not set";
  }
  return {};
}

std::string convert(const std::map<std::string, Entry> &entries, const std::string &origin,
                    RuleSet &set) {
  const Converter c(origin, entries);
  std::string error;
  set.name = c.text("name");
  set.version = c.text("version");
  set.title = c.text("title");
  set.citation = c.text("citation");
  if (!(error = c.name("name")).empty()) return error;
  if (!(error = c.fraction("fraction", set.fraction)).empty()) return error;

  bool given = false;
  if (!(error = c.base_or_threshold("unknown_original", set.unknown_original, given)).empty())
    return error;
  if (!given)
    return origin + ": missing key 'unknown_original_base' or 'unknown_original_threshold' (what "
                    "applies when the original's compute is unknown)";
  ThresholdBase systemic;
  if (!(error = c.base_or_threshold("unknown_systemic_original", systemic, given)).empty())
    return error;
  if (given) set.unknown_systemic_original = systemic;

  if (!(error = c.base_or_threshold("below_floor", set.below_floor, given)).empty()) return error;
  if (c.has("known_original_floor")) {
    if (!given)
      return c.fail("known_original_floor",
                    "a floor needs below_floor_threshold or below_floor_base (what applies below "
                    "it)");
    u128 floor = 0;
    if (!(error = c.flops("known_original_floor", floor)).empty()) return error;
    set.known_original_floor = floor;
  } else if (given) {
    return c.fail(c.has("below_floor_base") ? "below_floor_base" : "below_floor_threshold",
                  "set without known_original_floor (the compute it applies below)");
  }

  if (!(error = c.flops("systemic_risk_presumption", set.systemic_risk_presumption_flops)).empty())
    return error;
  if (!(error = c.yes_no("systemic_risk_status", set.systemic_risk_status)).empty()) return error;
  set.notification_days = 0;
  if (c.has("notification_days") &&
      !(error = c.count("notification_days", 1, 3650, set.notification_days)).empty())
    return error;
  if (!(error = c.phases("counted_phases", set.phase_counts)).empty()) return error;
  if (!(error = c.method("verdict_method", set.verdict_method)).empty()) return error;
  if (!(error = c.count("method_tolerance_percent", 0, 100, set.method_tolerance_percent)).empty())
    return error;
  return {};
}

const std::string kBuiltinOrigin = "built-in";

std::vector<RuleSet> *parse_builtins() {
  auto *sets = new std::vector<RuleSet>;
  for (std::size_t i = 0; i < kEmbeddedRuleSetCount; ++i) {
    RuleSet set;
    std::string error;
    const std::string origin = std::string("accounting/rulesets/") + kEmbeddedRuleSets[i].file;
    if (!parse_rule_set(kEmbeddedRuleSets[i].text, origin, set, error)) {
      // A broken built-in file is a build defect that the unit tests catch; never run with it.
      std::fprintf(stderr, "flopledger: built-in rule set: %s\n", error.c_str());
      std::abort();
    }
    set.origin = kBuiltinOrigin;
    sets->push_back(std::move(set));
  }
  return sets;
}

// ------------------------------------------------------------------------------------------------
// The evaluator

struct Base {
  ThresholdBase threshold; // the figure, and whether the fraction applies to it
  const char *rule;
  std::string description; // what the threshold is
};

std::string figure(u128 flops) {
  return to_sci2(flops) + " FLOP (" + to_decimal(flops) + ")";
}

Base choose_base(const OriginalModel &original, const RuleSet &rules) {
  const std::string fraction = to_string(rules.fraction);
  auto describe = [&](const ThresholdBase &t, const std::string &when) {
    return (t.absolute ? "the fixed " + figure(t.flops)
                       : fraction + " of the default " + to_sci2(t.flops) + " FLOP") +
           " that applies when " + when;
  };
  if (original.compute_known) {
    if (rules.known_original_floor && original.training_flops < *rules.known_original_floor)
      return {rules.below_floor, "known_original_below_floor",
              describe(rules.below_floor, "the original model's declared training compute of " +
                                              figure(original.training_flops) + " is below " +
                                              to_sci2(*rules.known_original_floor) + " FLOP")};
    return {{original.training_flops, false},
            "known_original_fraction",
            fraction + " of the original model's declared training compute of " +
                figure(original.training_flops)};
  }
  if (original.systemic_risk && rules.unknown_systemic_original)
    return {*rules.unknown_systemic_original, "unknown_original_systemic_risk",
            describe(*rules.unknown_systemic_original,
                     "the original model's compute is unknown and the original has systemic "
                     "risk")};
  std::string when = "the original model's compute is unknown";
  if (original.systemic_risk)
    when += " (this rule set has no separate threshold for an original with systemic risk)";
  return {rules.unknown_original, "unknown_original_default",
          describe(rules.unknown_original, when)};
}

Fraction applied_fraction(const Base &base, const RuleSet &rules) {
  return base.threshold.absolute ? Fraction{1, 1} : rules.fraction;
}

// modification / exact threshold, for people. A zero threshold (an original declared with no
// compute) has no meaningful ratio: any modification is then infinitely over it.
double display_fraction(u128 modification, const Base &base, const RuleSet &rules) {
  const Fraction f = applied_fraction(base, rules);
  const double exact_threshold = to_double(base.threshold.flops) *
                                 static_cast<double>(f.numerator) /
                                 static_cast<double>(f.denominator);
  if (exact_threshold > 0) return to_double(modification) / exact_threshold;
  return modification == 0 ? 0 : std::numeric_limits<double>::infinity();
}

std::string percent(double fraction) {
  char buffer[64];
  // Three significant figures, so that a small fraction never reads as "0.0%".
  std::snprintf(buffer, sizeof buffer, "%.3g%%", fraction * 100);
  return buffer;
}

// What evaluate() established, for the sentence that explains it.
struct Findings {
  bool provider;
  bool original_systemic;
  bool cumulative_over; // original + modification > presumption (original compute known)
  bool alone_over;      // modification > presumption
  u128 cumulative;
};

std::string explain(u128 modification, const RuleSet &rules, const Base &base,
                    const Verdict &verdict, const Findings &found) {
  std::string text = "Rule set " + rules.name + " (version " + rules.version + "), rule " +
                     verdict.rule + ": the modification counted " + figure(modification) +
                     ". The threshold is " + base.description +
                     ", so a modification that uses more than " +
                     to_decimal(verdict.threshold_flops) + " FLOP makes a new model. ";
  text += found.provider ? "The modification is greater than the threshold"
                         : "The modification is not greater than the threshold";
  if (base.threshold.flops != 0) text += " (" + percent(verdict.fraction_of_threshold) + " of it)";
  text += found.provider ? ": the modifier is the provider of the modified model."
                         : ": the modifier remains a downstream user.";

  const std::string presumption = to_sci2(rules.systemic_risk_presumption_flops) + " FLOP";
  const std::string cumulative_sentence =
      "The modified model's cumulative training compute (original plus modification) of " +
      to_sci2(found.cumulative) + " FLOP is greater than " + presumption;
  if (!rules.systemic_risk_status) {
    if (found.cumulative_over)
      text += " " + cumulative_sentence +
              " (Art. 51(2)); this rule set has no systemic-risk status, so that presumption is "
              "flagged but does not change the status.";
    return text;
  }
  if (!found.provider) return text;
  if (found.original_systemic)
    text += " The original model has systemic risk, so the modified model is presumed to have "
            "systemic risk too";
  else if (found.cumulative_over)
    text += " " + cumulative_sentence + ", so it is presumed to have systemic risk (Art. 51(2))";
  else if (found.alone_over)
    text += " The modification alone is greater than " + presumption +
            ", so the modified model is presumed to have systemic risk (Art. 51(2))";
  else
    return text;
  if (rules.notification_days == 0) return text + ".";
  const std::string days = rules.notification_days == 14
                               ? "two weeks"
                               : std::to_string(rules.notification_days) + " days";
  return text + " and the Commission must be notified within " + days + " (Art. 52(1)).";
}

} // namespace

std::string_view status_name(Status status) {
  switch (status) {
  case Status::DownstreamUser:
    return "downstream_user";
  case Status::Provider:
    return "provider";
  case Status::ProviderSystemicRisk:
    return "provider_systemic_risk";
  }
  return "unknown";
}

std::string_view verdict_method_name(VerdictMethod method) {
  switch (method) {
  case VerdictMethod::Highest:
    return "highest";
  case VerdictMethod::Counted:
    return "counted";
  case VerdictMethod::Analytic:
    return "analytic";
  case VerdictMethod::Hardware:
    return "hardware";
  }
  return "unknown";
}

bool parse_rule_set(std::string_view text, const std::string &origin, RuleSet &out,
                    std::string &error) {
  std::map<std::string, Entry> entries;
  std::string message = read_entries(text, origin, entries);
  if (message.empty()) message = check_presence(origin, entries);
  RuleSet set;
  if (message.empty()) message = convert(entries, origin, set);
  if (!message.empty()) {
    error = std::move(message);
    return false;
  }
  set.origin = origin;
  set.text = std::string(text);
  out = std::move(set);
  return true;
}

bool load_rule_set(const std::string &name_or_path, RuleSet &out, std::string &error) {
  if (const RuleSet *builtin = find_rule_set(name_or_path)) {
    out = *builtin;
    return true;
  }
  const bool looks_like_path =
      name_or_path.find('/') != std::string::npos ||
      (name_or_path.size() > 6 && name_or_path.compare(name_or_path.size() - 6, 6, ".rules") == 0);
  if (!looks_like_path) {
    std::string names;
    for (const RuleSet &set : rule_sets())
      names += (names.empty() ? "" : ", ") + set.name;
    error = "unknown rule set '" + name_or_path + "'; expected a built-in name (" + names +
            ") or the path of a .rules file";
    return false;
  }
  // Bounded: a rule set is a page of text, and /dev/zero or a huge file must not hang the job.
  constexpr std::size_t kMaxRuleSetBytes = 1 << 20;
  std::ifstream file(name_or_path, std::ios::binary);
  std::string content;
  char buffer[4096];
  while (file && content.size() <= kMaxRuleSetBytes) {
    file.read(buffer, sizeof buffer);
    content.append(buffer, static_cast<std::size_t>(file.gcount()));
  }
  if (!file.eof()) {
    error = "cannot read rule-set file '" + name_or_path + "'" +
            (content.size() > kMaxRuleSetBytes
                 ? ": larger than " + std::to_string(kMaxRuleSetBytes) + " bytes"
                 : std::string());
    return false;
  }
  RuleSet set;
  if (!parse_rule_set(content, name_or_path, set, error)) return false;
  if (const RuleSet *builtin = find_rule_set(set.name); builtin && builtin->text != set.text) {
    error = name_or_path + ": name '" + set.name +
            "' is a built-in rule set with different text; give a changed rule set a name of "
            "its own (e.g. with a new date)";
    return false;
  }
  out = std::move(set);
  return true;
}

const std::vector<RuleSet> &rule_sets() {
  // Never destroyed: the runtime evaluates from its exit path, which may run after static
  // destructors (the library-destructor fallback in runtime/lifecycle.cpp).
  static const std::vector<RuleSet> *sets = parse_builtins();
  return *sets;
}

ChosenFigure choose_verdict_figure(const RuleSet &rules, const MethodFigures &figures) {
  ChosenFigure chosen{VerdictMethod::Counted, figures.counted};
  switch (rules.verdict_method) {
  case VerdictMethod::Counted:
    break;
  case VerdictMethod::Analytic:
    if (figures.analytic) chosen = {VerdictMethod::Analytic, *figures.analytic};
    break;
  case VerdictMethod::Hardware:
    if (figures.hardware) chosen = {VerdictMethod::Hardware, *figures.hardware};
    break;
  case VerdictMethod::Highest:
    if (figures.analytic && *figures.analytic > chosen.flops)
      chosen = {VerdictMethod::Analytic, *figures.analytic};
    if (figures.hardware && *figures.hardware > chosen.flops)
      chosen = {VerdictMethod::Hardware, *figures.hardware};
    break;
  }
  return chosen;
}

bool ledger_rule_set(const std::string &name, const std::string &text, RuleSet &out,
                     std::string &error) {
  if (text.empty()) {
    const RuleSet *builtin = find_rule_set(name);
    if (builtin == nullptr) {
      error = "unknown rule set '" + name + "' (the ledger stores no rule-set text)";
      return false;
    }
    out = *builtin;
    return true;
  }
  RuleSet parsed;
  if (!parse_rule_set(text, "rule set '" + name + "' stored in the ledger", parsed, error))
    return false;
  if (parsed.name != name) {
    error =
        "the rule-set text stored in the ledger is named '" + parsed.name + "', not '" + name + "'";
    return false;
  }
  out = parsed;
  return true;
}

const RuleSet *find_rule_set(std::string_view name) {
  for (const RuleSet &set : rule_sets())
    if (set.name == name) return &set;
  return nullptr;
}

const RuleSet &default_rule_set() {
  return rule_sets().front();
}

Verdict evaluate(u128 modification_flops, const OriginalModel &original, const RuleSet &rules) {
  const Base base = choose_base(original, rules);
  const Fraction fraction = applied_fraction(base, rules);
  Verdict verdict;
  verdict.rule = base.rule;
  verdict.threshold_flops = floor_times(base.threshold.flops, fraction);

  // The decision itself: den * modification > num * base, exactly, in 256 bits.
  const bool provider = compare_products(modification_flops, fraction.denominator,
                                         base.threshold.flops, fraction.numerator) > 0;

  verdict.fraction_of_threshold = display_fraction(modification_flops, base, rules);

  u128 cumulative = kU128Max; // an overflowing sum is certainly over the presumption
  checked_add(original.training_flops, modification_flops, cumulative);
  verdict.cumulative_over_systemic_presumption =
      original.compute_known && cumulative > rules.systemic_risk_presumption_flops;
  const bool alone_over = modification_flops > rules.systemic_risk_presumption_flops;

  const bool systemic =
      rules.systemic_risk_status &&
      (original.systemic_risk || verdict.cumulative_over_systemic_presumption || alone_over);
  if (provider) verdict.status = systemic ? Status::ProviderSystemicRisk : Status::Provider;
  verdict.notify_commission = verdict.status == Status::ProviderSystemicRisk;
  const Findings found{provider, original.systemic_risk,
                       verdict.cumulative_over_systemic_presumption, alone_over, cumulative};
  verdict.reasoning = explain(modification_flops, rules, base, verdict, found);
  return verdict;
}

} // namespace flopledger
