// Pieces shared by the subcommands: the configuration flags (one per FLOPLEDGER_<KEY>), the
// runtime library's location, error printing.
#pragma once

#include <boost/program_options.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "accounting/config.hpp"
#include "io/integrity.hpp"

namespace flopledger::cli {

/// Adds --ledger, --every-steps, --every-seconds, --original-flops, --original-systemic-risk,
/// --rule-set, --base-model, --quiet to `options`.
void add_config_options(boost::program_options::options_description &options);

/// The (KEY, value) overrides given on the command line, for load_config.
std::vector<std::pair<std::string, std::string>>
config_overrides(const boost::program_options::variables_map &values);

/// Loads the effective configuration (file, environment, overrides); prints every error to stderr
/// and returns nullopt when there is any.
std::optional<Config> effective_config(const std::vector<std::pair<std::string, std::string>> &o);

/// The runtime library to preload: `explicit_path` when given, else libflopledger.so next to this
/// executable, in ../lib or ../lib/<multiarch>. nullopt (with a message) when none exists.
std::optional<std::string> runtime_library(const std::string &explicit_path);

/// Splits "ARGS -- CMD..." at the first "--": options before, command after.
std::pair<std::vector<std::string>, std::vector<std::string>>
split_command(const std::vector<std::string> &args);

/// Parses a subcommand's `args`: `options` (what --help shows) plus every positional argument,
/// collected as a vector<string> under `positional_name`. Returns -1 when the caller goes on with
/// `values`; otherwise the exit status to return at once: 0 after printing `usage` and the options
/// for --help, 2 after printing a parse error.
int parse_subcommand(const std::vector<std::string> &args,
                     const boost::program_options::options_description &options,
                     const char *positional_name, const std::string &usage,
                     boost::program_options::variables_map &values);

/// The one ledger file among a reading subcommand's positional arguments (`parse_subcommand`
/// with "file"), or nullopt after printing "expected exactly one ledger file" and `usage`.
std::optional<std::string> one_ledger_file(const boost::program_options::variables_map &values,
                                           const std::string &usage);

/// Loads the key of `--hmac-key-file` into `key` when the option was given (else leaves `key`
/// empty). Returns false after printing the reason when the key file cannot be used.
bool hmac_key_option(const boost::program_options::variables_map &values, io::IntegrityKey &key);

/// Prints "flopledger: <message>" to stderr.
void print_error(const std::string &message);

/// An absolute, lexically normalised form of `path` (relative to the working directory).
std::string absolute_path(const std::string &path);

} // namespace flopledger::cli
