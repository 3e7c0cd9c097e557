#include "options.hpp"

#include <unistd.h>

#include <filesystem>
#include <iostream>

extern char **environ;

namespace po = boost::program_options;

namespace flopledger::cli {

namespace {

struct ConfigFlag {
  const char *flag;
  const char *key;
  const char *help;
};

const ConfigFlag kConfigFlags[] = {
    {"ledger", "LEDGER", "ledger (HDF5 trace) path; default ./flopledger.h5"},
    {"every-steps", "EVERY_STEPS", "reduce every K steps when the program reports steps"},
    {"every-seconds", "EVERY_SECONDS", "reduce every S seconds (also without step reports)"},
    {"original-flops", "ORIGINAL_FLOPS",
     "training compute of the original model, e.g. 3.4e24, or 'unknown'"},
    {"original-systemic-risk", "ORIGINAL_SYSTEMIC_RISK",
     "1 if the original is a GPAI model with systemic risk, else 0"},
    {"rule-set", "RULE_SET", "rule set to evaluate (default eu-gpai-2025-07)"},
    {"base-model", "BASE_MODEL", "free-text identifier of the original model"},
    {"exit-timeout", "EXIT_TIMEOUT", "seconds a failing rank waits to hand over its counts"},
    {"phase", "PHASE", "initial phase: train, recompute, eval, synthetic_data, other"},
    {"ledger-node-local", "LEDGER_NODE_LOCAL",
     "refuse (default) or allow a multi-host job whose ledger directory some host does not see"},
};

} // namespace

void add_config_options(po::options_description &options) {
  for (const ConfigFlag &flag : kConfigFlags)
    options.add_options()(flag.flag, po::value<std::string>(), flag.help);
  options.add_options()("quiet", "no live status line from rank 0");
}

std::vector<std::pair<std::string, std::string>> config_overrides(const po::variables_map &values) {
  std::vector<std::pair<std::string, std::string>> overrides;
  for (const ConfigFlag &flag : kConfigFlags)
    if (values.count(flag.flag))
      overrides.emplace_back(flag.key, values[flag.flag].as<std::string>());
  if (values.count("quiet")) overrides.emplace_back("QUIET", "1");
  return overrides;
}

std::optional<Config>
effective_config(const std::vector<std::pair<std::string, std::string>> &overrides) {
  ConfigResult result = load_config(process_environment(), overrides, environment_names(environ));
  for (const ConfigError &error : result.errors)
    print_error(error.message);
  if (!result.errors.empty()) return std::nullopt;
  return result.config;
}

std::optional<std::string> runtime_library(const std::string &explicit_path) {
  namespace fs = std::filesystem;
  if (!explicit_path.empty()) {
    if (fs::is_regular_file(explicit_path)) return absolute_path(explicit_path);
    print_error("--library '" + explicit_path + "': no such file");
    return std::nullopt;
  }
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  const fs::path dir = self.parent_path();
  for (const fs::path &candidate :
       {dir / "libflopledger.so", dir / ".." / "lib" / "libflopledger.so",
        dir / ".." / "lib" / "x86_64-linux-gnu" / "libflopledger.so",
        dir / ".." / "lib64" / "libflopledger.so"})
    if (fs::is_regular_file(candidate, error)) return fs::weakly_canonical(candidate).string();
  print_error("cannot find libflopledger.so next to " + self.string() +
              " or in ../lib; pass --library PATH");
  return std::nullopt;
}

std::pair<std::vector<std::string>, std::vector<std::string>>
split_command(const std::vector<std::string> &args) {
  for (std::size_t i = 0; i < args.size(); ++i)
    if (args[i] == "--")
      return {std::vector<std::string>(args.begin(), args.begin() + static_cast<long>(i)),
              std::vector<std::string>(args.begin() + static_cast<long>(i) + 1, args.end())};
  return {args, {}};
}

std::optional<std::string> one_ledger_file(const po::variables_map &values,
                                           const std::string &usage) {
  if (!values.count("file") || values["file"].as<std::vector<std::string>>().size() != 1) {
    print_error(std::string("expected exactly one ledger file\n") + usage);
    return std::nullopt;
  }
  return values["file"].as<std::vector<std::string>>().front();
}

bool hmac_key_option(const po::variables_map &values, io::IntegrityKey &key) {
  if (!values.count("hmac-key-file")) return true;
  std::string error;
  if (io::load_integrity_key(values["hmac-key-file"].as<std::string>(), key, error)) return true;
  print_error(error);
  return false;
}

int parse_subcommand(const std::vector<std::string> &args, const po::options_description &options,
                     const char *positional_name, const std::string &usage,
                     po::variables_map &values) {
  po::options_description hidden;
  hidden.add_options()(positional_name, po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(options).add(hidden);
  po::positional_options_description positional;
  positional.add(positional_name, -1);
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), values);
    po::notify(values);
  } catch (const po::error &error) {
    print_error(std::string(error.what()) + " (see --help)");
    return 2;
  }
  if (values.count("help")) {
    std::cout << usage << '\n' << options;
    return 0;
  }
  return -1;
}

void print_error(const std::string &message) {
  std::cerr << "flopledger: " << message << '\n';
}

std::string absolute_path(const std::string &path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

} // namespace flopledger::cli
