// What the audit report (HTML, Markdown) and the exports (JSON, CSV) show beyond io/report: the
// methods side by side, the bracket between them and the 30% tolerance, and per-row figures for
// the charts. Computed once here so that every view shows the same numbers; the verdict itself
// still comes from the accounting/ evaluator.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "io/report.hpp"
#include "io/trace.hpp"

namespace flopledger::io {

/// One estimate of the ledger's modification compute.
struct MethodFigure {
  std::string_view id;    ///< "counted", "analytic", "aws", "hf", "hardware"
  std::string_view title; ///< e.g. "AWS formula (4 N_total + 2 N_trainable) x tokens"
  bool available = false;
  u128 flops = 0;      ///< summed over the rows (exact); 0 when not available
  std::string why_not; ///< why it is not applicable (empty when available)
  bool used_by_verdict = false;
};

/// The audit view of a trace.
struct Audit {
  Report report;                     ///< totals and the counted verdict (io/report)
  std::vector<MethodFigure> methods; ///< counted, analytic, aws, hf, hardware, in that order
  Method verdict_method = Method::Counted;
  u128 verdict_flops = 0;                 ///< the figure of verdict_method (exact)
  Verdict verdict;                        ///< evaluate(verdict_flops, original, rules)
  u128 bracket_low = 0, bracket_high = 0; ///< over the available methods
  bool within_tolerance = true; ///< every available f: 100 |f - verdict_flops| <= 30 verdict_flops
  bool forecast_available = false; ///< the last row carries a forecast
  u128 forecast_flops = 0;
};

/// Builds the audit view; false with `error` when make_report fails (unknown rule set, overflow).
bool make_audit(const TraceContents &trace, Audit &out, std::string &error);

/// True when 100 * |figure - reference| <= 30 * reference, exactly (no floating point).
bool within_30_percent(u128 figure, u128 reference);

/// Steps a row covers: step_last minus the previous row's step_last (0 before the first row),
/// at least 1.
std::uint64_t row_steps(const TraceContents &trace, std::size_t index);

/// The row's counted period FLOPs (every phase), from its by-precision projection.
u128 row_period_flops(const StepRow &row);

/// The row's cumulative figure of `method` (counted: cumulative_modification).
u128 row_cumulative(const StepRow &row, Method method);

/// "clean", "error", how a job stopped from outside ended, or "not cleanly closed".
std::string_view segment_state_text(std::uint8_t state);

/// Reads an unsigned integer member `key` of the flat JSON object `json` (the declared model,
/// e.g. "params_total"); false when absent or not a plain decimal integer below 2^64.
bool json_uint_member(std::string_view json, std::string_view key, std::uint64_t &out);

/// The value of the first environment entry called `key` of the last segment that has one, or
/// nullptr.
const std::string *environment_value(const TraceContents &trace, std::string_view key);

} // namespace flopledger::io
