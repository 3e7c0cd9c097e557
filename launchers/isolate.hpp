// Crash isolation for the commands that read ledgers: HDF5 1.10 can crash (SIGSEGV, SIGABRT) on
// some damaged files instead of returning an error, and a reader must still fail cleanly.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace flopledger::cli {

/// Runs `work` in a forked child and returns its exit status. When the child dies of a crash
/// signal (SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGSYS, SIGTRAP), prints "flopledger:
/// reading FILE crashed the HDF5 library (signal N): the file is damaged or not a ledger" (FILE:
/// `files` joined, or "for COMMAND" when none is known) and returns 1. Any other signal (a
/// SIGPIPE of `| head`, a SIGINT or SIGTERM, which the parent forwards to the child) ends this
/// process with that signal too. When fork fails, `work` runs in this process.
int run_isolated(const std::function<int()> &work, const std::vector<std::string> &files,
                 const std::string &command);

/// The ledger files a reading command's arguments name: the arguments that are not options and
/// not the value of an output option (-o, --output, --html), as given.
std::vector<std::string> files_read_by(const std::vector<std::string> &args);

} // namespace flopledger::cli
