// flopledger: meter the FLOPs of a fine-tuning job and read its ledger.
#include <iostream>
#include <map>

#include "commands.hpp"
#include "isolate.hpp"

namespace {

const char *const kUsage =
    "usage: flopledger COMMAND [options]\n"
    "\n"
    "Commands:\n"
    "  run     run an MPI job with every rank metered      flopledger run -n 4 -- python train.py\n"
    "  exec    meter one process started by a launcher     srun --mpi=pmix flopledger exec -- CMD\n"
    "  report  verdict and totals of a ledger              flopledger report flopledger.h5 "
    "[--json]\n"
    "  status  the same while a job is writing the ledger  flopledger status flopledger.h5\n"
    "          audit page / ticket text:  flopledger report flopledger.h5 --html report.html\n"
    "                                     flopledger report flopledger.h5 --markdown\n"
    "  export  the ledger as JSON or CSV                   flopledger export flopledger.h5 "
    "--json|--csv\n"
    "  verify  recompute the hash chain and the totals     flopledger verify flopledger.h5\n"
    "  merge   combine ledgers of one modification         flopledger merge -o all.h5 a.h5 b.h5\n"
    "  evaluate verdict for given figures, no ledger       flopledger evaluate "
    "--modification-flops 2.5e22\n"
    "  stamp   mark how a killed job ended (SLURM epilog)  flopledger stamp flopledger.h5 "
    "--job-id 42 --state cancelled\n"
    "\n"
    "'flopledger COMMAND --help' describes each command. Version " FLOPLEDGER_VERSION ".\n";

} // namespace

int main(int argc, char **argv) {
  using namespace flopledger::cli;
  const std::map<std::string, int (*)(const Args &)> commands = {
      {"run", run_command},           {"exec", exec_command},     {"report", report_command},
      {"status", status_command},     {"merge", merge_command},   {"export", export_command},
      {"evaluate", evaluate_command}, {"verify", verify_command}, {"stamp", stamp_command}};
  if (argc < 2) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (name == "--version") {
    std::cout << "flopledger " FLOPLEDGER_VERSION "\n";
    return 0;
  }
  const auto command = commands.find(name);
  if (command == commands.end()) {
    std::cerr << "flopledger: unknown command '" << name << "'\n\n" << kUsage;
    return kExitUsage;
  }
  const Args args(argv + 2, argv + argc);
  // The commands that only read files run in a child process, so that HDF5 crashing on a damaged
  // file ends in a message and status 1. Not run/exec: they must keep the job's status and
  // signals (run isolates its own read of the ledger).
  const bool reads_files = name == "report" || name == "status" || name == "export" ||
                           name == "merge" || name == "verify";
  try {
    if (reads_files)
      return run_isolated([&] { return command->second(args); }, files_read_by(args), name);
    return command->second(args);
  } catch (const std::exception &error) {
    std::cerr << "flopledger: " << error.what() << '\n';
    return kExitFailure;
  }
}
