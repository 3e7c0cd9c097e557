// The HDF5 trace: one file per ledger, written by rank 0 only (default HDF5 driver, never
// MPI-IO), flushed after every row so that a killed job loses at most one period.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "accounting/exact.hpp"
#include "accounting/period.hpp"
#include "accounting/rules.hpp"
#include "flopledger/trace_format.h"
#include "io/integrity.hpp"

namespace flopledger::io {

/// Root attributes of a trace.
struct TraceHeader {
  std::uint32_t format_major = FLOPLEDGER_FORMAT_MAJOR;
  std::uint32_t format_minor = FLOPLEDGER_FORMAT_MINOR;
  std::string writer_version;
  std::string created_utc; ///< ISO 8601, set by the writer when it creates the file
  std::string rule_set;
  OriginalModel original; ///< written as a decimal string, or "unknown"
  std::string base_model;
  std::vector<std::pair<std::string, std::string>> config; ///< effective configuration
  std::string rule_set_text; ///< the rule set's full source text (format 1.1; "" in 1.0 files)
  // Format 1.2, filled by read_trace and ignored by TraceWriter::open (the writer computes them).
  std::string chain_mode;  ///< "sha256" or "hmac-sha256"; "" in 1.0 and 1.1 files
  std::string chain_head;  ///< 64 hex digits: the hash over the chain heads at the last flush
  std::string hmac_key_id; ///< hmac-sha256 only: first 16 hex digits of SHA-256 of the key
};

/// One job (or restart) that wrote into the ledger.
struct Segment {
  std::uint32_t id = 0;
  std::string job_id;   ///< launcher's job id (SLURM_JOB_ID, Open MPI jobid), may be empty
  std::string launcher; ///< "mpirun", "srun", "none"
  std::string hosts;    ///< comma-separated distinct host names of the ranks (rank 0's first)
  std::uint32_t world_size = 0;
  double start = 0; ///< Unix time, seconds
  double end = 0;   ///< Unix time; 0 while running
  std::uint8_t state = FLOPLEDGER_SEGMENT_RUNNING;
  std::int32_t exit_status = 0;
  std::uint64_t first_row = 0; ///< index of the segment's first step row
  std::uint64_t rows = 0;      ///< step rows written by this segment
};

/// Which estimate of the modification compute the verdict used (the rule set decides).
enum class Method : std::uint8_t { Counted = 0, Analytic = 1, Hardware = 2 };

/// "counted", "analytic", "hardware" (inline: the runtime uses it without linking io/).
inline std::string_view method_name(Method method) {
  switch (method) {
  case Method::Counted:
    return "counted";
  case Method::Analytic:
    return "analytic";
  case Method::Hardware:
    return "hardware";
  }
  return "unknown";
}

/// The trace's name for the method a rule set's policy chose (never VerdictMethod::Highest).
inline Method method_of(VerdictMethod method) {
  switch (method) {
  case VerdictMethod::Analytic:
    return Method::Analytic;
  case VerdictMethod::Hardware:
    return Method::Hardware;
  case VerdictMethod::Counted:
  case VerdictMethod::Highest:
    break;
  }
  return Method::Counted;
}

/// One reduced period: the job's counts plus what rank 0 decided from them.
struct StepRow {
  std::uint64_t row = 0; ///< index in the steps dataset, 0-based, continuous across segments
  std::uint32_t segment = 0;
  double t_start = 0, t_end = 0; ///< Unix time of the period's bounds
  JobPeriod period;
  /// The period's FLOPs by precision, phase and source. The trace stores these projections, not
  /// the full source x precision x phase cube: read_trace fills them and leaves period.flops
  /// zero. The writer computes them from period.flops when any cell of it is non-zero, and
  /// otherwise writes these arrays as given (so that rows read back can be written again).
  u128 by_precision[kPrecisions] = {};
  u128 by_phase[kPhases] = {};
  u128 by_source[kSources] = {};
  u128 cumulative_counted = 0;      ///< ledger total, every phase
  u128 cumulative_modification = 0; ///< ledger total of the phases the rule set counts
  Status status = Status::DownstreamUser;
  double fraction_of_threshold = 0;

  // Format 1.1: the other methods, side by side with the counted figures. A 1.0 file reads back
  // with every *_available false and these figures zero.
  u128 replica_tokens = 0;         ///< tokens reported once per model replica: the analytic basis
  u128 attention_sq = 0;           ///< sum of squared sequence lengths behind replica_tokens
  bool analytic_available = false; ///< a model was declared: the next five figures are meaningful
  u128 analytic_flops = 0;         ///< period, architecture-based (accounting/analytic.hpp)
  u128 aws_flops = 0;              ///< period, (4 N_total + 2 N_trainable) x tokens
  u128 hf_flops = 0;               ///< period, 6 N x tokens
  u128 cumulative_analytic = 0, cumulative_aws = 0, cumulative_hf = 0; ///< ledger totals
  bool hardware_available = false; ///< device count and peak known (never on CPU runs)
  u128 hardware_flops = 0;         ///< period, devices x seconds x peak x utilisation
  u128 cumulative_hardware = 0;
  Method verdict_method = Method::Counted; ///< which figure the status was decided on
  u128 verdict_flops = 0;                  ///< that figure, cumulative over the ledger
  u128 threshold_flops = 0;                ///< the threshold it was compared with
  bool forecast_available = false;         ///< a planned length was given and the rate is known
  u128 forecast_flops = 0;                 ///< projected modification compute at the planned end

  // Format 1.3: the GPU figures are in period.gpu (energy, kernel times, ranks sampled); an
  // older file reads back with them zero. The hardware upper bound of the period (docs/gpu.md):
  bool upper_bound_available = false; ///< every rank had CUPTI kernel times and a known peak
  u128 upper_bound_flops = 0;         ///< period counted + uncounted kernel time x peak
};

struct Event {
  std::uint64_t row = 0; ///< step row current when the event happened
  double time = 0;
  std::string kind;       ///< e.g. "segment_start", "rank_exit_error", "threshold_crossed"
  std::string detail;     ///< free text
  std::uint64_t step = 0; ///< training step the event refers to (format 1.1; 0 if none)
  u128 flops = 0;         ///< the figure the event is about (format 1.1; 0 if none)
};

/// One fact about the environment of a job, recorded at its start (format 1.1): command line,
/// host names, library versions, git commit of the training code, declared model, ...
struct EnvironmentEntry {
  std::uint32_t segment = 0;
  std::string key;   ///< e.g. "command_line", "mpi_library", "git_commit", "model"
  std::string value; ///< free text (JSON for "model")
};

/// Writes a trace. Every method returns false and sets error() on failure; it never throws and
/// never aborts. The file stays readable after any call returns (each append ends with H5Fflush).
class TraceWriter {
public:
  ~TraceWriter();
  TraceWriter(const TraceWriter &) = delete;
  TraceWriter &operator=(const TraceWriter &) = delete;

  /// Creates `path`, or opens an existing ledger to append a new segment. An existing file must
  /// be a flopledger trace of a readable major version with the same rule set and original model
  /// (compute and systemic flag) as `header`; otherwise nullptr and `error` says why. One writer
  /// per ledger at a time: a second one is refused (the writer locks the file itself, because
  /// HDF5's own file locking is off so that live readers never block it).
  /// `key`: empty for the SHA-256 chain, else the HMAC-SHA256 key of the chain. An existing
  /// ledger must have been written in the same mode with the same key (its hmac_key_id).
  static std::unique_ptr<TraceWriter> open(const std::string &path, const TraceHeader &header,
                                           std::string &error,
                                           const IntegrityKey &key = IntegrityKey{});

  /// Totals and numbering carried over from the rows already in the file (0 for a new file).
  std::uint64_t next_row() const;
  std::uint32_t next_segment_id() const;
  u128 cumulative_counted() const;
  u128 cumulative_modification() const;
  /// The last step row of the ledger (a default row for a new file): a new job continues its
  /// step numbering and the other methods' running totals.
  const StepRow &last_row() const;
  /// Sum of replica_tokens over every row of the ledger (the forecast's token basis).
  u128 replica_tokens_total() const;

  /// Appends `segment` (state RUNNING) and flushes. `segment.id` must be next_segment_id(); the
  /// writer sets first_row (next_row()), rows, end, state and exit_status itself.
  bool begin_segment(const Segment &segment);
  /// Appends one step row (its `row` and `segment` fields are set by the caller) and flushes.
  /// Refused unless row.row == next_row(), row.segment is the open segment, and the cumulative
  /// totals are at least the previous ones plus this period (modification: the rule set's
  /// phases); more is kept, with a "cumulative_gap" event (periods whose append failed). Also
  /// rewrites the open segment's row count, so that it is right even if the job dies.
  bool append(const StepRow &row);
  bool add_event(const Event &event);
  /// Appends one environment fact and flushes.
  bool add_environment(const EnvironmentEntry &entry);
  /// Rewrites the current segment's end, state, exit status and row count, and flushes.
  bool end_segment(double end, std::uint8_t state, std::int32_t exit_status);
  /// Appends a closed, historical segment and its rows in one call (flopledger merge, format
  /// upgrades): `segment` keeps its recorded start, end, state (running included: "not cleanly
  /// closed") and exit status; `segment.id` must be next_segment_id() and no segment may be open.
  /// Each row is checked and written as append() does (numbered from next_row(), naming
  /// segment.id). On failure the rows before the failing one stay written.
  bool copy_segment(const Segment &segment, const std::vector<StepRow> &rows);
  /// Marks how the job of the ledger's last segment ended, after that job died (the SLURM
  /// epilog: `flopledger stamp`). The last segment must belong to `job_id` and be still marked
  /// running (`state` 4 cancelled, 5 timeout or 6 killed) or terminated by SIGTERM (4 or 5 only:
  /// the scheduler's job state says why); its row is rewritten and re-hashed as end_segment()
  /// does, chained from the segment before it. Returns true when stamped; false with error()
  /// saying why not (nothing written). `already` is set when the segment needed no stamp.
  bool stamp_last_segment(const std::string &job_id, double end, std::uint8_t state,
                          std::int32_t exit_status, bool &already);
  /// The chain head as written at the last flush (64 hex digits).
  std::string chain_head() const;
  /// Closes the file (also done by the destructor).
  bool close();

  const std::string &error() const;

private:
  TraceWriter();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Everything in a trace, as read.
struct TraceContents {
  TraceHeader header;
  std::vector<Segment> segments;
  std::vector<StepRow> rows;
  std::vector<Event> events;
  std::vector<EnvironmentEntry> environment; ///< empty in format 1.0 files
  /// Environment rows with an empty key, left out of `environment`: a writer never writes one,
  /// so each is damaged (zeroed) or was allocated and never written (a crash). `verify` tells
  /// which; the report says they exist.
  std::uint64_t empty_environment_rows = 0;
};

/// Reads a whole trace. `live`: the file may be open for writing by a running job (file locking
/// is disabled for this open and a read that fails half-way is retried a few times).
/// Returns false with `error` naming the path and the problem: missing file, not HDF5, not a
/// flopledger trace, newer major format ("written by a newer flopledger: format 2.0, this reader
/// reads 1.x"), missing dataset or field.
bool read_trace(const std::string &path, bool live, TraceContents &out, std::string &error);

} // namespace flopledger::io
