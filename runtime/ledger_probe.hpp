// The start-of-job check that every host of a multi-host job sees the ledger's directory: rank 0
// writes a probe file with a random token there, the first rank on each other host reads it
// back. A host that does not see it has the ledger's path on node-local storage, where rank 0's
// ledger is lost with its node and a later job's rank 0 elsewhere would start a new one
// (docs/multinode.md).
#pragma once

#include <mpi.h>

#include "accounting/config.hpp"
#include "meter.hpp"

namespace flopledger::runtime {

/// Exit status of every rank of a job refused at the start (as `flopledger run` refuses an
/// unusable ledger before starting anything).
constexpr int kLedgerRefusedExit = 2;

/// Collective over `comm`; `identity` is rank 0's (host_names, host_of_rank) and gets
/// `ledger_unseen_by` on rank 0 when the job goes on with LEDGER_NODE_LOCAL=allow. Single-host
/// jobs, and a probe rank 0 cannot write (the ledger's own checks report that), pass without a
/// check. Returns true on every rank when the job may go on; false on every rank when it is
/// refused (rank 0 printed why).
bool ledger_seen_by_every_host(MPI_Comm comm, int rank, int size, const Config &config,
                               JobIdentity &identity);

} // namespace flopledger::runtime
