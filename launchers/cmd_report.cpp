// flopledger report / status: the verdict and totals of a ledger, for people or as JSON. Both use
// io/report, which calls the same accounting/ evaluator as rank 0 does live.
#include <iostream>

#include "commands.hpp"
#include "io/report.hpp"
#include "options.hpp"

namespace po = boost::program_options;

namespace flopledger::cli {

namespace {

int summarise(const Args &args, bool live) {
  const char *usage = live ? "usage: flopledger status FILE [--json]\n"
                             "The report of a ledger that a running job may still be writing.\n"
                           : "usage: flopledger report FILE [--json]\n"
                             "The verdict, totals, segments and events of a ledger.\n";
  po::options_description options("options");
  options.add_options()("help,h", "show this help")("json", "print one JSON object");
  po::options_description hidden;
  hidden.add_options()("file", po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(options).add(hidden);
  po::positional_options_description positional;
  positional.add("file", -1);
  po::variables_map values;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), values);
    po::notify(values);
  } catch (const po::error &error) {
    print_error(std::string(error.what()) + " (see --help)");
    return kExitUsage;
  }
  if (values.count("help")) {
    std::cout << usage << '\n' << options;
    return 0;
  }
  if (!values.count("file") || values["file"].as<std::vector<std::string>>().size() != 1) {
    print_error(std::string("expected exactly one ledger file\n") + usage);
    return kExitUsage;
  }
  const std::string path = values["file"].as<std::vector<std::string>>().front();
  io::TraceContents trace;
  std::string error;
  if (!io::read_trace(path, live, trace, error)) {
    print_error(error);
    return kExitFailure;
  }
  io::Report report;
  if (!io::make_report(trace, report, error)) {
    print_error(path + ": " + error);
    return kExitFailure;
  }
  std::cout << (values.count("json") ? io::report_json(report) : io::report_text(report));
  if (values.count("json")) std::cout << '\n';
  return 0;
}

} // namespace

int report_command(const Args &args) {
  return summarise(args, false);
}
int status_command(const Args &args) {
  return summarise(args, true);
}

} // namespace flopledger::cli
