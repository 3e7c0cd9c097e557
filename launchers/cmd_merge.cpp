// flopledger merge: ledgers of one modification written separately (other clusters, other
// phases of the work) combined into one new ledger (io/merge, docs/merge.md).
#include <iostream>

#include "commands.hpp"
#include "io/merge.hpp"
#include "options.hpp"

namespace po = boost::program_options;

namespace flopledger::cli {

int merge_command(const Args &args) {
  const char *usage =
      "usage: flopledger merge --output OUT.h5 IN.h5 [IN.h5 ...] [--force] [--allow-concurrent]\n"
      "Combines ledgers of the same modification of the same base model (same rule set and\n"
      "original model) into the new ledger OUT.h5: segments in start order, exact totals, the\n"
      "verdict evaluated again, one merged_from event per input. One input upgrades it to the\n"
      "current format.\n";
  po::options_description options("options");
  options.add_options()("help,h", "show this help")("output,o", po::value<std::string>(),
                                                    "the merged ledger to create (must not exist)")(
      "force", "replace OUT.h5 if it exists (never one of the inputs)")(
      "allow-concurrent", "accept jobs of different inputs that overlap in time (recorded as "
                          "concurrent_segments events)")(
      "hmac-key-file", po::value<std::string>()->value_name("KEY"),
      "key the merged ledger's hash chain with this file's bytes (hmac-sha256)");
  po::variables_map values;
  if (const int status = parse_subcommand(args, options, "input", usage, values); status >= 0)
    return status;
  if (!values.count("output") || values["output"].as<std::string>().empty()) {
    print_error(std::string("expected --output OUT.h5, the merged ledger to create\n") + usage);
    return kExitUsage;
  }
  if (!values.count("input")) {
    print_error(std::string("expected one or more input ledger files\n") + usage);
    return kExitUsage;
  }
  const std::string output = values["output"].as<std::string>();
  io::MergeOptions merge_options;
  merge_options.force = values.count("force") > 0;
  merge_options.allow_concurrent = values.count("allow-concurrent") > 0;
  if (!hmac_key_option(values, merge_options.key)) return kExitUsage;
  io::MergeSummary summary;
  std::string error;
  if (!io::merge_ledgers(values["input"].as<std::vector<std::string>>(), output, merge_options,
                         summary, error)) {
    print_error(error);
    return kExitFailure;
  }
  std::cout << "merged " << summary.inputs.size() << " ledger(s) into " << output << ": "
            << summary.segments << " segments, " << summary.rows << " rows";
  if (summary.concurrent_pairs > 0)
    std::cout << ", " << summary.concurrent_pairs << " concurrent segment pair(s)";
  std::cout << "\n  counted " << to_decimal(summary.counted) << " FLOP, modification "
            << to_decimal(summary.modification) << " FLOP: " << status_name(summary.verdict.status)
            << " (threshold " << to_decimal(summary.verdict.threshold_flops) << " FLOP, rule "
            << summary.verdict.rule << ")\n";
  for (const io::MergedInput &in : summary.inputs)
    std::cout << "  from " << in.path << " (format " << in.format << "): " << in.segments_in.size()
              << " segments, " << in.rows << " rows, counted " << to_decimal(in.counted)
              << " FLOP\n";
  return 0;
}

} // namespace flopledger::cli
