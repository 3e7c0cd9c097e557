// flopledger verify: recomputes the integrity chain, the running totals and the numbering of a
// ledger (io/verify.hpp). Exit 0: everything holds; 1: a mismatch, or a keyed chain that could
// not be checked; 2: bad usage.
#include <iostream>

#include "commands.hpp"
#include "io/verify.hpp"
#include "options.hpp"

namespace po = boost::program_options;

namespace flopledger::cli {

int verify_command(const Args &args) {
  const char *usage =
      "usage: flopledger verify FILE [--hmac-key-file KEY] [--json]\n"
      "Recomputes every hash of the ledger's integrity chain and its head, every running total\n"
      "from the per-step rows, and the numbering of rows, segments and steps. Exit status 0 when\n"
      "all holds, 1 naming the first bad row, segment or event (or when a keyed chain could not\n"
      "be checked for want of the right key).\n";
  po::options_description options("options");
  options.add_options()("help,h", "show this help")("json", "print the result as JSON")(
      "hmac-key-file", po::value<std::string>()->value_name("KEY"),
      "the key of an hmac-sha256 ledger (the file's bytes)");
  po::variables_map values;
  if (const int status = parse_subcommand(args, options, "file", usage, values); status >= 0)
    return status;
  const std::optional<std::string> file = one_ledger_file(values, usage);
  if (!file) return kExitUsage;
  const std::string path = *file;
  io::IntegrityKey key;
  if (!hmac_key_option(values, key)) return kExitUsage;
  io::VerifyResult result;
  std::string error;
  if (!io::verify_trace(path, key, result, error)) {
    print_error(error);
    return kExitFailure;
  }
  std::cout << (values.count("json") ? io::verify_json(result) + "\n" : io::verify_text(result));
  std::cout.flush();
  return result.exit_status();
}

} // namespace flopledger::cli
