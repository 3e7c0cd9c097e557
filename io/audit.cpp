#include "io/audit.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

namespace flopledger::io {

namespace {

/// Sum over the rows of one per-row figure; false on 128-bit overflow.
template <typename Get> bool sum_rows(const TraceContents &trace, Get get, u128 &out) {
  out = 0;
  for (const StepRow &row : trace.rows)
    if (!checked_add(out, get(row), out)) return false;
  return true;
}

} // namespace

bool within_30_percent(u128 figure, u128 reference) {
  const u128 diff = figure > reference ? figure - reference : reference - figure;
  u128 lhs = 0, rhs = 0;
  if (!checked_mul(diff, 100, lhs)) return false;
  if (!checked_mul(reference, 30, rhs)) return true; // rhs >= 2^128 > lhs
  return lhs <= rhs;
}

std::uint64_t row_steps(const TraceContents &trace, std::size_t index) {
  const std::uint64_t previous = index == 0 ? 0 : trace.rows[index - 1].period.step_last;
  const std::uint64_t last = trace.rows[index].period.step_last;
  return last > previous ? last - previous : 1;
}

u128 row_period_flops(const StepRow &row) {
  u128 total = 0;
  for (std::size_t i = 0; i < kPrecisions; ++i)
    total += row.by_precision[i];
  return total;
}

u128 row_cumulative(const StepRow &row, Method method) {
  switch (method) {
  case Method::Analytic:
    return row.cumulative_analytic;
  case Method::Hardware:
    return row.cumulative_hardware;
  case Method::Counted:
    break;
  }
  return row.cumulative_modification;
}

std::string_view segment_state_text(std::uint8_t state) {
  switch (state) {
  case FLOPLEDGER_SEGMENT_CLEAN:
    return "clean";
  case FLOPLEDGER_SEGMENT_ERROR:
    return "error";
  case FLOPLEDGER_SEGMENT_TERMINATED:
    return "terminated by SIGTERM (cancelled, time limit or pre-empted)";
  case FLOPLEDGER_SEGMENT_CANCELLED:
    return "cancelled by the scheduler";
  case FLOPLEDGER_SEGMENT_TIMEOUT:
    return "killed at its time limit";
  case FLOPLEDGER_SEGMENT_KILLED:
    return "killed without closing (stamped afterwards)";
  default:
    return "not cleanly closed";
  }
}

bool json_uint_member(std::string_view json, std::string_view key, std::uint64_t &out) {
  const std::string quoted = "\"" + std::string(key) + "\"";
  std::size_t pos = json.find(quoted);
  if (pos == std::string_view::npos) return false;
  pos += quoted.size();
  while (pos < json.size() && std::isspace(static_cast<unsigned char>(json[pos])))
    ++pos;
  if (pos >= json.size() || json[pos] != ':') return false;
  ++pos;
  while (pos < json.size() && std::isspace(static_cast<unsigned char>(json[pos])))
    ++pos;
  const std::size_t start = pos;
  u128 value = 0;
  while (pos < json.size() && std::isdigit(static_cast<unsigned char>(json[pos]))) {
    value = value * 10 + static_cast<unsigned>(json[pos] - '0');
    if (value > UINT64_MAX) return false;
    ++pos;
  }
  if (pos == start) return false;
  if (pos < json.size() && (json[pos] == '.' || json[pos] == 'e' || json[pos] == 'E')) return false;
  out = static_cast<std::uint64_t>(value);
  return true;
}

const std::string *environment_value(const TraceContents &trace, std::string_view key) {
  const std::string *found = nullptr;
  std::uint32_t segment = 0;
  for (const EnvironmentEntry &e : trace.environment) {
    if (e.key != key) continue;
    if (found == nullptr || e.segment > segment) {
      found = &e.value;
      segment = e.segment;
    }
  }
  return found;
}

bool make_audit(const TraceContents &trace, Audit &out, std::string &error) {
  out = Audit{};
  if (!make_report(trace, out.report, error)) return false;
  const Report &report = out.report;

  bool analytic = false, hardware = false;
  for (const StepRow &row : trace.rows) {
    analytic = analytic || row.analytic_available;
    hardware = hardware || row.hardware_available;
  }
  u128 analytic_sum = 0, aws_sum = 0, hf_sum = 0, hardware_sum = 0;
  const bool sums_ok =
      sum_rows(
          trace, [](const StepRow &r) { return r.analytic_available ? r.analytic_flops : 0; },
          analytic_sum) &&
      sum_rows(
          trace, [](const StepRow &r) { return r.analytic_available ? r.aws_flops : 0; },
          aws_sum) &&
      sum_rows(
          trace, [](const StepRow &r) { return r.analytic_available ? r.hf_flops : 0; }, hf_sum) &&
      sum_rows(
          trace, [](const StepRow &r) { return r.hardware_available ? r.hardware_flops : 0; },
          hardware_sum);
  if (!sums_ok) {
    error = "the sum of the rows' method figures overflows 128 bits";
    return false;
  }
  const std::string no_model =
      "no model declared (FLOPLEDGER_MODEL or the C API), so there is no parameter count to "
      "multiply by the tokens";
  const std::string no_hardware = trace.rows.empty()
                                      ? "no steps recorded"
                                      : "no GPU with a known peak FLOP/s took part (CPU run), so "
                                        "there is no device time to bound";
  out.methods = {
      {"counted", "counted: hooked BLAS/cuBLAS calls and API-reported FLOPs, exact", true,
       report.modification_flops, "", false},
      {"analytic", "analytic: architecture-based (declared model x tokens)", analytic, analytic_sum,
       analytic ? "" : no_model, false},
      {"aws", "AWS formula: (4 N_total + 2 N_trainable) x tokens", analytic, aws_sum,
       analytic ? "" : no_model, false},
      {"hf", "HF 6N: 6 x parameters x tokens", analytic, hf_sum, analytic ? "" : no_model, false},
      {"hardware", "hardware: devices x seconds x peak FLOP/s x utilisation", hardware,
       hardware_sum, hardware ? "" : no_hardware, false},
  };
  if (trace.rows.empty())
    for (MethodFigure &m : out.methods)
      if (!m.available && m.why_not != no_hardware) m.why_not = "no steps recorded";

  // The rule set's policy over the ledger's figures (the one function rank 0 uses live).
  out.verdict_method = report.verdict_method;
  const std::string_view verdict_id = method_name(out.verdict_method);
  bool found = false;
  for (MethodFigure &m : out.methods)
    if (m.id == verdict_id && m.available) {
      m.used_by_verdict = found = true;
      out.verdict_flops = m.flops;
    }
  if (!found) { // a method the trace says it used but carries no figures for: fall back
    out.verdict_method = Method::Counted;
    out.methods[0].used_by_verdict = true;
    out.verdict_flops = report.modification_flops;
  }
  out.verdict = evaluate(out.verdict_flops, trace.header.original, *report.rules);

  bool first = true;
  for (const MethodFigure &m : out.methods) {
    if (!m.available) continue;
    out.bracket_low = first ? m.flops : std::min(out.bracket_low, m.flops);
    out.bracket_high = first ? m.flops : std::max(out.bracket_high, m.flops);
    first = false;
    if (!within_30_percent(m.flops, out.verdict_flops)) out.within_tolerance = false;
  }
  if (!trace.rows.empty() && trace.rows.back().forecast_available) {
    out.forecast_available = true;
    out.forecast_flops = trace.rows.back().forecast_flops;
  }
  return true;
}

} // namespace flopledger::io
