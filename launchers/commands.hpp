// The flopledger command's subcommands. Each takes the arguments after its name and returns the
// process exit status: 0 success, 1 a failure of what it was asked to do (an unreadable ledger, a
// job that failed), 2 bad usage or configuration (the message says which value and what was
// expected).
#pragma once

#include <string>
#include <vector>

namespace flopledger::cli {

using Args = std::vector<std::string>;

int run_command(const Args &args);      // flopledger run [options] -- CMD [ARGS...]
int exec_command(const Args &args);     // flopledger exec [options] -- CMD [ARGS...]
int report_command(const Args &args);   // flopledger report FILE [--json|--html OUT|--markdown]
int status_command(const Args &args);   // flopledger status FILE [--json]
int merge_command(const Args &args);    // flopledger merge --output OUT IN... [--force]
int export_command(const Args &args);   // flopledger export FILE --json|--csv [--output OUT]
int evaluate_command(const Args &args); // flopledger evaluate --modification-flops X [...]
int verify_command(const Args &args);   // flopledger verify FILE [--hmac-key-file K] [--json]
int stamp_command(const Args &args);    // flopledger stamp FILE --job-id ID --state STATE

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

} // namespace flopledger::cli
