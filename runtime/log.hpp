// Messages from the runtime to the job's stderr. Never allocates on failure paths that matter,
// never throws; one write(2) per line so that lines from several ranks do not interleave.
#pragma once

namespace flopledger::runtime {

/// printf-style line prefixed with "flopledger: " (and "[rank N] " on ranks other than 0).
void log_line(const char *format, ...) __attribute__((format(printf, 1, 2)));

/// Sets the rank shown in log lines (-1: unknown yet).
void set_log_rank(int rank);

} // namespace flopledger::runtime
