// The environment record: facts about a job that an auditor needs to tie a ledger segment to
// what ran (command line, hosts, library versions, the training code's git commit). Captured on
// rank 0 when the job starts and stored in the ledger's environment dataset.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "meter.hpp"

namespace flopledger::runtime {

using EnvironmentFacts = std::vector<std::pair<std::string, std::string>>;

/// What rank 0 knows about the job at its start. Never fails: a fact that cannot be found is
/// recorded as "unknown (why)" or left out where it does not apply (no CUDA loaded).
EnvironmentFacts capture_environment(const Transport &transport, const JobIdentity &identity);

/// The facts that may change while the job runs (libraries the program loads later, such as the
/// BLAS inside PyTorch): rank 0 records them again at the end when they differ from the start.
EnvironmentFacts capture_loaded_libraries();

/// The git commit of the repository that contains `start` (a file or directory), read from the
/// .git directory without running git: "<40 hex> (branch NAME)", "<40 hex> (detached HEAD)", or
/// "" when `start` is not inside a git work tree. Exposed for tests.
std::string git_commit_of(const std::string &start);

} // namespace flopledger::runtime
