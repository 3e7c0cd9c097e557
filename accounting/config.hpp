// Configuration: defaults, then a config file (FLOPLEDGER_CONFIG), then FLOPLEDGER_<KEY>
// environment variables, then command-line overrides. Unknown keys and bad values are errors
// that name the key, where it came from, the value, and what was expected.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "accounting/analytic.hpp"
#include "accounting/budget.hpp"
#include "accounting/rules.hpp"

namespace flopledger {

struct Config {
  std::string ledger = "flopledger.h5"; ///< LEDGER: trace file path
  std::uint64_t every_steps = 1;        ///< EVERY_STEPS: reduce every K steps (API mode), >= 1
  double every_seconds = 10.0; ///< EVERY_SECONDS: reduce every S seconds, 0.05 <= S <= 86400
  OriginalModel original;      ///< ORIGINAL_FLOPS (or PRETRAIN_FLOPS), ORIGINAL_SYSTEMIC_RISK
  std::string rule_set = "eu-gpai-2025-07"; ///< RULE_SET: a name from rule_sets()
  std::string base_model;                   ///< BASE_MODEL: free text identifying the original
  bool quiet = false;                       ///< QUIET: 0|1, no live status line on rank 0
  double exit_timeout = 10.0;         ///< EXIT_TIMEOUT: seconds an erroring rank waits to hand over
  int phase = FLOPLEDGER_PHASE_TRAIN; ///< PHASE: initial phase name (train, eval, ...)
  bool enabled = true;                ///< ENABLE: 0|1
  RuleSet rules = default_rule_set(); ///< the rule set RULE_SET names (built-in or a file)
  std::string model_file;             ///< MODEL: JSON model file for the analytic estimate
  bool model_declared = false;        ///< MODEL was given and parsed into `model`
  ModelSpec model;
  std::string model_json;              ///< the file's text, recorded in the ledger
  std::string budget_text;             ///< BUDGET as given ("" = no budget guard)
  Budget budget;                       ///< meaningful when budget_text is not empty
  std::uint64_t planned_steps = 0;     ///< PLANNED_STEPS: ledger step at which the run ends (0: ?)
  std::uint64_t planned_tokens = 0;    ///< PLANNED_TOKENS: total training tokens planned (0: ?)
  int stop_signal = 0;                 ///< STOP_SIGNAL: signal raised on a budget stop (0: none)
  u128 hardware_peak_flops = 0;        ///< HARDWARE_PEAK_FLOPS: per device FLOP/s (0: unknown)
  double hardware_utilization = 0;     ///< HARDWARE_UTILIZATION: fraction of peak, (0, 1]
  bool cupti = true;                   ///< CUPTI: 0|1, kernel-time coverage and the upper bound
  bool nvml = true;                    ///< NVML: 0|1, the GPU energy sampler
  std::uint64_t nvml_period_ms = 1000; ///< NVML_PERIOD_MS: sampling period, 10 to 60000 ms
  std::string hmac_key_file; ///< HMAC_KEY_FILE: key of the ledger's keyed chain ("": none)
  std::string hmac_key;      ///< its bytes (never printed nor stored in the ledger)
  /// LEDGER_NODE_LOCAL: allow a multi-host job whose ledger directory some host does not see
  /// (refused by default: docs/multinode.md)
  bool ledger_node_local_allowed = false;
};

/// One configuration problem, already phrased for people.
struct ConfigError {
  std::string message; ///< e.g. "FLOPLEDGER_EVERY_STEPS='abc': expected an integer >= 1"
};

/// Where a (key, value) came from, to name it in errors.
enum class ConfigOrigin { File, Environment, CommandLine };

/// Reads one environment variable; returns nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string &name)>;

/// EnvLookup over the process environment (getenv).
EnvLookup process_environment();

struct ConfigResult {
  Config config;
  std::vector<ConfigError> errors; ///< empty when the configuration is valid
};

/// Builds the effective configuration. `overrides` are (KEY, value) pairs from the command line,
/// with KEY as in the environment without the prefix (e.g. {"EVERY_STEPS", "4"}). Environment
/// variables starting with FLOPLEDGER_ that are not known keys are errors (typos must not pass
/// silently), except FLOPLEDGER_CONFIG itself and names the runtime sets internally
/// (FLOPLEDGER_INTERNAL_*). PRETRAIN_FLOPS is accepted as an alias of ORIGINAL_FLOPS (AWS's
/// name); when both are set and differ it is an error. ORIGINAL_FLOPS may be "unknown".
/// The config file has "key = value" lines (KEY without prefix, case-insensitive), '#' comments.
/// `env_names` lists the FLOPLEDGER_* variables present (environment_names(environ)): the lookup
/// alone cannot enumerate them, and unknown ones must be found.
ConfigResult load_config(const EnvLookup &env,
                         const std::vector<std::pair<std::string, std::string>> &overrides = {},
                         const std::vector<std::string> &env_names = {});

/// The names of the variables in an environ-style array ("NAME=value", null-terminated) that
/// start with FLOPLEDGER_. A null `envp` gives none.
std::vector<std::string> environment_names(const char *const *envp);

/// The effective configuration as (KEY, value) lines in a fixed order, e.g. {"EVERY_STEPS","1"};
/// original compute printed exactly or "unknown".
std::vector<std::pair<std::string, std::string>> describe(const Config &config);

/// Every key with its one-line description and default, for --help and the README table.
struct ConfigKey {
  std::string key, default_value, description;
};
const std::vector<ConfigKey> &config_keys();

} // namespace flopledger
