// flopledger export: the whole ledger as JSON (with the AWS FLOPs Meter's keys at the top level)
// or as CSV, one line per step row. FLOP figures are exact decimal integers.
#include <fstream>
#include <iostream>

#include "commands.hpp"
#include "io/audit.hpp"
#include "io/export.hpp"
#include "options.hpp"

namespace po = boost::program_options;

namespace flopledger::cli {

int export_command(const Args &args) {
  const char *usage = "usage: flopledger export FILE (--json | --csv) [--output OUT]\n"
                      "The ledger as one JSON document (which also carries the keys of AWS's "
                      "flops_meter.json)\nor as CSV with one line per step row.\n";
  po::options_description options("options");
  options.add_options()("help,h", "show this help")("json", "export JSON")("csv", "export CSV")(
      "output,o", po::value<std::string>()->value_name("OUT"), "write to OUT instead of stdout");
  po::variables_map values;
  if (const int status = parse_subcommand(args, options, "file", usage, values); status >= 0)
    return status;
  const std::optional<std::string> file = one_ledger_file(values, usage);
  if (!file) return kExitUsage;
  if (values.count("json") + values.count("csv") != 1) {
    print_error(std::string("expected exactly one of --json and --csv\n") + usage);
    return kExitUsage;
  }
  const std::string path = *file;
  io::TraceContents trace;
  std::string error;
  if (!io::read_trace(path, false, trace, error)) {
    print_error(error);
    return kExitFailure;
  }
  io::Audit audit;
  if (!io::make_audit(trace, audit, error)) {
    print_error(path + ": " + error);
    return kExitFailure;
  }
  const std::string text = values.count("json") ? io::export_json(audit) : io::export_csv(audit);
  const std::string out_path = values.count("output") ? values["output"].as<std::string>() : "";
  if (out_path.empty() || out_path == "-") {
    std::cout << text;
    return std::cout ? 0 : kExitFailure;
  }
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  if (out) out << text;
  if (!out || !out.flush()) {
    print_error(out_path + ": cannot write the output file");
    return kExitFailure;
  }
  return 0;
}

} // namespace flopledger::cli
