#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

#include "accounting/config.hpp"

using namespace flopledger;

namespace {

using Vars = std::map<std::string, std::string>;
using Overrides = std::vector<std::pair<std::string, std::string>>;

EnvLookup lookup(const Vars &vars) {
  return [vars](const std::string &name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// What a caller passes as env_names: the FLOPLEDGER_* names present, taken from environ.
std::vector<std::string> names_of(const Vars &vars) {
  std::vector<std::string> entries;
  for (const auto &[name, value] : vars)
    entries.push_back(name + "=" + value);
  std::vector<const char *> envp;
  for (const std::string &entry : entries)
    envp.push_back(entry.c_str());
  envp.push_back(nullptr);
  return environment_names(envp.data());
}

ConfigResult load(const Vars &vars, const Overrides &overrides = {}) {
  return load_config(lookup(vars), overrides, names_of(vars));
}

Config valid(const Vars &vars, const Overrides &overrides = {}) {
  const ConfigResult result = load(vars, overrides);
  for (const ConfigError &error : result.errors)
    INFO(error.message);
  CHECK(result.errors.empty());
  return result.config;
}

std::string only_error(const Vars &vars, const Overrides &overrides = {}) {
  const ConfigResult result = load(vars, overrides);
  for (const ConfigError &error : result.errors)
    INFO(error.message);
  REQUIRE(result.errors.size() == 1);
  return result.errors.front().message;
}

bool starts_with(const std::string &text, const std::string &prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}
bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

class TempFile {
public:
  explicit TempFile(const std::string &text) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "flopledger-test-XXXXXX.conf").string();
    const int fd = mkstemps(pattern.data(), 5);
    REQUIRE(fd >= 0);
    close(fd);
    path_ = pattern;
    std::ofstream(path_, std::ios::binary) << text;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile &) = delete;
  TempFile &operator=(const TempFile &) = delete;
  const std::string &path() const { return path_; }

private:
  std::string path_;
};

u128 pow10(int exponent) {
  u128 value = 1;
  for (int i = 0; i < exponent; ++i)
    value *= 10;
  return value;
}

} // namespace

TEST_CASE("defaults") {
  const Config config = valid({});
  CHECK(config.ledger == "flopledger.h5");
  CHECK(config.every_steps == 1);
  CHECK(config.every_seconds == 10.0);
  CHECK_FALSE(config.original.compute_known);
  CHECK_FALSE(config.original.systemic_risk);
  CHECK(config.rule_set == "eu-gpai-2025-07");
  CHECK(config.base_model.empty());
  CHECK_FALSE(config.quiet);
  CHECK(config.exit_timeout == 10.0);
  CHECK(config.phase == FLOPLEDGER_PHASE_TRAIN);
  CHECK(config.enabled);
}

TEST_CASE("CUPTI, NVML and NVML_PERIOD_MS") {
  const Config defaults = valid({});
  CHECK(defaults.cupti);
  CHECK(defaults.nvml);
  CHECK(defaults.nvml_period_ms == 1000);
  CHECK_FALSE(valid({{"FLOPLEDGER_CUPTI", "0"}}).cupti);
  CHECK_FALSE(valid({{"FLOPLEDGER_NVML", "0"}}).nvml);
  CHECK(valid({{"FLOPLEDGER_NVML_PERIOD_MS", "10"}}).nvml_period_ms == 10);
  CHECK(valid({{"FLOPLEDGER_NVML_PERIOD_MS", "60000"}}).nvml_period_ms == 60000);
  CHECK(only_error({{"FLOPLEDGER_CUPTI", "off"}}) == "FLOPLEDGER_CUPTI='off': expected 0 or 1");
  CHECK(only_error({{"FLOPLEDGER_NVML", "2"}}) == "FLOPLEDGER_NVML='2': expected 0 or 1");
  const std::string period = "expected a sampling period in milliseconds, 10 to 60000";
  CHECK(only_error({{"FLOPLEDGER_NVML_PERIOD_MS", "9"}}) ==
        "FLOPLEDGER_NVML_PERIOD_MS='9': " + period);
  CHECK(only_error({{"FLOPLEDGER_NVML_PERIOD_MS", "60001"}}) ==
        "FLOPLEDGER_NVML_PERIOD_MS='60001': " + period);
  CHECK(only_error({{"FLOPLEDGER_NVML_PERIOD_MS", "0.5"}}) ==
        "FLOPLEDGER_NVML_PERIOD_MS='0.5': " + period);
}

TEST_CASE("LEDGER") {
  CHECK(valid({{"FLOPLEDGER_LEDGER", "/scratch/run 1/ledger.h5"}}).ledger ==
        "/scratch/run 1/ledger.h5");
  CHECK(only_error({{"FLOPLEDGER_LEDGER", ""}}) ==
        "FLOPLEDGER_LEDGER='': expected a non-empty file path");
  CHECK(only_error({{"FLOPLEDGER_LEDGER", "  "}}) ==
        "FLOPLEDGER_LEDGER='  ': expected a non-empty file path");
}

TEST_CASE("EVERY_STEPS") {
  CHECK(valid({{"FLOPLEDGER_EVERY_STEPS", "1"}}).every_steps == 1);
  CHECK(valid({{"FLOPLEDGER_EVERY_STEPS", "4"}}).every_steps == 4);
  CHECK(valid({{"FLOPLEDGER_EVERY_STEPS", "007"}}).every_steps == 7);
  CHECK(valid({{"FLOPLEDGER_EVERY_STEPS", "1000000000"}}).every_steps == 1000000000);
  CHECK(only_error({{"FLOPLEDGER_EVERY_STEPS", "abc"}}) ==
        "FLOPLEDGER_EVERY_STEPS='abc': expected an integer >= 1");
  CHECK(only_error({{"FLOPLEDGER_EVERY_STEPS", "1000000001"}}) ==
        "FLOPLEDGER_EVERY_STEPS='1000000001': expected an integer >= 1 and <= 1000000000");
  CHECK(only_error({{"FLOPLEDGER_EVERY_STEPS", "99999999999999999999999999"}}) ==
        "FLOPLEDGER_EVERY_STEPS='99999999999999999999999999': expected an integer >= 1 and <= "
        "1000000000");
  for (const char *bad : {"0", "000", "-1", "+1", "1.5", "1e3", "", " 4", "4 ", "0x10"}) {
    INFO(bad);
    CHECK(only_error({{"FLOPLEDGER_EVERY_STEPS", bad}}) ==
          "FLOPLEDGER_EVERY_STEPS='" + std::string(bad) + "': expected an integer >= 1");
  }
}

TEST_CASE("EVERY_SECONDS") {
  CHECK(valid({{"FLOPLEDGER_EVERY_SECONDS", "10"}}).every_seconds == 10.0);
  CHECK(valid({{"FLOPLEDGER_EVERY_SECONDS", "0.5"}}).every_seconds == 0.5);
  CHECK(valid({{"FLOPLEDGER_EVERY_SECONDS", "0.05"}}).every_seconds == 0.05);
  CHECK(valid({{"FLOPLEDGER_EVERY_SECONDS", "86400"}}).every_seconds == 86400.0);
  CHECK(valid({{"FLOPLEDGER_EVERY_SECONDS", "002.50"}}).every_seconds == 2.5);
  for (const char *bad : {"nan", "inf", "", "1s", "0.04", "0", "86400.001", "-1", "1e1", " 1", "1 ",
                          ".5", "1.", "0x1", "1,5", "1..5"}) {
    INFO(bad);
    CHECK(only_error({{"FLOPLEDGER_EVERY_SECONDS", bad}}) ==
          "FLOPLEDGER_EVERY_SECONDS='" + std::string(bad) +
              "': expected a number of seconds from 0.05 to 86400, such as 10 or 0.5");
  }
}

TEST_CASE("ORIGINAL_FLOPS") {
  const Config known = valid({{"FLOPLEDGER_ORIGINAL_FLOPS", "3.4e22"}});
  CHECK(known.original.compute_known);
  CHECK(known.original.training_flops == 34 * pow10(21));
  CHECK(valid({{"FLOPLEDGER_ORIGINAL_FLOPS", "123"}}).original.training_flops == 123);
  CHECK(valid({{"FLOPLEDGER_ORIGINAL_FLOPS", "1E25"}}).original.training_flops == pow10(25));

  const Config unknown = valid({{"FLOPLEDGER_ORIGINAL_FLOPS", "unknown"}});
  CHECK_FALSE(unknown.original.compute_known);
  CHECK(unknown.original.training_flops == 0);

  CHECK(only_error({{"FLOPLEDGER_ORIGINAL_FLOPS", "1e400"}}) ==
        "FLOPLEDGER_ORIGINAL_FLOPS='1e400': expected a positive FLOP count such as 3.4e22, or "
        "unknown ('1e400' is greater than 2^128-1 (about 3.4e38))");
  CHECK(starts_with(only_error({{"FLOPLEDGER_ORIGINAL_FLOPS", "abc"}}),
                    "FLOPLEDGER_ORIGINAL_FLOPS='abc': expected a positive FLOP count"));
  CHECK(starts_with(only_error({{"FLOPLEDGER_ORIGINAL_FLOPS", "-5"}}),
                    "FLOPLEDGER_ORIGINAL_FLOPS='-5': expected a positive FLOP count"));
  CHECK(contains(only_error({{"FLOPLEDGER_ORIGINAL_FLOPS", "2.5"}}), "not a whole number"));
  CHECK(only_error({{"FLOPLEDGER_ORIGINAL_FLOPS", "0"}}) ==
        "FLOPLEDGER_ORIGINAL_FLOPS='0': expected a positive FLOP count such as 3.4e22, or unknown");
  CHECK(contains(only_error({{"FLOPLEDGER_ORIGINAL_FLOPS", "Unknown"}}), "'Unknown'"));
  CHECK(contains(only_error({{"FLOPLEDGER_ORIGINAL_FLOPS", ""}}), "empty"));
}

TEST_CASE("PRETRAIN_FLOPS is an alias of ORIGINAL_FLOPS, from the environment only") {
  const Config aliased = valid({{"PRETRAIN_FLOPS", "3.4e22"}});
  CHECK(aliased.original.compute_known);
  CHECK(aliased.original.training_flops == 34 * pow10(21));

  // Both set to the same number, written differently: fine.
  const Config both = valid(
      {{"PRETRAIN_FLOPS", "3.4e22"}, {"FLOPLEDGER_ORIGINAL_FLOPS", "34000000000000000000000"}});
  CHECK(both.original.training_flops == 34 * pow10(21));

  CHECK(only_error({{"PRETRAIN_FLOPS", "3e22"}, {"FLOPLEDGER_ORIGINAL_FLOPS", "1e23"}}) ==
        "FLOPLEDGER_ORIGINAL_FLOPS='1e23' and its alias PRETRAIN_FLOPS='3e22' disagree: set only "
        "one of them");
  CHECK(contains(only_error({{"PRETRAIN_FLOPS", "unknown"}, {"FLOPLEDGER_ORIGINAL_FLOPS", "1e23"}}),
                 "disagree"));
  CHECK(starts_with(only_error({{"PRETRAIN_FLOPS", "-5"}}),
                    "PRETRAIN_FLOPS='-5': expected a positive FLOP count such as 3.4e22"));
  CHECK(contains(only_error({{"PRETRAIN_FLOPS", "-5"}}), "sign"));
  // A bad value in either is reported under its own name, not as a disagreement.
  CHECK(starts_with(only_error({{"PRETRAIN_FLOPS", "abc"}, {"FLOPLEDGER_ORIGINAL_FLOPS", "1e23"}}),
                    "PRETRAIN_FLOPS='abc'"));

  // The command line still wins over both.
  const Config overridden = valid({{"PRETRAIN_FLOPS", "3e22"}}, {{"ORIGINAL_FLOPS", "unknown"}});
  CHECK_FALSE(overridden.original.compute_known);
  // Not a config file key, nor a command-line key.
  CHECK(contains(only_error({}, {{"PRETRAIN_FLOPS", "3e22"}}), "not a flopledger setting"));
}

TEST_CASE("ORIGINAL_SYSTEMIC_RISK, QUIET and ENABLE take 0 or 1") {
  CHECK(valid({{"FLOPLEDGER_ORIGINAL_SYSTEMIC_RISK", "1"}}).original.systemic_risk);
  CHECK_FALSE(valid({{"FLOPLEDGER_ORIGINAL_SYSTEMIC_RISK", "0"}}).original.systemic_risk);
  CHECK(valid({{"FLOPLEDGER_QUIET", "1"}}).quiet);
  CHECK_FALSE(valid({{"FLOPLEDGER_QUIET", "0"}}).quiet);
  CHECK_FALSE(valid({{"FLOPLEDGER_ENABLE", "0"}}).enabled);
  CHECK(valid({{"FLOPLEDGER_ENABLE", "1"}}).enabled);
  for (const char *key :
       {"FLOPLEDGER_ORIGINAL_SYSTEMIC_RISK", "FLOPLEDGER_QUIET", "FLOPLEDGER_ENABLE"})
    for (const char *bad : {"true", "yes", "2", "", "01", " 1"}) {
      INFO(key << "=" << bad);
      CHECK(only_error({{key, bad}}) == std::string(key) + "='" + bad + "': expected 0 or 1");
    }
  // The systemic-risk flag and the compute are independent settings.
  const Config both =
      valid({{"FLOPLEDGER_ORIGINAL_SYSTEMIC_RISK", "1"}, {"FLOPLEDGER_ORIGINAL_FLOPS", "unknown"}});
  CHECK(both.original.systemic_risk);
  CHECK_FALSE(both.original.compute_known);
}

TEST_CASE("RULE_SET") {
  CHECK(valid({{"FLOPLEDGER_RULE_SET", "eu-gpai-2025-07"}}).rule_set == "eu-gpai-2025-07");
  CHECK(only_error({{"FLOPLEDGER_RULE_SET", "nope"}}) ==
        "FLOPLEDGER_RULE_SET='nope': expected a built-in rule set name (eu-gpai-2025-07, "
        "aws-ftfm) or the path of a .rules file");
  CHECK(contains(only_error({{"FLOPLEDGER_RULE_SET", ""}}), "expected a built-in rule set name"));
}

TEST_CASE("BASE_MODEL") {
  CHECK(valid({{"FLOPLEDGER_BASE_MODEL", "meta-llama/Llama-3.1-8B #2"}}).base_model ==
        "meta-llama/Llama-3.1-8B #2");
  CHECK(valid({{"FLOPLEDGER_BASE_MODEL", std::string(256, 'x')}}).base_model.size() == 256);
  std::string accents;
  for (int i = 0; i < 256; ++i)
    accents += "\xC3\xA9"; // 256 characters, 512 bytes
  CHECK(valid({{"FLOPLEDGER_BASE_MODEL", accents}}).base_model == accents);
  CHECK(contains(only_error({{"FLOPLEDGER_BASE_MODEL", std::string(257, 'x')}}),
                 "expected at most 256 characters"));
  CHECK(only_error({{"FLOPLEDGER_BASE_MODEL", "a\nb"}}) ==
        "FLOPLEDGER_BASE_MODEL='a\\x0ab': expected one line of text without control characters");
  CHECK(contains(only_error({{"FLOPLEDGER_BASE_MODEL", "a\rb"}}), "one line"));
}

TEST_CASE("EXIT_TIMEOUT") {
  CHECK(valid({{"FLOPLEDGER_EXIT_TIMEOUT", "0"}}).exit_timeout == 0.0);
  CHECK(valid({{"FLOPLEDGER_EXIT_TIMEOUT", "2.5"}}).exit_timeout == 2.5);
  CHECK(valid({{"FLOPLEDGER_EXIT_TIMEOUT", "3600"}}).exit_timeout == 3600.0);
  for (const char *bad : {"3600.5", "-1", "abc", "", "nan", "10s"}) {
    INFO(bad);
    CHECK(only_error({{"FLOPLEDGER_EXIT_TIMEOUT", bad}}) ==
          "FLOPLEDGER_EXIT_TIMEOUT='" + std::string(bad) +
              "': expected a number of seconds from 0 to 3600, such as 10 or 0.5");
  }
}

TEST_CASE("PHASE") {
  for (std::size_t i = 0; i < kPhases; ++i)
    CHECK(valid({{"FLOPLEDGER_PHASE", std::string(kPhaseNames[i])}}).phase == static_cast<int>(i));
  CHECK(only_error({{"FLOPLEDGER_PHASE", "training"}}) ==
        "FLOPLEDGER_PHASE='training': expected a phase name: train, recompute, eval, "
        "synthetic_data, other");
  CHECK(contains(only_error({{"FLOPLEDGER_PHASE", "TRAIN"}}), "expected a phase name"));
}

TEST_CASE("precedence: defaults < file < environment < command line") {
  const TempFile file("every_steps = 2\nledger = /from/file.h5\nquiet = 1\n");
  Vars env{{"FLOPLEDGER_CONFIG", file.path()}};
  Config config = valid(env);
  CHECK(config.every_steps == 2);
  CHECK(config.ledger == "/from/file.h5");
  CHECK(config.quiet);
  CHECK(config.every_seconds == 10.0); // not in the file: the default

  env["FLOPLEDGER_EVERY_STEPS"] = "3";
  env["FLOPLEDGER_QUIET"] = "0";
  config = valid(env);
  CHECK(config.every_steps == 3);
  CHECK_FALSE(config.quiet);
  CHECK(config.ledger == "/from/file.h5");

  config = valid(env, {{"EVERY_STEPS", "4"}, {"LEDGER", "/from/cli.h5"}});
  CHECK(config.every_steps == 4);
  CHECK(config.ledger == "/from/cli.h5");
  CHECK_FALSE(config.quiet);

  // Without the file, the environment and the command line still layer over the defaults.
  config = valid({{"FLOPLEDGER_EVERY_STEPS", "3"}}, {{"QUIET", "1"}});
  CHECK(config.every_steps == 3);
  CHECK(config.quiet);
}

TEST_CASE("a bad value is an error even when a later layer overrides it") {
  const ConfigResult result = load({{"FLOPLEDGER_EVERY_STEPS", "abc"}}, {{"EVERY_STEPS", "4"}});
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].message == "FLOPLEDGER_EVERY_STEPS='abc': expected an integer >= 1");
  CHECK(result.config.every_steps == 4);
}

TEST_CASE("command-line overrides are named as flags") {
  CHECK(only_error({}, {{"EVERY_STEPS", "0"}}) == "--every-steps='0': expected an integer >= 1");
  CHECK(only_error({}, {{"ORIGINAL_SYSTEMIC_RISK", "yes"}}) ==
        "--original-systemic-risk='yes': expected 0 or 1");
  // Keys in the flag's own spelling are accepted too.
  CHECK(valid({}, {{"every-steps", "5"}}).every_steps == 5);
  const std::string unknown = only_error({}, {{"EVRY_STEPS", "5"}});
  CHECK(starts_with(unknown, "--evry-steps is not a flopledger setting; known settings: --ledger, "
                             "--every-steps,"));
  CHECK(contains(unknown, "(did you mean --every-steps?)"));
  // The later of two overrides of one key wins.
  CHECK(valid({}, {{"EVERY_STEPS", "5"}, {"EVERY_STEPS", "6"}}).every_steps == 6);
}

TEST_CASE("unknown FLOPLEDGER_ environment variables are errors") {
  const std::string error = only_error({{"FLOPLEDGER_EVRY_STEPS", "4"}});
  CHECK(starts_with(error, "FLOPLEDGER_EVRY_STEPS is not a flopledger setting; known settings: "
                           "FLOPLEDGER_LEDGER, FLOPLEDGER_EVERY_STEPS, "));
  CHECK(contains(error, "FLOPLEDGER_CONFIG"));
  CHECK(contains(error, "(did you mean FLOPLEDGER_EVERY_STEPS?)"));
  CHECK_FALSE(contains(only_error({{"FLOPLEDGER_COLOUR", "1"}}), "did you mean"));

  // Internal names, the config path and other programs' variables are not settings errors.
  CHECK(load({{"FLOPLEDGER_INTERNAL_RANK_FILE", "x"},
              {"FLOPLEDGERX", "1"},
              {"HOME", "/root"},
              {"SLURM_JOB_ID", "1"}})
            .errors.empty());

  // Several unknown names: each is reported.
  CHECK(load({{"FLOPLEDGER_A", "1"}, {"FLOPLEDGER_B", "1"}}).errors.size() == 2);
}

TEST_CASE("environment_names lists the FLOPLEDGER_ names of an environ array") {
  const char *envp[] = {"HOME=/root",
                        "FLOPLEDGER_EVERY_STEPS=4",
                        "FLOPLEDGER_X=a=b",
                        "FLOPLEDGER_EMPTY=",
                        "FLOPLEDGERNOT=1",
                        "flopledger_lower=1",
                        nullptr};
  CHECK(environment_names(envp) ==
        std::vector<std::string>{"FLOPLEDGER_EVERY_STEPS", "FLOPLEDGER_X", "FLOPLEDGER_EMPTY"});
  CHECK(environment_names(nullptr).empty());
}

TEST_CASE("process_environment reads the real environment") {
  REQUIRE(setenv("FLOPLEDGER_INTERNAL_UNIT_TEST", "value 1", 1) == 0);
  const EnvLookup env = process_environment();
  CHECK(env("FLOPLEDGER_INTERNAL_UNIT_TEST") == std::optional<std::string>("value 1"));
  unsetenv("FLOPLEDGER_INTERNAL_UNIT_TEST");
  CHECK_FALSE(env("FLOPLEDGER_INTERNAL_UNIT_TEST").has_value());
}

TEST_CASE("config file syntax") {
  const TempFile file("\xEF\xBB\xBF# flopledger settings\r\n"
                      "\r\n"
                      "  LEDGER = \"/path with # hash.h5\"   # quoted, with a comment\r\n"
                      "Every_Steps=8 # trailing comment\r\n"
                      "base_model = llama#3\r\n"
                      "original_flops = 3.4e22\r\n"
                      "phase = 'eval'\r\n"
                      "every_seconds = 0.5");
  const Config config = valid({{"FLOPLEDGER_CONFIG", file.path()}});
  CHECK(config.ledger == "/path with # hash.h5");
  CHECK(config.every_steps == 8);
  CHECK(config.base_model == "llama#3");
  CHECK(config.original.training_flops == 34 * pow10(21));
  CHECK(config.phase == FLOPLEDGER_PHASE_EVAL);
  CHECK(config.every_seconds == 0.5);
}

TEST_CASE("config file errors name the file and the line, and are all reported") {
  const TempFile file("# comment\n"
                      "every_steps = 0\n"
                      "foo = 1\n"
                      "no equals sign here\n"
                      "every_steps = 4\n"
                      "= 5\n"
                      "config = /other.conf\n"
                      "pretrain_flops = 1e23\n"
                      "ledger = \"unclosed\n"
                      "original_flops = -5\n");
  const ConfigResult result = load({{"FLOPLEDGER_CONFIG", file.path()}});
  const std::string at = "config file " + file.path() + " line ";
  std::vector<std::string> messages;
  for (const ConfigError &error : result.errors)
    messages.push_back(error.message);
  REQUIRE(messages.size() == 9);
  CHECK(messages[0] == at + "2: every_steps='0': expected an integer >= 1");
  CHECK(starts_with(messages[1], at + "3: unknown key 'foo'; known settings: ledger, every_steps"));
  CHECK(messages[2] == at + "4: expected 'key = value', found 'no equals sign here'");
  CHECK(messages[3] == at + "5: 'every_steps' is already set on line 2");
  CHECK(messages[4] == at + "6: expected 'key = value', found '= 5'");
  CHECK(messages[5] == at + "7: 'config' cannot be set in a config file; use FLOPLEDGER_CONFIG");
  CHECK(starts_with(messages[6], at + "8: unknown key 'pretrain_flops'"));
  CHECK(messages[7] == at + "9: ledger has an unclosed quote or text after the closing quote");
  CHECK(starts_with(messages[8], at + "10: original_flops='-5': expected a positive FLOP count"));
}

TEST_CASE("a config file that cannot be read is an error naming the path") {
  CHECK(only_error({{"FLOPLEDGER_CONFIG", "/nonexistent/flopledger.conf"}}) ==
        "FLOPLEDGER_CONFIG='/nonexistent/flopledger.conf': cannot read config file "
        "/nonexistent/flopledger.conf: No such file or directory");
  const std::string directory = std::filesystem::temp_directory_path().string();
  CHECK(contains(only_error({{"FLOPLEDGER_CONFIG", directory}}), "Is a directory"));
  CHECK(only_error({{"FLOPLEDGER_CONFIG", ""}}) ==
        "FLOPLEDGER_CONFIG='': expected the path of a readable config file");
  // An override names the file as a flag, and replaces FLOPLEDGER_CONFIG.
  CHECK(starts_with(only_error({{"FLOPLEDGER_CONFIG", "/nonexistent/a.conf"}},
                               {{"CONFIG", "/nonexistent/b.conf"}}),
                    "--config='/nonexistent/b.conf': cannot read config file"));
}

TEST_CASE("errors from every layer are collected together") {
  const TempFile file("every_steps = x\n");
  const ConfigResult result = load({{"FLOPLEDGER_CONFIG", file.path()},
                                    {"FLOPLEDGER_EVERY_SECONDS", "1s"},
                                    {"FLOPLEDGER_ORIGINAL_FLOPS", "abc"},
                                    {"FLOPLEDGER_TYPO", "1"}},
                                   {{"QUIET", "2"}});
  REQUIRE(result.errors.size() == 5);
  CHECK(contains(result.errors[0].message, "line 1: every_steps='x'"));
  CHECK(starts_with(result.errors[1].message, "FLOPLEDGER_EVERY_SECONDS='1s'"));
  CHECK(starts_with(result.errors[2].message, "FLOPLEDGER_ORIGINAL_FLOPS='abc'"));
  CHECK(starts_with(result.errors[3].message, "FLOPLEDGER_TYPO is not a flopledger setting"));
  CHECK(result.errors[4].message == "--quiet='2': expected 0 or 1");
}

TEST_CASE("LEDGER_NODE_LOCAL") {
  CHECK_FALSE(Config{}.ledger_node_local_allowed);
  CHECK(valid({{"FLOPLEDGER_LEDGER_NODE_LOCAL", "allow"}}).ledger_node_local_allowed);
  CHECK_FALSE(valid({{"FLOPLEDGER_LEDGER_NODE_LOCAL", "refuse"}}).ledger_node_local_allowed);
  CHECK(only_error({{"FLOPLEDGER_LEDGER_NODE_LOCAL", "yes"}}) ==
        "FLOPLEDGER_LEDGER_NODE_LOCAL='yes': expected refuse (a multi-host job whose ledger some "
        "host does not see is refused) or allow");
}

TEST_CASE("describe prints the effective configuration in a fixed order") {
  using Lines = std::vector<std::pair<std::string, std::string>>;
  CHECK(describe(Config{}) == Lines{{"LEDGER", "flopledger.h5"},
                                    {"EVERY_STEPS", "1"},
                                    {"EVERY_SECONDS", "10"},
                                    {"ORIGINAL_FLOPS", "unknown"},
                                    {"ORIGINAL_SYSTEMIC_RISK", "0"},
                                    {"RULE_SET", "eu-gpai-2025-07"},
                                    {"BASE_MODEL", ""},
                                    {"QUIET", "0"},
                                    {"EXIT_TIMEOUT", "10"},
                                    {"PHASE", "train"},
                                    {"ENABLE", "1"},
                                    {"MODEL", ""},
                                    {"BUDGET", ""},
                                    {"PLANNED_STEPS", "0"},
                                    {"PLANNED_TOKENS", "0"},
                                    {"STOP_SIGNAL", "none"},
                                    {"HARDWARE_PEAK_FLOPS", "0"},
                                    {"HARDWARE_UTILIZATION", "0"},
                                    {"CUPTI", "1"},
                                    {"NVML", "1"},
                                    {"NVML_PERIOD_MS", "1000"},
                                    {"HMAC_KEY_FILE", ""},
                                    {"LEDGER_NODE_LOCAL", "refuse"}});
  const Config config = valid({{"FLOPLEDGER_ORIGINAL_FLOPS", "3.4e22"},
                               {"FLOPLEDGER_EVERY_SECONDS", "0.5"},
                               {"FLOPLEDGER_EXIT_TIMEOUT", "0.05"},
                               {"FLOPLEDGER_PHASE", "synthetic_data"},
                               {"FLOPLEDGER_ORIGINAL_SYSTEMIC_RISK", "1"},
                               {"FLOPLEDGER_BASE_MODEL", "org/model"}});
  const Lines lines = describe(config);
  REQUIRE(lines.size() == 23);
  CHECK(lines[2].second == "0.5");
  CHECK(lines[3].second == "34000000000000000000000");
  CHECK(lines[4].second == "1");
  CHECK(lines[6].second == "org/model");
  CHECK(lines[8].second == "0.05");
  CHECK(lines[9].second == "synthetic_data");
}

TEST_CASE("what describe prints loads back to the same configuration") {
  const Config config = valid({{"FLOPLEDGER_ORIGINAL_FLOPS", "1e25"},
                               {"FLOPLEDGER_EVERY_SECONDS", "0.3"},
                               {"FLOPLEDGER_EVERY_STEPS", "17"},
                               {"FLOPLEDGER_QUIET", "1"}});
  Overrides overrides;
  for (const auto &[key, value] : describe(config))
    if (!value.empty()) overrides.emplace_back(key, value);
  CHECK(describe(valid({}, overrides)) == describe(config));
}

TEST_CASE("config_keys documents every key with its default") {
  const std::vector<ConfigKey> &keys = config_keys();
  const auto lines = describe(Config{});
  REQUIRE(keys.size() == lines.size() + 1);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    CHECK(keys[i].key == lines[i].first);
    CHECK(keys[i].default_value == lines[i].second);
    CHECK_FALSE(keys[i].description.empty());
  }
  CHECK(keys.back().key == "CONFIG");
  CHECK(contains(keys.back().description, "FLOPLEDGER_CONFIG"));
  CHECK(contains(keys[3].description, "PRETRAIN_FLOPS"));
}

TEST_CASE("HMAC_KEY_FILE: the file's bytes are the key; a short file is an error naming it") {
  const TempFile key("0123456789abcdef\n");
  const Config config = valid({{"FLOPLEDGER_HMAC_KEY_FILE", key.path()}});
  CHECK(config.hmac_key == "0123456789abcdef\n");
  CHECK(config.hmac_key_file == key.path());
  for (const auto &[name, value] : describe(config))
    CHECK(value.find("0123456789abcdef") == std::string::npos);

  const TempFile short_key("secret");
  const ConfigResult result = load({{"FLOPLEDGER_HMAC_KEY_FILE", short_key.path()}});
  REQUIRE(result.errors.size() == 1);
  CHECK(contains(result.errors[0].message, short_key.path()));
  CHECK(contains(result.errors[0].message, "at least 16 bytes"));
  CHECK_FALSE(contains(result.errors[0].message, "secret"));
  CHECK(load({{"FLOPLEDGER_HMAC_KEY_FILE", "/nonexistent/key"}}).errors.size() == 1);
  CHECK(valid({}).hmac_key.empty());
}
