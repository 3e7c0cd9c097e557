// The SIGTERM flush: schedulers (SLURM, mpirun, Kubernetes) send SIGTERM some seconds before
// SIGKILL. When the program has not chosen what SIGTERM does, the runtime closes the ledger
// first (the period in progress, the segment marked `error` with status 143), then lets SIGTERM
// end the process as it would have without flopledger.
#pragma once

namespace flopledger::runtime {

/// What runs, on a watcher thread, when SIGTERM arrives: the signal's number is passed.
using TerminationWork = void (*)(int signal_number);

/// Installs the flush for SIGTERM when its disposition is SIG_DFL (a program that ignores SIGTERM
/// or handles it keeps its choice). On SIGTERM, the async-signal-safe handler only writes a byte
/// to a pipe; a watcher thread runs `work`, then restores SIG_DFL and raises SIGTERM again, so
/// the process ends by the signal. A handler the program installs later replaces this one.
/// Returns true when installed; false when the disposition was not SIG_DFL or a resource
/// (pipe, thread) could not be had.
bool install_sigterm_flush(TerminationWork work);

/// In a child forked by a metered process: SIGTERM goes back to SIG_DFL if the flush's handler
/// is still installed (the child is not a rank and has no watcher thread).
void sigterm_flush_forked_child();

} // namespace flopledger::runtime
