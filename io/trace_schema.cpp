#include "io/trace_schema.hpp"

#include <algorithm>
#include <iterator>

namespace flopledger::io::detail {

// ---------------------------------------------------------------------------------------------
// Compound datatypes

namespace {

/// Builds a compound type member by member; valid() is false if any step failed.
class Compound {
public:
  explicit Compound(std::size_t size) : type_(H5Tcreate(H5T_COMPOUND, size), H5Tclose) {}

  void add(const char *name, std::size_t offset, hid_t member) {
    if (member < 0 || !type_.valid() || H5Tinsert(type_.get(), name, offset, member) < 0)
      ok_ = false;
  }
  void add_string(const char *name, std::size_t offset, std::size_t size) {
    Hid member = string_type(size);
    add(name, offset, member.get());
  }
  void add_u64_array(const char *name, std::size_t offset, std::size_t count) {
    const hsize_t dims[1] = {count};
    Hid member(H5Tarray_create2(H5T_NATIVE_UINT64, 1, dims), H5Tclose);
    add(name, offset, member.get());
  }
  Hid take() {
    if (!ok_) type_.reset();
    return std::move(type_);
  }

private:
  Hid type_;
  bool ok_ = true;
};

} // namespace

// The member names are the struct's field names, so the schema is written once.
#define FL_FIELD(c, rec, name, type) c.add(#name, HOFFSET(rec, name), type)
#define FL_STRING(c, rec, name) c.add_string(#name, HOFFSET(rec, name), sizeof(rec::name))
#define FL_ARRAY(c, rec, name, n) c.add_u64_array(#name, HOFFSET(rec, name), n)

Hid step_memory_type() {
  Compound c(sizeof(StepRecord));
  FL_FIELD(c, StepRecord, row, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, segment, H5T_NATIVE_UINT32);
  FL_FIELD(c, StepRecord, step_first, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, step_last, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, t_start, H5T_NATIVE_DOUBLE);
  FL_FIELD(c, StepRecord, t_end, H5T_NATIVE_DOUBLE);
  FL_FIELD(c, StepRecord, tokens, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, tokens_hi, H5T_NATIVE_UINT64);
  FL_ARRAY(c, StepRecord, flops_by_precision, kPrecisions);
  FL_ARRAY(c, StepRecord, flops_by_precision_hi, kPrecisions);
  FL_ARRAY(c, StepRecord, flops_by_phase, kPhases);
  FL_ARRAY(c, StepRecord, flops_by_phase_hi, kPhases);
  FL_ARRAY(c, StepRecord, flops_by_source, kSources);
  FL_ARRAY(c, StepRecord, flops_by_source_hi, kSources);
  FL_ARRAY(c, StepRecord, calls_by_source, kSources);
  FL_FIELD(c, StepRecord, rank_flops_min, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, rank_flops_max, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, rank_tokens_min, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, rank_tokens_max, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, ranks, H5T_NATIVE_UINT32);
  FL_FIELD(c, StepRecord, ranks_active, H5T_NATIVE_UINT32);
  FL_STRING(c, StepRecord, period_flops);
  FL_STRING(c, StepRecord, cumulative_counted);
  FL_STRING(c, StepRecord, cumulative_modification);
  FL_FIELD(c, StepRecord, status, H5T_NATIVE_UINT8);
  FL_FIELD(c, StepRecord, fraction_of_threshold, H5T_NATIVE_DOUBLE);
  FL_FIELD(c, StepRecord, replica_tokens, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, replica_tokens_hi, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, attention_sq, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, attention_sq_hi, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, analytic_available, H5T_NATIVE_UINT8);
  FL_FIELD(c, StepRecord, analytic_flops, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, analytic_flops_hi, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, aws_flops, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, aws_flops_hi, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, hf_flops, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, hf_flops_hi, H5T_NATIVE_UINT64);
  FL_STRING(c, StepRecord, cumulative_analytic);
  FL_STRING(c, StepRecord, cumulative_aws);
  FL_STRING(c, StepRecord, cumulative_hf);
  FL_FIELD(c, StepRecord, hardware_available, H5T_NATIVE_UINT8);
  FL_FIELD(c, StepRecord, hardware_flops, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, hardware_flops_hi, H5T_NATIVE_UINT64);
  FL_STRING(c, StepRecord, cumulative_hardware);
  FL_FIELD(c, StepRecord, verdict_method, H5T_NATIVE_UINT8);
  FL_STRING(c, StepRecord, verdict_flops);
  FL_STRING(c, StepRecord, threshold_flops);
  FL_FIELD(c, StepRecord, forecast_available, H5T_NATIVE_UINT8);
  FL_STRING(c, StepRecord, forecast_flops);
  FL_STRING(c, StepRecord, hash);
  FL_FIELD(c, StepRecord, nvml_ranks, H5T_NATIVE_UINT32);
  FL_FIELD(c, StepRecord, cupti_ranks, H5T_NATIVE_UINT32);
  FL_FIELD(c, StepRecord, bound_ranks, H5T_NATIVE_UINT32);
  FL_FIELD(c, StepRecord, energy_mj, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, kernel_counted_ns, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, kernel_attention_ns, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, kernel_nccl_ns, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, kernel_unattributed_ns, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, upper_bound_available, H5T_NATIVE_UINT8);
  FL_FIELD(c, StepRecord, upper_bound_flops, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, upper_bound_flops_hi, H5T_NATIVE_UINT64);
  return c.take();
}

Hid segment_memory_type() {
  Compound c(sizeof(SegmentRecord));
  FL_FIELD(c, SegmentRecord, id, H5T_NATIVE_UINT32);
  FL_STRING(c, SegmentRecord, job_id);
  FL_STRING(c, SegmentRecord, launcher);
  FL_STRING(c, SegmentRecord, hosts);
  FL_FIELD(c, SegmentRecord, world_size, H5T_NATIVE_UINT32);
  FL_FIELD(c, SegmentRecord, start, H5T_NATIVE_DOUBLE);
  FL_FIELD(c, SegmentRecord, end, H5T_NATIVE_DOUBLE);
  FL_FIELD(c, SegmentRecord, state, H5T_NATIVE_UINT8);
  FL_FIELD(c, SegmentRecord, exit_status, H5T_NATIVE_INT32);
  FL_FIELD(c, SegmentRecord, first_row, H5T_NATIVE_UINT64);
  FL_FIELD(c, SegmentRecord, rows, H5T_NATIVE_UINT64);
  FL_STRING(c, SegmentRecord, hash);
  return c.take();
}

Hid event_memory_type() {
  Compound c(sizeof(EventRecord));
  FL_FIELD(c, EventRecord, row, H5T_NATIVE_UINT64);
  FL_FIELD(c, EventRecord, time, H5T_NATIVE_DOUBLE);
  FL_STRING(c, EventRecord, kind);
  FL_STRING(c, EventRecord, detail);
  FL_FIELD(c, EventRecord, step, H5T_NATIVE_UINT64);
  FL_STRING(c, EventRecord, flops);
  FL_STRING(c, EventRecord, hash);
  return c.take();
}

Hid environment_memory_type() {
  Compound c(sizeof(EnvironmentRecord));
  FL_FIELD(c, EnvironmentRecord, segment, H5T_NATIVE_UINT32);
  FL_STRING(c, EnvironmentRecord, key);
  FL_STRING(c, EnvironmentRecord, value);
  FL_STRING(c, EnvironmentRecord, hash);
  return c.take();
}

std::uint32_t added_in_minor(std::string_view dataset, std::string_view field) {
  if (field == "hash") return 2;
  if (dataset == FLOPLEDGER_DSET_EVENTS) return field == "step" || field == "flops" ? 1 : 0;
  if (dataset != FLOPLEDGER_DSET_STEPS) return 0;
  static constexpr std::string_view fields_1_3[] = {"nvml_ranks",
                                                    "cupti_ranks",
                                                    "bound_ranks",
                                                    "energy_mj",
                                                    "kernel_counted_ns",
                                                    "kernel_attention_ns",
                                                    "kernel_nccl_ns",
                                                    "kernel_unattributed_ns",
                                                    "upper_bound_available",
                                                    "upper_bound_flops",
                                                    "upper_bound_flops_hi"};
  for (std::string_view f : fields_1_3)
    if (f == field) return 3;
  static constexpr std::string_view fields[] = {
      "replica_tokens",     "replica_tokens_hi",  "attention_sq",
      "attention_sq_hi",    "analytic_available", "analytic_flops",
      "analytic_flops_hi",  "aws_flops",          "aws_flops_hi",
      "hf_flops",           "hf_flops_hi",        "cumulative_analytic",
      "cumulative_aws",     "cumulative_hf",      "hardware_available",
      "hardware_flops",     "hardware_flops_hi",  "cumulative_hardware",
      "verdict_method",     "verdict_flops",      "threshold_flops",
      "forecast_available", "forecast_flops"};
  for (std::string_view f : fields)
    if (f == field) return 1;
  return 0;
}

#undef FL_FIELD
#undef FL_STRING
#undef FL_ARRAY

std::string original_flops_text(const OriginalModel &original) {
  return original.compute_known ? to_decimal(original.training_flops) : "unknown";
}

// ---------------------------------------------------------------------------------------------
// Rows <-> records

namespace {

std::uint64_t clamp_u64(u128 value) {
  return value > UINT64_MAX ? UINT64_MAX : static_cast<std::uint64_t>(value);
}

template <std::size_t N>
void put_words(const u128 (&values)[N], std::uint64_t (&lo)[N], std::uint64_t (&hi)[N]) {
  for (std::size_t i = 0; i < N; ++i) {
    lo[i] = lo_word(values[i]);
    hi[i] = hi_word(values[i]);
  }
}

template <std::size_t N>
void get_words(const std::uint64_t (&lo)[N], const std::uint64_t (&hi)[N], u128 (&values)[N]) {
  for (std::size_t i = 0; i < N; ++i)
    values[i] = from_words(lo[i], hi[i]);
}

template <std::size_t N> bool checked_sum(const u128 (&values)[N], u128 &sum) {
  sum = 0;
  for (const u128 v : values)
    if (!checked_add(sum, v, sum)) return false;
  return true;
}

bool period_has_flops(const JobPeriod &period) {
  for (const auto &by_precision : period.flops)
    for (const auto &by_phase : by_precision)
      for (const u128 v : by_phase)
        if (v != 0) return true;
  return false;
}

/// The row's projections: computed from period.flops when it holds counts, else as given.
void projections(const StepRow &row, u128 (&precision)[kPrecisions], u128 (&phase)[kPhases],
                 u128 (&source)[kSources]) {
  if (!period_has_flops(row.period)) {
    std::copy(std::begin(row.by_precision), std::end(row.by_precision), precision);
    std::copy(std::begin(row.by_phase), std::end(row.by_phase), phase);
    std::copy(std::begin(row.by_source), std::end(row.by_source), source);
    return;
  }
  for (std::size_t i = 0; i < kPrecisions; ++i)
    precision[i] = row.period.flops_by_precision(i);
  for (std::size_t i = 0; i < kPhases; ++i)
    phase[i] = row.period.flops_by_phase(i);
  for (std::size_t i = 0; i < kSources; ++i)
    source[i] = row.period.flops_by_source(i);
}

} // namespace

bool to_record(const StepRow &row, StepRecord &record, u128 &period_total, std::string &error) {
  record = StepRecord{};
  u128 precision[kPrecisions], phase[kPhases], source[kSources];
  projections(row, precision, phase, source);
  u128 by_phase_total = 0, by_source_total = 0;
  if (!checked_sum(precision, period_total) || !checked_sum(phase, by_phase_total) ||
      !checked_sum(source, by_source_total)) {
    error = "step row " + std::to_string(row.row) + ": period FLOPs overflow 128 bits";
    return false;
  }
  if (by_phase_total != period_total || by_source_total != period_total) {
    error = "step row " + std::to_string(row.row) + ": FLOPs by precision (" +
            to_decimal(period_total) + "), by phase (" + to_decimal(by_phase_total) +
            ") and by source (" + to_decimal(by_source_total) + ") do not add up to one total";
    return false;
  }
  for (std::size_t i = 0; i < kSources; ++i) {
    if (hi_word(row.period.calls[i]) != 0) {
      error = "step row " + std::to_string(row.row) + ": calls of source " +
              std::string(kSourceNames[i]) + " (" + to_decimal(row.period.calls[i]) +
              ") do not fit the 64-bit column";
      return false;
    }
    record.calls_by_source[i] = lo_word(row.period.calls[i]);
  }
  record.row = row.row;
  record.segment = row.segment;
  record.step_first = row.period.step_first;
  record.step_last = row.period.step_last;
  record.t_start = row.t_start;
  record.t_end = row.t_end;
  record.tokens = lo_word(row.period.tokens);
  record.tokens_hi = hi_word(row.period.tokens);
  put_words(precision, record.flops_by_precision, record.flops_by_precision_hi);
  put_words(phase, record.flops_by_phase, record.flops_by_phase_hi);
  put_words(source, record.flops_by_source, record.flops_by_source_hi);
  record.rank_flops_min = row.period.rank_flops_min;
  record.rank_flops_max = row.period.rank_flops_max;
  record.rank_tokens_min = row.period.rank_tokens_min;
  record.rank_tokens_max = row.period.rank_tokens_max;
  record.ranks = row.period.ranks;
  record.ranks_active = row.period.ranks_active;
  put(record.period_flops, to_decimal(period_total));
  put(record.cumulative_counted, to_decimal(row.cumulative_counted));
  put(record.cumulative_modification, to_decimal(row.cumulative_modification));
  record.status = static_cast<std::uint8_t>(row.status);
  record.fraction_of_threshold = row.fraction_of_threshold;
  record.replica_tokens = lo_word(row.replica_tokens);
  record.replica_tokens_hi = hi_word(row.replica_tokens);
  record.attention_sq = lo_word(row.attention_sq);
  record.attention_sq_hi = hi_word(row.attention_sq);
  record.analytic_available = row.analytic_available ? 1 : 0;
  record.analytic_flops = lo_word(row.analytic_flops);
  record.analytic_flops_hi = hi_word(row.analytic_flops);
  record.aws_flops = lo_word(row.aws_flops);
  record.aws_flops_hi = hi_word(row.aws_flops);
  record.hf_flops = lo_word(row.hf_flops);
  record.hf_flops_hi = hi_word(row.hf_flops);
  put(record.cumulative_analytic, to_decimal(row.cumulative_analytic));
  put(record.cumulative_aws, to_decimal(row.cumulative_aws));
  put(record.cumulative_hf, to_decimal(row.cumulative_hf));
  record.hardware_available = row.hardware_available ? 1 : 0;
  record.hardware_flops = lo_word(row.hardware_flops);
  record.hardware_flops_hi = hi_word(row.hardware_flops);
  put(record.cumulative_hardware, to_decimal(row.cumulative_hardware));
  record.verdict_method = static_cast<std::uint8_t>(row.verdict_method);
  put(record.verdict_flops, to_decimal(row.verdict_flops));
  put(record.threshold_flops, to_decimal(row.threshold_flops));
  record.forecast_available = row.forecast_available ? 1 : 0;
  put(record.forecast_flops, to_decimal(row.forecast_flops));
  const JobGpu &gpu = row.period.gpu;
  record.nvml_ranks = gpu.nvml_ranks;
  record.cupti_ranks = gpu.cupti_ranks;
  record.bound_ranks = gpu.bound_ranks;
  record.energy_mj = clamp_u64(gpu.energy_mj);
  record.kernel_counted_ns = clamp_u64(gpu.counted_ns);
  record.kernel_attention_ns = clamp_u64(gpu.attention_ns);
  record.kernel_nccl_ns = clamp_u64(gpu.nccl_ns);
  record.kernel_unattributed_ns = clamp_u64(gpu.unattributed_ns);
  record.upper_bound_available = row.upper_bound_available ? 1 : 0;
  record.upper_bound_flops = lo_word(row.upper_bound_flops);
  record.upper_bound_flops_hi = hi_word(row.upper_bound_flops);
  return true;
}

namespace {

/// Parses an exact-decimal string field of row `index`.
bool parse_decimal_field(const char *field_name, std::string_view text, std::uint64_t index,
                         u128 &value, std::string &error) {
  const ParsedFlops parsed = parse_flops(text);
  if (!parsed.ok) {
    error = "steps row " + std::to_string(index) + ": field '" + field_name + "' is '" +
            std::string(text) + "': " + parsed.error;
    return false;
  }
  value = parsed.value;
  return true;
}

} // namespace

bool from_record(const StepRecord &record, std::uint64_t index, StepRow &row, std::string &error) {
  row = StepRow{};
  row.row = record.row;
  row.segment = record.segment;
  row.t_start = record.t_start;
  row.t_end = record.t_end;
  JobPeriod &p = row.period;
  p.step_first = record.step_first;
  p.step_last = record.step_last;
  p.tokens = from_words(record.tokens, record.tokens_hi);
  for (std::size_t i = 0; i < kSources; ++i)
    p.calls[i] = record.calls_by_source[i];
  p.rank_flops_min = record.rank_flops_min;
  p.rank_flops_max = record.rank_flops_max;
  p.rank_tokens_min = record.rank_tokens_min;
  p.rank_tokens_max = record.rank_tokens_max;
  p.ranks = record.ranks;
  p.ranks_active = record.ranks_active;
  get_words(record.flops_by_precision, record.flops_by_precision_hi, row.by_precision);
  get_words(record.flops_by_phase, record.flops_by_phase_hi, row.by_phase);
  get_words(record.flops_by_source, record.flops_by_source_hi, row.by_source);
  if (!parse_decimal_field("cumulative_counted", get(record.cumulative_counted), index,
                           row.cumulative_counted, error) ||
      !parse_decimal_field("cumulative_modification", get(record.cumulative_modification), index,
                           row.cumulative_modification, error))
    return false;
  if (record.status > FLOPLEDGER_STATUS_PROVIDER_SYSTEMIC_RISK) {
    error = "steps row " + std::to_string(index) + ": status code " +
            std::to_string(record.status) + " is not 0, 1 or 2";
    return false;
  }
  row.status = static_cast<Status>(record.status);
  row.fraction_of_threshold = record.fraction_of_threshold;

  // Format 1.1 fields; in a 1.0 file the strings are empty and everything reads as zero.
  row.replica_tokens = from_words(record.replica_tokens, record.replica_tokens_hi);
  row.attention_sq = from_words(record.attention_sq, record.attention_sq_hi);
  row.analytic_available = record.analytic_available != 0;
  row.analytic_flops = from_words(record.analytic_flops, record.analytic_flops_hi);
  row.aws_flops = from_words(record.aws_flops, record.aws_flops_hi);
  row.hf_flops = from_words(record.hf_flops, record.hf_flops_hi);
  row.hardware_available = record.hardware_available != 0;
  row.hardware_flops = from_words(record.hardware_flops, record.hardware_flops_hi);
  row.forecast_available = record.forecast_available != 0;
  // Format 1.3 fields; older files read them as zero (no GPU figures).
  JobGpu &gpu = row.period.gpu;
  gpu.nvml_ranks = record.nvml_ranks;
  gpu.cupti_ranks = record.cupti_ranks;
  gpu.bound_ranks = record.bound_ranks;
  gpu.energy_mj = record.energy_mj;
  gpu.counted_ns = record.kernel_counted_ns;
  gpu.attention_ns = record.kernel_attention_ns;
  gpu.nccl_ns = record.kernel_nccl_ns;
  gpu.unattributed_ns = record.kernel_unattributed_ns;
  row.upper_bound_available = record.upper_bound_available != 0;
  row.upper_bound_flops = from_words(record.upper_bound_flops, record.upper_bound_flops_hi);
  if (record.verdict_method > FLOPLEDGER_METHOD_HARDWARE) {
    error = "steps row " + std::to_string(index) + ": verdict_method " +
            std::to_string(record.verdict_method) + " is not 0, 1 or 2";
    return false;
  }
  row.verdict_method = static_cast<Method>(record.verdict_method);
  struct Optional {
    const char *name;
    std::string text;
    u128 *target;
  };
  const Optional optional[] = {
      {"cumulative_analytic", get(record.cumulative_analytic), &row.cumulative_analytic},
      {"cumulative_aws", get(record.cumulative_aws), &row.cumulative_aws},
      {"cumulative_hf", get(record.cumulative_hf), &row.cumulative_hf},
      {"cumulative_hardware", get(record.cumulative_hardware), &row.cumulative_hardware},
      {"verdict_flops", get(record.verdict_flops), &row.verdict_flops},
      {"threshold_flops", get(record.threshold_flops), &row.threshold_flops},
      {"forecast_flops", get(record.forecast_flops), &row.forecast_flops}};
  for (const Optional &field : optional)
    if (!field.text.empty() &&
        !parse_decimal_field(field.name, field.text, index, *field.target, error))
      return false;
  // A 1.0 row: the verdict was decided on the counted figure.
  if (get(record.verdict_flops).empty()) row.verdict_flops = row.cumulative_modification;
  return true;
}

bool from_record(const SegmentRecord &record, std::uint64_t index, Segment &segment,
                 std::string &error) {
  if (record.state > FLOPLEDGER_SEGMENT_LAST_STATE) {
    error = "segments row " + std::to_string(index) + ": state " + std::to_string(record.state) +
            " is not 0 (running), 1 (clean), 2 (error), 3 (terminated), 4 (cancelled), "
            "5 (timeout) or 6 (killed)";
    return false;
  }
  segment.id = record.id;
  segment.job_id = get(record.job_id);
  segment.launcher = get(record.launcher);
  segment.hosts = get(record.hosts);
  segment.world_size = record.world_size;
  segment.start = record.start;
  segment.end = record.end;
  segment.state = record.state;
  segment.exit_status = record.exit_status;
  segment.first_row = record.first_row;
  segment.rows = record.rows;
  return true;
}

bool from_record(const EventRecord &record, std::uint64_t index, Event &event, std::string &error) {
  event = Event{record.row, record.time, get(record.kind), get(record.detail), record.step, 0};
  const std::string flops = get(record.flops);
  if (flops.empty()) return true;
  const ParsedFlops parsed = parse_flops(flops);
  if (!parsed.ok) {
    error = "events row " + std::to_string(index) + ": field 'flops' is '" + flops +
            "': " + parsed.error;
    return false;
  }
  event.flops = parsed.value;
  return true;
}

EnvironmentEntry from_record(const EnvironmentRecord &record) {
  return EnvironmentEntry{record.segment, get(record.key), get(record.value)};
}

EnvironmentRecord to_record(const EnvironmentEntry &entry) {
  EnvironmentRecord record{};
  record.segment = entry.segment;
  put(record.key, entry.key);
  put(record.value, entry.value);
  return record;
}

SegmentRecord to_record(const Segment &segment) {
  SegmentRecord record{};
  record.id = segment.id;
  put(record.job_id, segment.job_id);
  put(record.launcher, segment.launcher);
  put(record.hosts, segment.hosts);
  record.world_size = segment.world_size;
  record.start = segment.start;
  record.end = segment.end;
  record.state = segment.state;
  record.exit_status = segment.exit_status;
  record.first_row = segment.first_row;
  record.rows = segment.rows;
  return record;
}

EventRecord to_record(const Event &event) {
  EventRecord record{};
  record.row = event.row;
  record.time = event.time;
  put(record.kind, event.kind);
  put(record.detail, event.detail);
  record.step = event.step;
  put(record.flops, to_decimal(event.flops));
  return record;
}

} // namespace flopledger::io::detail
