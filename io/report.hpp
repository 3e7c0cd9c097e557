// The summary of a trace for people (text) and programs (JSON), computed with the same
// accounting/ evaluator that rank 0 uses live.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/json.hpp"
#include "io/trace.hpp"

namespace flopledger::io {

struct Report {
  const TraceContents *trace = nullptr;
  u128 counted_flops = 0;      ///< sum over rows, every phase (recomputed from the rows)
  u128 modification_flops = 0; ///< sum over rows of the phases the rule set counts
  u128 by_precision[kPrecisions] = {};
  u128 by_phase[kPhases] = {};
  u128 by_source[kSources] = {};
  u128 tokens = 0;
  std::uint64_t steps = 0;         ///< highest step_last over rows
  std::uint32_t ranks = 0;         ///< largest world size over segments
  bool analytic_available = false; ///< some row carries the analytic figures (a model declared)
  u128 analytic_flops = 0, aws_flops = 0, hf_flops = 0; ///< sums over rows
  bool hardware_available = false;
  u128 hardware_flops = 0;
  Method verdict_method = Method::Counted; ///< the rule set's choice among the ledger's methods
  u128 verdict_flops = 0;                  ///< the figure the verdict was decided on
  Verdict verdict;
  std::shared_ptr<const RuleSet> rules; ///< the ledger's rule set (null if unknown)
  bool totals_match_rows = true; ///< the stored cumulative of the last row equals the recomputed

  // GPU figures (format 1.3; docs/gpu.md), sums over rows.
  struct SegmentEnergy {
    std::uint32_t segment = 0;
    u128 energy_mj = 0;
    std::uint32_t nvml_ranks = 0; ///< most ranks sampling in one of its rows
  };
  bool energy_available = false;                ///< some row has NVML energy (nvml_ranks > 0)
  u128 energy_mj = 0;                           ///< NVML energy of every sampled device, mJ
  std::vector<SegmentEnergy> energy_by_segment; ///< per job (segment), in segment order
  bool kernel_times_available = false;          ///< some row has CUPTI kernel times
  u128 kernel_counted_ns = 0, kernel_attention_ns = 0, kernel_nccl_ns = 0,
       kernel_unattributed_ns = 0;
  bool upper_bound_available = false; ///< every row with counted FLOPs has an upper bound
  u128 upper_bound_flops = 0;         ///< sum of the rows' upper bounds
};

/// "1234567 mJ (1.2e3 J, 0.00034 kWh)": an exact energy figure and readable units.
std::string energy_text(u128 millijoules);

/// Builds the report; false with `error` when the trace names an unknown rule set.
bool make_report(const TraceContents &trace, Report &out, std::string &error);

/// One JSON object. Keys at least: format_version ("1.0"), counted_flops,
/// counted_flops_by_precision, counted_flops_by_phase, counted_flops_by_source,
/// modification_flops, tokens, steps, ranks, segments (array), rule_set, rule, threshold_flops,
/// status, fraction_of_threshold, notify_commission, original_flops ("unknown" or decimal),
/// method ("counted"). Every FLOP figure is an exact decimal string.
std::string report_json(const Report &report);

/// "clean", "error", "terminated", "cancelled", "timeout", "killed", or "not_closed" (a segment
/// still marked running when read afterwards).
const char *segment_state_name(std::uint8_t state);
/// ISO 8601 UTC ("2025-07-18T08:00:00Z"), or "" for a time that is not positive.
std::string iso_utc(double unix_seconds);
/// The "segments" and "events" arrays of the JSON report (the JSON export uses them too).
void json_segments(JsonWriter &json, const TraceContents &trace);
void json_events(JsonWriter &json, const TraceContents &trace);

/// One host's counted FLOPs in a segment (the "flops_per_host" environment entries).
struct HostFlops {
  std::string host;
  u128 flops = 0;                  ///< every phase
  u128 flops_toward_threshold = 0; ///< the phases the ledger's rule set counts
};

/// The per-host subtotals of a segment, rank 0's host first. Empty, with `why_missing` phrased
/// for people, when the segment has none (the job did not end with every rank, or an older
/// writer).
std::vector<HostFlops> flops_per_host(const TraceContents &trace, const Segment &segment,
                                      std::string &why_missing);

/// A readable multi-line summary: verdict first, figures to two significant figures and exact.
std::string report_text(const Report &report);

} // namespace flopledger::io
