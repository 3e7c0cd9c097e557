// flopledger report / status: the verdict and totals of a ledger, for people or as JSON, and the
// audit report (a self-contained HTML page, or Markdown for tickets). Every view uses io/report,
// which calls the same accounting/ evaluator as rank 0 does live.
#include <fstream>
#include <iostream>

#include "commands.hpp"
#include "io/audit.hpp"
#include "io/report.hpp"
#include "io/report_html.hpp"
#include "io/report_markdown.hpp"
#include "options.hpp"

namespace po = boost::program_options;

namespace flopledger::cli {

namespace {

/// Writes `text` to `path`, or to stdout when `path` is empty or "-". False after printing an
/// error naming the path.
bool write_output(const std::string &path, const std::string &text) {
  if (path.empty() || path == "-") {
    std::cout << text;
    return static_cast<bool>(std::cout);
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out << text;
  if (!out || !out.flush()) {
    print_error(path + ": cannot write the output file");
    return false;
  }
  return true;
}

int summarise(const Args &args, bool live) {
  const char *usage =
      live
          ? "usage: flopledger status FILE [--json]\n"
            "The report of a ledger that a running job may still be writing.\n"
          : "usage: flopledger report FILE [--json | --html OUT.html | --markdown [--output OUT]]\n"
            "The verdict, totals, segments and events of a ledger. --html writes the audit "
            "report as one\nself-contained page (charts inline, no scripts, no network); "
            "--markdown prints it as Markdown.\n";
  po::options_description options("options");
  options.add_options()("help,h", "show this help")("json", "print one JSON object");
  if (!live)
    options.add_options()("html", po::value<std::string>()->value_name("OUT"),
                          "write the audit report as an HTML page to OUT")(
        "markdown", "print the audit report as Markdown")(
        "output,o", po::value<std::string>()->value_name("OUT"),
        "with --markdown: write to OUT instead of stdout");
  po::variables_map values;
  if (const int status = parse_subcommand(args, options, "file", usage, values); status >= 0)
    return status;
  const std::optional<std::string> file = one_ledger_file(values, usage);
  if (!file) return kExitUsage;
  const int formats =
      static_cast<int>(values.count("json") + values.count("html") + values.count("markdown"));
  if (formats > 1) {
    print_error("--json, --html and --markdown exclude each other (see --help)");
    return kExitUsage;
  }
  if (values.count("output") && !values.count("markdown")) {
    print_error("--output goes with --markdown (--html names its own file; see --help)");
    return kExitUsage;
  }
  if (values.count("html") && values["html"].as<std::string>().empty()) {
    print_error("--html needs an output file name (see --help)");
    return kExitUsage;
  }
  const std::string path = *file;
  io::TraceContents trace;
  std::string error;
  if (!io::read_trace(path, live, trace, error)) {
    print_error(error);
    return kExitFailure;
  }
  if (values.count("html") || values.count("markdown")) {
    io::Audit audit;
    if (!io::make_audit(trace, audit, error)) {
      print_error(path + ": " + error);
      return kExitFailure;
    }
    const bool ok = values.count("html")
                        ? write_output(values["html"].as<std::string>(), io::report_html(audit))
                        : write_output(values.count("output") ? values["output"].as<std::string>()
                                                              : std::string(),
                                       io::report_markdown(audit));
    return ok ? 0 : kExitFailure;
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
