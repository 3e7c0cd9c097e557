#include "accounting/config.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string_view>

namespace flopledger {
namespace {

constexpr std::string_view kPrefix = "FLOPLEDGER_";
constexpr std::string_view kInternalPrefix = "FLOPLEDGER_INTERNAL_";
constexpr std::string_view kConfigKey = "CONFIG";
constexpr std::string_view kAlias = "PRETRAIN_FLOPS"; // AWS Fine-Tuning FLOPs Meter's name
constexpr std::size_t kMaxBaseModelChars = 256;
constexpr std::uint64_t kMaxEverySteps = 1000000000;
constexpr std::size_t kMaxConfigFileBytes = 1
                                            << 20; // a settings file; guards against /dev/zero & co

// ---- value parsers: each returns the value, or nullopt when the text is not acceptable ----

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_digit);
}

std::optional<std::uint64_t> parse_count(const std::string &text, std::uint64_t max) {
  if (!all_digits(text)) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
    if (value > max) return std::nullopt; // stops long before uint64 could wrap
  }
  return value;
}

// "12", "0.5": digits with an optional fraction, nothing else (no sign, exponent, inf or nan).
// std::from_chars, unlike strtod, ignores the locale of the metered process.
std::optional<double> parse_seconds(const std::string &text, double min, double max) {
  const std::size_t dot = text.find('.');
  const std::string_view whole = std::string_view(text).substr(0, dot);
  if (!all_digits(whole)) return std::nullopt;
  if (dot != std::string::npos && !all_digits(std::string_view(text).substr(dot + 1)))
    return std::nullopt;
  double value = 0;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (result.ec != std::errc() || result.ptr != text.data() + text.size()) return std::nullopt;
  if (value < min || value > max) return std::nullopt;
  return value;
}

std::optional<bool> parse_flag(const std::string &text) {
  if (text == "0") return false;
  if (text == "1") return true;
  return std::nullopt;
}

std::string format_seconds(double seconds) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, seconds);
  return std::string(buffer, result.ptr);
}

std::string join(const std::vector<std::string> &items) {
  std::string out;
  for (const std::string &item : items)
    out += (out.empty() ? "" : ", ") + item;
  return out;
}

// ---- the settings: one row per key, in the order describe() prints them ----

// Sets the field from `value` and returns nullopt, or returns what was expected (config unchanged).
using Apply = std::optional<std::string> (*)(const std::string &value, Config &config);
using Show = std::string (*)(const Config &config);

struct Setting {
  std::string_view key;
  std::string_view description;
  Apply apply;
  Show show;
};

std::optional<std::string> apply_ledger(const std::string &value, Config &config) {
  if (value.find_first_not_of(" \t") == std::string::npos) return "expected a non-empty file path";
  config.ledger = value;
  return std::nullopt;
}

std::optional<std::string> apply_every_steps(const std::string &value, Config &config) {
  const auto steps = parse_count(value, kMaxEverySteps);
  if (!steps && all_digits(value) && value.find_first_not_of('0') != std::string::npos)
    return "expected an integer >= 1 and <= " + std::to_string(kMaxEverySteps);
  if (!steps || *steps == 0) return "expected an integer >= 1";
  config.every_steps = *steps;
  return std::nullopt;
}

std::optional<std::string> apply_every_seconds(const std::string &value, Config &config) {
  const auto seconds = parse_seconds(value, 0.05, 86400);
  if (!seconds) return "expected a number of seconds from 0.05 to 86400, such as 10 or 0.5";
  config.every_seconds = *seconds;
  return std::nullopt;
}

std::optional<std::string> apply_original_flops(const std::string &value, Config &config) {
  if (value == "unknown") {
    config.original.compute_known = false;
    config.original.training_flops = 0;
    return std::nullopt;
  }
  const ParsedFlops parsed = parse_flops(value);
  if (!parsed.ok)
    return "expected a positive FLOP count such as 3.4e22, or unknown (" + parsed.error + ")";
  // A model trained with no compute does not exist; 0 would make every modification a provider.
  if (parsed.value == 0) return "expected a positive FLOP count such as 3.4e22, or unknown";
  config.original.compute_known = true;
  config.original.training_flops = parsed.value;
  return std::nullopt;
}

std::optional<std::string> apply_systemic_risk(const std::string &value, Config &config) {
  const auto flag = parse_flag(value);
  if (!flag) return "expected 0 or 1";
  config.original.systemic_risk = *flag;
  return std::nullopt;
}

std::optional<std::string> apply_rule_set(const std::string &value, Config &config) {
  RuleSet rules;
  std::string error;
  if (!load_rule_set(value, rules, error)) {
    std::vector<std::string> names;
    for (const RuleSet &set : rule_sets())
      names.emplace_back(set.name);
    const bool path_like = value.find('/') != std::string::npos ||
                           (value.size() > 6 && value.compare(value.size() - 6, 6, ".rules") == 0);
    return "expected a built-in rule set name (" + join(names) + ") or the path of a .rules file" +
           (path_like ? " (" + error + ")" : "");
  }
  config.rule_set = value;
  config.rules = rules;
  return std::nullopt;
}

std::optional<std::string> read_small_file(const std::string &path, std::string &text);

std::optional<std::string> apply_model(const std::string &value, Config &config) {
  if (value.empty()) {
    config.model_file.clear();
    config.model_declared = false;
    return std::nullopt;
  }
  std::string text;
  if (auto problem = read_small_file(value, text))
    return "expected a readable JSON model file (" + *problem + ")";
  ModelSpec model;
  std::string error;
  if (!parse_model_json(text, value, model, error) || !validate_model(model, error))
    return "expected a JSON model file as described in docs/methods.md (" + error + ")";
  config.model_file = value;
  config.model = model;
  config.model_json = text;
  config.model_declared = true;
  return std::nullopt;
}

/// Fewest bytes an HMAC key file may hold (io/integrity.hpp kMinKeyBytes).
constexpr std::size_t kMinHmacKeyBytes = 16;

std::optional<std::string> apply_hmac_key_file(const std::string &value, Config &config) {
  config.hmac_key_file.clear();
  config.hmac_key.clear();
  if (value.empty()) return std::nullopt;
  std::string bytes;
  if (auto problem = read_small_file(value, bytes))
    return "expected a readable key file (" + *problem + ")";
  if (bytes.size() < kMinHmacKeyBytes)
    return "expected a key file of at least " + std::to_string(kMinHmacKeyBytes) +
           " bytes; it holds " + std::to_string(bytes.size());
  config.hmac_key_file = value;
  config.hmac_key = std::move(bytes);
  return std::nullopt;
}

std::optional<std::string> apply_budget(const std::string &value, Config &config) {
  if (value.empty()) {
    config.budget_text.clear();
    return std::nullopt;
  }
  Budget budget;
  std::string error;
  if (!parse_budget(value, budget, error)) return error;
  config.budget = budget;
  config.budget_text = value;
  return std::nullopt;
}

std::optional<std::string> apply_planned_steps(const std::string &value, Config &config) {
  const auto steps = parse_count(value, UINT64_MAX / 10);
  if (!steps) return "expected a step number (an integer, 0 for unknown)";
  config.planned_steps = *steps;
  return std::nullopt;
}

std::optional<std::string> apply_planned_tokens(const std::string &value, Config &config) {
  const ParsedFlops parsed = parse_flops(value);
  if (!parsed.ok || parsed.value > UINT64_MAX)
    return "expected a token count such as 2e9 (an integer below 2^64, 0 for unknown)";
  config.planned_tokens = static_cast<std::uint64_t>(parsed.value);
  return std::nullopt;
}

constexpr std::pair<std::string_view, int> kStopSignals[] = {
    {"none", 0}, {"SIGUSR1", 10}, {"SIGUSR2", 12}, {"SIGTERM", 15}, {"SIGINT", 2}};

std::optional<std::string> apply_stop_signal(const std::string &value, Config &config) {
  for (const auto &[name, number] : kStopSignals)
    if (value == name) {
      config.stop_signal = number;
      return std::nullopt;
    }
  return "expected none, SIGUSR1, SIGUSR2, SIGTERM or SIGINT";
}

std::string show_stop_signal(const Config &c) {
  for (const auto &[name, number] : kStopSignals)
    if (c.stop_signal == number) return std::string(name);
  return std::to_string(c.stop_signal);
}

std::optional<std::string> apply_peak(const std::string &value, Config &config) {
  const ParsedFlops parsed = parse_flops(value);
  if (!parsed.ok) return "expected FLOP/s per device such as 9.89e14, or 0 (" + parsed.error + ")";
  config.hardware_peak_flops = parsed.value;
  return std::nullopt;
}

std::optional<std::string> apply_utilization(const std::string &value, Config &config) {
  const auto fraction = parse_seconds(value, 0, 1);
  if (!fraction) return "expected a fraction of the peak, above 0 and at most 1 (0: unknown)";
  config.hardware_utilization = *fraction;
  return std::nullopt;
}

std::optional<std::string> apply_cupti(const std::string &value, Config &config) {
  const auto flag = parse_flag(value);
  if (!flag) return "expected 0 or 1";
  config.cupti = *flag;
  return std::nullopt;
}

std::optional<std::string> apply_nvml(const std::string &value, Config &config) {
  const auto flag = parse_flag(value);
  if (!flag) return "expected 0 or 1";
  config.nvml = *flag;
  return std::nullopt;
}

std::optional<std::string> apply_nvml_period(const std::string &value, Config &config) {
  const auto ms = parse_count(value, 60000);
  if (!ms || *ms < 10) return "expected a sampling period in milliseconds, 10 to 60000";
  config.nvml_period_ms = *ms;
  return std::nullopt;
}

std::optional<std::string> apply_base_model(const std::string &value, Config &config) {
  std::size_t chars = 0;
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) return "expected one line of text without control characters";
    if ((c & 0xC0) != 0x80) ++chars; // count UTF-8 code points, not bytes
  }
  if (chars > kMaxBaseModelChars)
    return "expected at most " + std::to_string(kMaxBaseModelChars) + " characters";
  config.base_model = value;
  return std::nullopt;
}

std::optional<std::string> apply_quiet(const std::string &value, Config &config) {
  const auto flag = parse_flag(value);
  if (!flag) return "expected 0 or 1";
  config.quiet = *flag;
  return std::nullopt;
}

std::optional<std::string> apply_exit_timeout(const std::string &value, Config &config) {
  const auto seconds = parse_seconds(value, 0, 3600);
  if (!seconds) return "expected a number of seconds from 0 to 3600, such as 10 or 0.5";
  config.exit_timeout = *seconds;
  return std::nullopt;
}

std::optional<std::string> apply_phase(const std::string &value, Config &config) {
  const auto index = tag_index(kPhaseNames, value);
  if (!index) {
    std::vector<std::string> names(kPhaseNames.begin(), kPhaseNames.end());
    return "expected a phase name: " + join(names);
  }
  config.phase = static_cast<int>(*index);
  return std::nullopt;
}

std::optional<std::string> apply_enable(const std::string &value, Config &config) {
  const auto flag = parse_flag(value);
  if (!flag) return "expected 0 or 1";
  config.enabled = *flag;
  return std::nullopt;
}

std::optional<std::string> apply_ledger_node_local(const std::string &value, Config &config) {
  if (value != "refuse" && value != "allow")
    return "expected refuse (a multi-host job whose ledger some host does not see is refused) or "
           "allow";
  config.ledger_node_local_allowed = value == "allow";
  return std::nullopt;
}

std::string flag_text(bool value) {
  return value ? "1" : "0";
}

std::string show_phase(const Config &c) {
  const bool valid = c.phase >= 0 && static_cast<std::size_t>(c.phase) < kPhases;
  return valid ? std::string(kPhaseNames[static_cast<std::size_t>(c.phase)]) : "invalid";
}

std::string show_original_flops(const Config &c) {
  return c.original.compute_known ? to_decimal(c.original.training_flops) : "unknown";
}

const std::vector<Setting> &settings() {
  static const std::vector<Setting> table{
      {"LEDGER", "path of the HDF5 trace (the ledger) that rank 0 writes", apply_ledger,
       [](const Config &c) { return c.ledger; }},
      {"EVERY_STEPS", "reduce the counters to rank 0 every K steps (API mode), 1 to 1000000000",
       apply_every_steps, [](const Config &c) { return std::to_string(c.every_steps); }},
      {"EVERY_SECONDS", "reduce every S seconds when no steps are marked, 0.05 to 86400",
       apply_every_seconds, [](const Config &c) { return format_seconds(c.every_seconds); }},
      {"ORIGINAL_FLOPS",
       "training compute of the original model in FLOP (e.g. 3.4e22), or unknown; the "
       "environment variable PRETRAIN_FLOPS is an alias",
       apply_original_flops, show_original_flops},
      {"ORIGINAL_SYSTEMIC_RISK", "1 when the original is a GPAI model with systemic risk",
       apply_systemic_risk, [](const Config &c) { return flag_text(c.original.systemic_risk); }},
      {"RULE_SET", "the regulatory rule set to evaluate", apply_rule_set,
       [](const Config &c) { return c.rule_set; }},
      {"BASE_MODEL", "free text naming the original model (one line, at most 256 characters)",
       apply_base_model, [](const Config &c) { return c.base_model; }},
      {"QUIET", "1 to suppress rank 0's live status line", apply_quiet,
       [](const Config &c) { return flag_text(c.quiet); }},
      {"EXIT_TIMEOUT", "seconds an erroring rank waits to hand over its counts, 0 to 3600",
       apply_exit_timeout, [](const Config &c) { return format_seconds(c.exit_timeout); }},
      {"PHASE", "initial phase: train, recompute, eval, synthetic_data or other", apply_phase,
       show_phase},
      {"ENABLE", "0 to disable metering entirely", apply_enable,
       [](const Config &c) { return flag_text(c.enabled); }},
      {"MODEL", "JSON file declaring the model, for the analytic estimate (docs/methods.md)",
       apply_model, [](const Config &c) { return c.model_file; }},
      {"BUDGET",
       "budget guard: stop before the modification compute passes this fraction of the "
       "threshold (0.8 or 80%) or this many FLOP (2.5e22); empty: no guard",
       apply_budget, [](const Config &c) { return c.budget_text; }},
      {"PLANNED_STEPS", "ledger step number at which the modification ends, for the forecast",
       apply_planned_steps, [](const Config &c) { return std::to_string(c.planned_steps); }},
      {"PLANNED_TOKENS", "training tokens the modification will process, for the forecast",
       apply_planned_tokens, [](const Config &c) { return std::to_string(c.planned_tokens); }},
      {"STOP_SIGNAL", "signal every rank raises when the budget guard stops the job",
       apply_stop_signal, show_stop_signal},
      {"HARDWARE_PEAK_FLOPS",
       "peak FLOP/s of one device (one device per rank), for the hardware estimate; 0: unknown",
       apply_peak, [](const Config &c) { return to_decimal(c.hardware_peak_flops); }},
      {"HARDWARE_UTILIZATION",
       "utilisation of the peak for the hardware estimate, (0, 1]; 0: unknown", apply_utilization,
       [](const Config &c) { return format_seconds(c.hardware_utilization); }},
      {"CUPTI",
       "0 to turn off CUPTI: kernel-time coverage, the hardware upper bound, CUDA Graph tracking "
       "(GPU)",
       apply_cupti, [](const Config &c) { return flag_text(c.cupti); }},
      {"NVML", "0 to turn off the NVML energy sampler (GPU)", apply_nvml,
       [](const Config &c) { return flag_text(c.nvml); }},
      {"NVML_PERIOD_MS", "NVML sampling period in milliseconds, 10 to 60000", apply_nvml_period,
       [](const Config &c) { return std::to_string(c.nvml_period_ms); }},
      {"HMAC_KEY_FILE",
       "file whose bytes (at least 16) key the ledger's hash chain (HMAC-SHA256); empty: plain "
       "SHA-256. The key itself is never printed nor stored",
       apply_hmac_key_file, [](const Config &c) { return c.hmac_key_file; }},
      {"LEDGER_NODE_LOCAL",
       "refuse (default) or allow a multi-host job whose ledger directory not every host sees",
       apply_ledger_node_local,
       [](const Config &c) {
         return std::string(c.ledger_node_local_allowed ? "allow" : "refuse");
       }},
  };
  return table;
}

const Setting *find_setting(std::string_view key) {
  for (const Setting &setting : settings())
    if (setting.key == key) return &setting;
  return nullptr;
}

// ---- naming keys the way each origin spells them ----

std::string upper(std::string text) {
  for (char &c : text)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return text;
}

std::string lower(std::string text) {
  for (char &c : text)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return text;
}

// EVERY_STEPS is FLOPLEDGER_EVERY_STEPS, --every-steps, or every_steps in a file.
std::string spelled(ConfigOrigin origin, std::string_view key) {
  std::string name = lower(std::string(key));
  switch (origin) {
  case ConfigOrigin::Environment:
    return std::string(kPrefix) + std::string(key);
  case ConfigOrigin::CommandLine:
    std::replace(name.begin(), name.end(), '_', '-');
    return "--" + name;
  case ConfigOrigin::File:
    return name;
  }
  return name;
}

std::string known_settings(ConfigOrigin origin) {
  std::vector<std::string> names;
  for (const Setting &setting : settings())
    names.push_back(spelled(origin, setting.key));
  if (origin != ConfigOrigin::File) names.push_back(spelled(origin, kConfigKey));
  return join(names);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
    }
  }
  return row[b.size()];
}

// "; known settings: ..." plus a suggestion when `key` (upper case, no prefix) is a likely typo.
std::string unknown_key_hint(ConfigOrigin origin, std::string_view key) {
  std::string hint = "; known settings: " + known_settings(origin);
  for (const Setting &setting : settings())
    if (edit_distance(upper(std::string(key)), setting.key) <= 2)
      return hint + " (did you mean " + spelled(origin, setting.key) + "?)";
  return hint;
}

// Values are quoted in messages; control characters are escaped so a message stays one line.
std::string shown(std::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    if (c >= 0x20 && c != 0x7f) {
      out.push_back(static_cast<char>(c));
      continue;
    }
    char escaped[8];
    std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
    out += escaped;
  }
  return out;
}

std::string trim(std::string_view text) {
  const std::size_t first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const std::size_t last = text.find_last_not_of(" \t");
  return std::string(text.substr(first, last - first + 1));
}

// The value part of "key = value": up to a comment that starts with whitespace and '#', or the
// text between matching quotes ("..." or '...'), so that a value may itself hold a " #".
// nullopt when a quote is not closed or text follows the closing quote.
std::optional<std::string> file_value(std::string_view text) {
  const std::string value = trim(text);
  if (!value.empty() && (value.front() == '"' || value.front() == '\'')) {
    const std::size_t close = value.find(value.front(), 1);
    if (close == std::string::npos) return std::nullopt;
    const std::string after = trim(std::string_view(value).substr(close + 1));
    if (!after.empty() && after.front() != '#') return std::nullopt;
    return value.substr(1, close - 1);
  }
  for (std::size_t i = 1; i < value.size(); ++i)
    if (value[i] == '#' && (value[i - 1] == ' ' || value[i - 1] == '\t'))
      return trim(std::string_view(value).substr(0, i));
  return value;
}

// Reads the whole file, or returns false with the reason in `why`.
bool read_file(const std::string &path, std::string &text, std::string &why) {
  std::FILE *file = std::fopen(path.c_str(), "rb");
  if (!file) {
    why = std::strerror(errno);
    return false;
  }
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
    text.append(buffer, n);
    if (text.size() > kMaxConfigFileBytes) break;
  }
  const bool failed = std::ferror(file) != 0;
  const int error = errno;
  std::fclose(file);
  if (failed)
    why = std::strerror(error);
  else if (text.size() > kMaxConfigFileBytes)
    why = "larger than " + std::to_string(kMaxConfigFileBytes) + " bytes";
  return why.empty();
}

std::optional<std::string> read_small_file(const std::string &path, std::string &text) {
  std::string why;
  if (!read_file(path, text, why)) return path + ": " + why;
  return std::nullopt;
}

// ---- the layers ----

class Loader {
public:
  ConfigResult result;

  void error(std::string message) { result.errors.push_back({std::move(message)}); }

  // Applies `value` to `config` under the name `label`; records an error and returns false when
  // the value is not acceptable.
  bool apply(const std::string &label, const Setting &setting, const std::string &value,
             Config &config) {
    const auto expected = setting.apply(value, config);
    if (expected) error(label + "='" + shown(value) + "': " + *expected);
    return !expected;
  }
  void set(const std::string &label, const Setting &setting, const std::string &value) {
    apply(label, setting, value, result.config);
  }

  void load_file(const std::string &label, const std::string &path);
  void load_environment(const EnvLookup &env);
  void check_environment_names(const std::vector<std::string> &names);
  void load_overrides(const std::vector<std::pair<std::string, std::string>> &overrides);

private:
  void load_file_line(const std::string &where, std::string_view line,
                      std::map<std::string, std::string> &seen);
  void load_original_flops(const EnvLookup &env);
};

void Loader::load_file(const std::string &label, const std::string &path) {
  if (path.empty()) {
    error(label + "='': expected the path of a readable config file");
    return;
  }
  std::string text, why;
  if (!read_file(path, text, why)) {
    error(label + "='" + shown(path) + "': cannot read config file " + shown(path) + ": " + why);
    return;
  }
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3); // UTF-8 byte order mark
  std::map<std::string, std::string> seen;                       // KEY -> where it was set
  std::size_t line_number = 0, start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++line_number;
    load_file_line("config file " + shown(path) + " line " + std::to_string(line_number), line,
                   seen);
    start = end + 1;
  }
}

// One line of a config file: blank, a comment (first non-blank character '#'), or
// "key = value" (see file_value for comments after a value and quoting).
void Loader::load_file_line(const std::string &where, std::string_view line,
                            std::map<std::string, std::string> &seen) {
  const std::string content = trim(line);
  if (content.empty() || content.front() == '#') return;
  const std::size_t equals = content.find('=');
  const std::string written = trim(std::string_view(content).substr(0, equals));
  if (equals == std::string::npos || written.empty()) {
    error(where + ": expected 'key = value', found '" + shown(content) + "'");
    return;
  }
  const std::string key = upper(written);
  const Setting *setting = find_setting(key);
  if (key == kConfigKey) {
    error(where + ": 'config' cannot be set in a config file; use FLOPLEDGER_CONFIG");
  } else if (!setting) {
    error(where + ": unknown key '" + shown(written) + "'" +
          unknown_key_hint(ConfigOrigin::File, key));
  } else if (const auto previous = seen.find(key); previous != seen.end()) {
    error(where + ": '" + written + "' is already set on " + previous->second);
  } else {
    seen[key] = where.substr(where.rfind("line "));
    const auto value = file_value(std::string_view(content).substr(equals + 1));
    if (value)
      set(where + ": " + written, *setting, *value);
    else
      error(where + ": " + written + " has an unclosed quote or text after the closing quote");
  }
}

void Loader::load_environment(const EnvLookup &env) {
  for (const Setting &setting : settings()) {
    if (setting.key == "ORIGINAL_FLOPS") {
      load_original_flops(env);
      continue;
    }
    const std::string name = spelled(ConfigOrigin::Environment, setting.key);
    if (const auto value = env(name)) set(name, setting, *value);
  }
}

// FLOPLEDGER_ORIGINAL_FLOPS and its alias PRETRAIN_FLOPS: either may be set; both only if they
// say the same (a job script that sets both differently is ambiguous about the threshold).
void Loader::load_original_flops(const EnvLookup &env) {
  const Setting &setting = *find_setting("ORIGINAL_FLOPS");
  const std::string name = spelled(ConfigOrigin::Environment, setting.key);
  const std::string alias(kAlias);
  const auto primary = env(name);
  const auto secondary = env(alias);
  if (!primary || !secondary) {
    if (primary) set(name, setting, *primary);
    if (secondary) set(alias, setting, *secondary);
    return;
  }
  Config from_primary = result.config, from_alias = result.config;
  const bool primary_ok = apply(name, setting, *primary, from_primary);
  const bool alias_ok = apply(alias, setting, *secondary, from_alias);
  if (!primary_ok || !alias_ok) return;
  const OriginalModel &a = from_primary.original, &b = from_alias.original;
  if (a.compute_known != b.compute_known || a.training_flops != b.training_flops) {
    error(name + "='" + shown(*primary) + "' and its alias " + alias + "='" + shown(*secondary) +
          "' disagree: set only one of them");
    return;
  }
  result.config.original = a;
}

void Loader::check_environment_names(const std::vector<std::string> &names) {
  for (const std::string &name : names) {
    if (name.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    if (name.compare(0, kInternalPrefix.size(), kInternalPrefix) == 0) continue;
    const std::string key = name.substr(kPrefix.size());
    if (key == kConfigKey || find_setting(key)) continue;
    error(name + " is not a flopledger setting" + unknown_key_hint(ConfigOrigin::Environment, key));
  }
}

void Loader::load_overrides(const std::vector<std::pair<std::string, std::string>> &overrides) {
  for (const auto &[given, value] : overrides) {
    std::string key = upper(given);
    std::replace(key.begin(), key.end(), '-', '_');
    if (key == kConfigKey) continue; // read before every other layer
    const Setting *setting = find_setting(key);
    const std::string flag = spelled(ConfigOrigin::CommandLine, key);
    if (!setting) {
      error(flag + " is not a flopledger setting" +
            unknown_key_hint(ConfigOrigin::CommandLine, key));
      continue;
    }
    set(flag, *setting, value);
  }
}

// The config file named by an override (--config), else by FLOPLEDGER_CONFIG.
std::optional<std::pair<std::string, std::string>>
config_file(const EnvLookup &env,
            const std::vector<std::pair<std::string, std::string>> &overrides) {
  for (auto it = overrides.rbegin(); it != overrides.rend(); ++it)
    if (upper(it->first) == kConfigKey)
      return std::make_pair(spelled(ConfigOrigin::CommandLine, kConfigKey), it->second);
  const std::string name = spelled(ConfigOrigin::Environment, kConfigKey);
  if (const auto path = env(name)) return std::make_pair(name, *path);
  return std::nullopt;
}

} // namespace

EnvLookup process_environment() {
  return [](const std::string &name) -> std::optional<std::string> {
    const char *value = std::getenv(name.c_str());
    if (!value) return std::nullopt;
    return std::string(value);
  };
}

std::vector<std::string> environment_names(const char *const *envp) {
  std::vector<std::string> names;
  for (; envp && *envp; ++envp) {
    const std::string_view entry(*envp);
    if (entry.compare(0, kPrefix.size(), kPrefix) == 0)
      names.emplace_back(entry.substr(0, entry.find('=')));
  }
  return names;
}

ConfigResult load_config(const EnvLookup &env,
                         const std::vector<std::pair<std::string, std::string>> &overrides,
                         const std::vector<std::string> &env_names) {
  Loader loader;
  if (const auto file = config_file(env, overrides)) loader.load_file(file->first, file->second);
  loader.load_environment(env);
  loader.check_environment_names(env_names);
  loader.load_overrides(overrides);
  return std::move(loader.result);
}

std::vector<std::pair<std::string, std::string>> describe(const Config &config) {
  std::vector<std::pair<std::string, std::string>> lines;
  for (const Setting &setting : settings())
    lines.emplace_back(std::string(setting.key), setting.show(config));
  return lines;
}

const std::vector<ConfigKey> &config_keys() {
  static const std::vector<ConfigKey> keys = [] {
    std::vector<ConfigKey> out;
    const Config defaults;
    for (const Setting &setting : settings())
      out.push_back(
          {std::string(setting.key), setting.show(defaults), std::string(setting.description)});
    out.push_back({std::string(kConfigKey), "",
                   "path of a config file of 'key = value' lines: FLOPLEDGER_CONFIG or a CONFIG "
                   "override (--config), never a key inside a config file"});
    return out;
  }();
  return keys;
}

} // namespace flopledger
