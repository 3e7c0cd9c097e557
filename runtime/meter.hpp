// The reducer: a per-rank thread that owns the duplicated communicator and runs numbered rounds.
// A round: take one period (a step cut queued by flopledger_step_end, or everything counted since
// the last round when S seconds passed), reduce it to rank 0 with a non-blocking MPI_Ireduce,
// let rank 0 decide, receive rank 0's decision with MPI_Ibcast, and (rank 0) append the row to
// the trace. Every rank runs the same sequence of rounds; a rank that has finished keeps joining
// rounds with nothing to add until every rank has finished, so no rank can hang another. The
// training threads never wait on a round: they only queue cuts.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "accounting/config.hpp"
#include "flopledger/flopledger.h"

namespace flopledger::runtime {

/// How ranks talk: an MPI communicator, or nothing (a single process without a launcher).
struct Transport {
  bool use_mpi = false;
  MPI_Comm comm = MPI_COMM_NULL; ///< duplicated from MPI_COMM_WORLD at init; owned by the meter
  int rank = 0;
  int size = 1;
  bool threaded = true; ///< MPI_THREAD_MULTIPLE available: rounds run on the meter thread
};

/// Identity of this job, known at start (rank 0 writes it as the segment).
struct JobIdentity {
  std::string job_id;
  std::string launcher;
  /// Rank 0: the distinct host names (rank 0's first) and each rank's index into them (the
  /// per-host subtotals at the end, and the two descriptions below).
  std::vector<std::string> host_names;
  std::vector<std::uint32_t> host_of_rank;
  /// The distinct host names, comma-separated: "nodeA,nodeB".
  std::string hosts() const;
  /// Which ranks ran where, ranks as ranges: "nodeA:0-1,4 nodeB:2-3".
  std::string rank_placement() const;
  /// Rank 0: the hosts that did not see the ledger's directory at the start probe, when
  /// LEDGER_NODE_LOCAL=allow let the job go on ("" otherwise; docs/multinode.md).
  std::string ledger_unseen_by;
};

/// Starts metering. Rank 0 opens the ledger (failures are reported and metering goes on without
/// a file). Returns false only when it could not start at all.
bool meter_start(const Config &config, const Transport &transport, const JobIdentity &identity);

/// Whether meter_start succeeded and meter_finish has not run.
bool meter_running();

/// Queues a step cut (called from flopledger_step_end after the step was counted).
void meter_step_cut();

/// Ends metering. `exit_status` 0: a normal end; the remaining rounds run to completion with every
/// rank. Non-zero: this process is exiting with an error; it hands over what it has if the other
/// ranks join within the configured EXIT_TIMEOUT, then gives up (the job is ending anyway).
/// Returns true when the meter finished its rounds (the communicator was freed).
bool meter_finish(int exit_status);

/// The state as of the last completed round; false before the first.
bool meter_state(flopledger_state &out);

/// Parses and stores a model declared through the C API (rank 0's is used). False, with the
/// reason printed, when the JSON is not a valid model.
bool meter_declare_model(const char *json);

/// The planned length of the modification (0: unknown), for the forecast.
void meter_set_plan(std::uint64_t planned_steps, std::uint64_t planned_tokens);

/// The budget guard's collective decision (flopledger_should_stop).
bool meter_should_stop();

/// Records that the program set its step number (flopledger_set_step), as an event on rank 0.
void meter_note_step_set(std::uint64_t step);

} // namespace flopledger::runtime
