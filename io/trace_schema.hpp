// The on-disk schema of a trace (docs/trace-format.md): the row records, their HDF5 compound
// types, the conversions to and from the public structs of io/trace.hpp, and the checks that
// open an existing trace (those are defined in io/trace_reader.cpp).
#pragma once

#include <hdf5.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "io/hdf5_util.hpp"
#include "io/trace.hpp"

namespace flopledger::io::detail {

// ---------------------------------------------------------------------------------------------
// Row records: the in-memory layout of one row of each dataset. The file types are the same
// compounds, packed; HDF5 converts between them by field name.

constexpr std::size_t kDecimalLen = FLOPLEDGER_DECIMAL_LEN;

struct StepRecord {
  std::uint64_t row;
  std::uint32_t segment;
  std::uint64_t step_first, step_last;
  double t_start, t_end;
  std::uint64_t tokens, tokens_hi;
  std::uint64_t flops_by_precision[kPrecisions], flops_by_precision_hi[kPrecisions];
  std::uint64_t flops_by_phase[kPhases], flops_by_phase_hi[kPhases];
  std::uint64_t flops_by_source[kSources], flops_by_source_hi[kSources];
  std::uint64_t calls_by_source[kSources];
  std::uint64_t rank_flops_min, rank_flops_max, rank_tokens_min, rank_tokens_max;
  std::uint32_t ranks, ranks_active;
  char period_flops[kDecimalLen];
  char cumulative_counted[kDecimalLen];
  char cumulative_modification[kDecimalLen];
  std::uint8_t status;
  double fraction_of_threshold;
  // Format 1.1
  std::uint64_t replica_tokens, replica_tokens_hi, attention_sq, attention_sq_hi;
  std::uint8_t analytic_available;
  std::uint64_t analytic_flops, analytic_flops_hi, aws_flops, aws_flops_hi, hf_flops, hf_flops_hi;
  char cumulative_analytic[kDecimalLen], cumulative_aws[kDecimalLen], cumulative_hf[kDecimalLen];
  std::uint8_t hardware_available;
  std::uint64_t hardware_flops, hardware_flops_hi;
  char cumulative_hardware[kDecimalLen];
  std::uint8_t verdict_method;
  char verdict_flops[kDecimalLen];
  char threshold_flops[kDecimalLen];
  std::uint8_t forecast_available;
  char forecast_flops[kDecimalLen];
  // Format 1.2
  char hash[FLOPLEDGER_HASH_LEN];
  // Format 1.3: GPU figures (docs/gpu.md), sums over ranks
  std::uint32_t nvml_ranks, cupti_ranks, bound_ranks;
  std::uint64_t energy_mj;
  std::uint64_t kernel_counted_ns, kernel_attention_ns, kernel_nccl_ns, kernel_unattributed_ns;
  std::uint8_t upper_bound_available;
  std::uint64_t upper_bound_flops, upper_bound_flops_hi;
};

struct SegmentRecord {
  std::uint32_t id;
  char job_id[FLOPLEDGER_JOB_ID_LEN];
  char launcher[FLOPLEDGER_LAUNCHER_LEN];
  char hosts[FLOPLEDGER_HOSTS_LEN];
  std::uint32_t world_size;
  double start, end;
  std::uint8_t state;
  std::int32_t exit_status;
  std::uint64_t first_row, rows;
  char hash[FLOPLEDGER_HASH_LEN]; ///< format 1.2
};

struct EventRecord {
  std::uint64_t row;
  double time;
  char kind[FLOPLEDGER_EVENT_KIND_LEN];
  char detail[FLOPLEDGER_EVENT_DETAIL_LEN];
  // Format 1.1
  std::uint64_t step;
  char flops[kDecimalLen];
  // Format 1.2
  char hash[FLOPLEDGER_HASH_LEN];
};

struct EnvironmentRecord {
  std::uint32_t segment;
  char key[FLOPLEDGER_ENV_KEY_LEN];
  char value[FLOPLEDGER_ENV_VALUE_LEN];
  char hash[FLOPLEDGER_HASH_LEN]; ///< format 1.2
};

Hid step_memory_type();
Hid segment_memory_type();
Hid event_memory_type();
Hid environment_memory_type();

/// The format minor that added `field` to `dataset` (0: there from the start). An older file
/// lacks the field and reads back with it zero.
std::uint32_t added_in_minor(std::string_view dataset, std::string_view field);

/// The three memory types, built once per writer or read.
struct RowTypes {
  Hid step = step_memory_type();
  Hid segment = segment_memory_type();
  Hid event = event_memory_type();
  Hid environment = environment_memory_type();
  bool valid() const {
    return step.valid() && segment.valid() && event.valid() && environment.valid();
  }
};

template <std::size_t N> std::string join_names(const std::array<std::string_view, N> &names) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i) {
    if (i > 0) out += ',';
    out += names[i];
  }
  return out;
}

std::string original_flops_text(const OriginalModel &original);

// ---------------------------------------------------------------------------------------------
// Rows <-> records

/// Fills `record` from `row`; false with `error` when the row is not self-consistent.
/// `period_total` receives the period's FLOPs.
bool to_record(const StepRow &row, StepRecord &record, u128 &period_total, std::string &error);
bool from_record(const StepRecord &record, std::uint64_t index, StepRow &row, std::string &error);
bool from_record(const SegmentRecord &record, std::uint64_t index, Segment &segment,
                 std::string &error);
bool from_record(const EventRecord &record, std::uint64_t index, Event &event, std::string &error);
SegmentRecord to_record(const Segment &segment);
EventRecord to_record(const Event &event);
EnvironmentEntry from_record(const EnvironmentRecord &record);
EnvironmentRecord to_record(const EnvironmentEntry &entry);

// ---------------------------------------------------------------------------------------------
// Opening and validating (io/trace_reader.cpp): the writer checks a ledger it appends to with
// the same code.

/// Outcome of reading a file: whether trying again could help (a live file being written).
enum class ReadFailure { None, Retryable, Final };

/// The path names something that could be a trace: it exists, is not a directory and can be
/// read; false with `error` naming the problem otherwise.
bool check_trace_path(const std::string &path, std::string &error);

std::string format_version_text(std::uint64_t major, std::uint64_t minor);

/// Reads and checks the root attributes. A file of a newer major is a Final failure.
ReadFailure read_header(hid_t file, const std::string &path, TraceHeader &header,
                        std::string &error);

/// The datasets of an open trace, with their row counts and the memory types to read them with:
/// for a 1.0 file these lack the 1.1 fields (which then stay zero in the records).
struct OpenDatasets {
  Hid steps, segments, events, environment; ///< environment: invalid in a 1.0 file
  hsize_t step_rows = 0, segment_rows = 0, event_rows = 0, environment_rows = 0;
  /// The fields of the memory types that the file has.
  Hid step_type, segment_type, event_type, environment_type;
};

/// Opens every dataset of a trace of format 1.`minor`.
ReadFailure open_datasets(hid_t file, const std::string &path, std::uint32_t minor,
                          const RowTypes &types, OpenDatasets &d, std::string &error);

/// Whether a step row was allocated but never written: the dataset was extended for it, but its
/// data never reached the disk (the disk filled, or the job died in between). HDF5 reads such a
/// row as zeros; a written row always carries its decimal totals.
bool step_record_unwritten(const StepRecord &record);

/// The detail of the "unwritten_rows" event that stands for `count` such rows left out.
std::string unwritten_rows_detail(std::uint64_t count);

} // namespace flopledger::io::detail
