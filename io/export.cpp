#include "io/export.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "io/json.hpp"

namespace flopledger::io {

namespace {

// AWS's threshold logic (flops_meter.py determine_compliance_threshold): the default 3.3e22 when
// the original compute is unknown or below 1e23, otherwise the original compute itself, of which
// more than 30% "exceeds". Reproduced for their keys only; flopledger's verdict is `verdict`.
constexpr const char *kAwsDefaultThreshold = "33000000000000000000000"; // 3.3e22
constexpr const char *kAwsGpaiThreshold = "100000000000000000000000";   // 1e23

/// AWS writes figures as Python's f"{x:.2e}": "1.45e+13".
std::string aws_sci(u128 value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2e", to_double(value));
  return buf;
}

u128 exact(const char *decimal) {
  return parse_flops(decimal).value;
}

template <std::size_t N>
void flops_map(JsonWriter &json, std::string_view name,
               const std::array<std::string_view, N> &names, const u128 (&values)[N]) {
  json.key(name).begin_object();
  for (std::size_t i = 0; i < N; ++i)
    json.field(names[i], to_decimal(values[i]));
  json.end_object();
}

double segment_seconds(const TraceContents &trace, const Segment &s) {
  double end = s.state == FLOPLEDGER_SEGMENT_RUNNING ? 0 : s.end;
  if (end <= 0)
    for (const StepRow &row : trace.rows)
      if (row.segment == s.id) end = std::max(end, row.t_end);
  return end > s.start ? end - s.start : 0;
}

void aws_keys(JsonWriter &json, const Audit &a) {
  const TraceContents &trace = *a.report.trace;
  const TraceHeader &h = trace.header;
  std::uint64_t n_total = 0, n_trainable = 0;
  if (const std::string *model = environment_value(trace, "model")) {
    json_uint_member(*model, "params_total", n_total);
    json_uint_member(*model, "params_trainable", n_trainable);
  }
  const MethodFigure &aws = a.methods[2];
  u128 replica_tokens = 0;
  for (const StepRow &row : trace.rows)
    replica_tokens += row.replica_tokens;
  // The basis of AWS's ratio: their own formula when a model is declared, otherwise the figure
  // flopledger's verdict uses (documented in docs/reports.md).
  const u128 basis = aws.available ? aws.flops : a.verdict_flops;
  const bool known = h.original.compute_known && h.original.training_flops > 0 &&
                     h.original.training_flops >= exact(kAwsGpaiThreshold);
  const u128 threshold = known ? h.original.training_flops : exact(kAwsDefaultThreshold);
  // Exact: default -> basis > 3.3e22; known -> basis / original > 0.30 <=> 10 basis > 3 original.
  bool exceeds = false;
  if (!known) {
    exceeds = basis > threshold;
  } else {
    u128 lhs = 0, rhs = 0;
    const bool lhs_ok = checked_mul(basis, 10, lhs), rhs_ok = checked_mul(threshold, 3, rhs);
    exceeds = !lhs_ok || (rhs_ok && lhs > rhs);
  }
  double seconds = 0;
  for (const Segment &s : trace.segments)
    seconds += segment_seconds(trace, s);
  std::string job_names;
  for (const Segment &s : trace.segments) {
    if (s.job_id.empty()) continue;
    if (!job_names.empty()) job_names += ",";
    job_names += s.job_id;
  }
  const std::string last_job = trace.segments.empty() ? "" : trace.segments.back().job_id;
  const std::string *cuda = environment_value(trace, "cuda");
  const std::string *config_file = nullptr;
  for (const auto &kv : h.config)
    if (kv.first == "CONFIG" || kv.first == "config") config_file = &kv.second;

  json.field("N_total", n_total).field("N_trainable", n_trainable);
  json.key("tokens_processed").integer(aws.available ? replica_tokens : a.report.tokens);
  if (aws.available && aws.flops > 0)
    json.field("Flops_architecture", aws_sci(aws.flops));
  else
    json.field("Flops_architecture", 0.0);
  if (a.methods[4].available)
    json.field("Flops_hardware", aws_sci(a.methods[4].flops));
  else
    json.key("Flops_hardware").null();
  json.field("pct_of_pretrain", to_double(basis) / to_double(threshold))
      .field("exceeds_30pct", exceeds)
      .field("model_name", h.base_model)
      .field("num_epochs", 0.0)
      .field("training_duration_seconds", std::round(seconds * 100) / 100)
      .field("gpu_size", a.report.ranks)
      .field("gpu_rank", std::uint32_t{0});
  if (h.original.compute_known)
    json.field("Flops_original", aws_sci(h.original.training_flops));
  else
    json.key("Flops_original").null();
  json.field("threshold_type", known ? "30pct_of_actual_pretraining" : "default_3.3e22")
      .field("threshold_value", aws_sci(threshold))
      .field("training_job_name", job_names)
      .field(
          "training_id",
          last_job.substr(last_job.rfind('-') == std::string::npos ? 0 : last_job.rfind('-') + 1))
      .field("recipe_config", config_file != nullptr ? *config_file : std::string());
  json.key("recipe_config_details").begin_object();
  for (const auto &kv : h.config)
    json.field(kv.first, kv.second);
  json.end_object();
  if (cuda != nullptr && !cuda->empty())
    json.field("gpu_name", *cuda);
  else
    json.key("gpu_name").null();
  json.key("instance_type").null().key("model_package_group_name").null();
  json.field("flopledger_aws_basis", aws.available ? "aws_formula" : "verdict_figure");
}

void optional_flops(JsonWriter &json, std::string_view name, bool available, u128 value) {
  if (available)
    json.field(name, to_decimal(value));
  else
    json.key(name).null();
}

void json_row(JsonWriter &json, const StepRow &r) {
  const JobPeriod &p = r.period;
  json.begin_object()
      .field("row", r.row)
      .field("segment", r.segment)
      .field("step_first", p.step_first)
      .field("step_last", p.step_last)
      .field("t_start", r.t_start)
      .field("t_end", r.t_end)
      .field("tokens", to_decimal(p.tokens))
      .field("replica_tokens", to_decimal(r.replica_tokens))
      .field("flops", to_decimal(row_period_flops(r)));
  flops_map(json, "flops_by_precision", kPrecisionNames, r.by_precision);
  flops_map(json, "flops_by_phase", kPhaseNames, r.by_phase);
  flops_map(json, "flops_by_source", kSourceNames, r.by_source);
  optional_flops(json, "analytic_flops", r.analytic_available, r.analytic_flops);
  optional_flops(json, "aws_flops", r.analytic_available, r.aws_flops);
  optional_flops(json, "hf_flops", r.analytic_available, r.hf_flops);
  optional_flops(json, "hardware_flops", r.hardware_available, r.hardware_flops);
  json.field("cumulative_counted", to_decimal(r.cumulative_counted))
      .field("cumulative_modification", to_decimal(r.cumulative_modification));
  optional_flops(json, "cumulative_analytic", r.analytic_available, r.cumulative_analytic);
  optional_flops(json, "cumulative_aws", r.analytic_available, r.cumulative_aws);
  optional_flops(json, "cumulative_hf", r.analytic_available, r.cumulative_hf);
  optional_flops(json, "cumulative_hardware", r.hardware_available, r.cumulative_hardware);
  json.field("verdict_method", method_name(r.verdict_method))
      .field("verdict_flops", to_decimal(r.verdict_flops))
      .field("threshold_flops", to_decimal(r.threshold_flops));
  optional_flops(json, "forecast_flops", r.forecast_available, r.forecast_flops);
  json.field("status", status_name(r.status))
      .field("fraction_of_threshold", r.fraction_of_threshold)
      .field("rank_flops_min", p.rank_flops_min)
      .field("rank_flops_max", p.rank_flops_max)
      .field("rank_tokens_min", p.rank_tokens_min)
      .field("rank_tokens_max", p.rank_tokens_max)
      .field("ranks", p.ranks)
      .field("ranks_active", p.ranks_active)
      .end_object();
}

void ledger_keys(JsonWriter &json, const Audit &a) {
  const TraceContents &trace = *a.report.trace;
  const TraceHeader &h = trace.header;
  const Report &r = a.report;
  const Verdict &v = a.verdict;
  json.field("format_version",
             std::to_string(h.format_major) + "." + std::to_string(h.format_minor));
  json.key("header")
      .begin_object()
      .field("writer_version", h.writer_version)
      .field("created_utc", h.created_utc)
      .field("rule_set", h.rule_set)
      .field("base_model", h.base_model)
      .field("original_flops",
             h.original.compute_known ? to_decimal(h.original.training_flops) : "unknown")
      .field("original_systemic_risk", h.original.systemic_risk);
  json.key("config").begin_object();
  for (const auto &kv : h.config)
    json.field(kv.first, kv.second);
  json.end_object().field("rule_set_text", h.rule_set_text).end_object();

  json.key("verdict")
      .begin_object()
      .field("status", status_name(v.status))
      .field("rule", v.rule)
      .field("reasoning", v.reasoning)
      .field("method", method_name(a.verdict_method))
      .field("modification_flops", to_decimal(a.verdict_flops))
      .field("modification_flops_2sf", to_sci2(a.verdict_flops))
      .field("threshold_flops", to_decimal(v.threshold_flops))
      .field("fraction_of_threshold", v.fraction_of_threshold)
      .field("notify_commission", v.notify_commission)
      .field("cumulative_over_systemic_presumption", v.cumulative_over_systemic_presumption)
      .end_object();

  json.key("methods").begin_object();
  for (const MethodFigure &m : a.methods) {
    json.key(m.id).begin_object().field("available", m.available);
    optional_flops(json, "flops", m.available, m.flops);
    json.field("used_by_verdict", m.used_by_verdict)
        .field("description", m.title)
        .field("not_applicable_because", m.why_not)
        .end_object();
  }
  json.end_object();
  json.key("bracket")
      .begin_object()
      .field("low_flops", to_decimal(a.bracket_low))
      .field("high_flops", to_decimal(a.bracket_high))
      .field("within_30_percent", a.within_tolerance)
      .end_object();
  json.key("forecast").begin_object().field("available", a.forecast_available);
  optional_flops(json, "flops", a.forecast_available, a.forecast_flops);
  json.end_object();

  json.key("totals").begin_object();
  json.field("counted_flops", to_decimal(r.counted_flops))
      .field("modification_flops", to_decimal(r.modification_flops));
  flops_map(json, "by_precision", kPrecisionNames, r.by_precision);
  flops_map(json, "by_phase", kPhaseNames, r.by_phase);
  flops_map(json, "by_source", kSourceNames, r.by_source);
  json.key("by_method").begin_object();
  for (const MethodFigure &m : a.methods)
    optional_flops(json, m.id, m.available, m.flops);
  json.end_object();
  json.key("phases_counted").begin_array();
  for (std::size_t i = 0; i < kPhases; ++i)
    if (r.rules != nullptr && r.rules->phase_counts[i]) json.value(kPhaseNames[i]);
  json.end_array();
  json.field("tokens", to_decimal(r.tokens))
      .field("steps", r.steps)
      .field("ranks", r.ranks)
      .field("rows", static_cast<std::uint64_t>(trace.rows.size()))
      .field("totals_match_rows", r.totals_match_rows)
      .end_object();

  json_segments(json, trace);
  json_events(json, trace);
  json.key("environment").begin_array();
  for (const EnvironmentEntry &e : trace.environment)
    json.begin_object()
        .field("segment", e.segment)
        .field("key", e.key)
        .field("value", e.value)
        .end_object();
  json.end_array();
  json.key("rows").begin_array();
  for (const StepRow &row : trace.rows)
    json_row(json, row);
  json.end_array();
}

std::string csv_field(const std::string &text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string time_text(double t) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6f", t);
  return buf;
}

} // namespace

std::string export_json(const Audit &audit) {
  static const TraceContents kEmpty;
  Audit a = audit;
  if (a.report.trace == nullptr) a.report.trace = &kEmpty;
  JsonWriter json(2);
  json.begin_object();
  aws_keys(json, a);
  ledger_keys(json, a);
  json.end_object();
  return json.str() + "\n";
}

std::vector<std::string> export_csv_columns() {
  std::vector<std::string> c = {"row",     "segment", "step_first", "step_last",
                                "t_start", "t_end",   "tokens",     "flops"};
  for (std::string_view n : kPrecisionNames)
    c.push_back("flops_precision_" + std::string(n));
  for (std::string_view n : kPhaseNames)
    c.push_back("flops_phase_" + std::string(n));
  for (std::string_view n : kSourceNames)
    c.push_back("flops_source_" + std::string(n));
  for (const char *n : {"analytic_flops", "aws_flops", "hf_flops", "hardware_flops",
                        "cumulative_counted", "cumulative_modification", "cumulative_analytic",
                        "cumulative_aws", "cumulative_hf", "cumulative_hardware", "verdict_method",
                        "verdict_flops", "threshold_flops", "forecast_flops", "status",
                        "fraction_of_threshold", "rank_flops_min", "rank_flops_max", "ranks"})
    c.push_back(n);
  return c;
}

std::string export_csv(const Audit &audit) {
  std::ostringstream out;
  const std::vector<std::string> columns = export_csv_columns();
  for (std::size_t i = 0; i < columns.size(); ++i)
    out << (i ? "," : "") << columns[i];
  out << "\n";
  if (audit.report.trace == nullptr) return out.str();
  for (const StepRow &r : audit.report.trace->rows) {
    const JobPeriod &p = r.period;
    std::vector<std::string> f = {std::to_string(r.row),        std::to_string(r.segment),
                                  std::to_string(p.step_first), std::to_string(p.step_last),
                                  time_text(r.t_start),         time_text(r.t_end),
                                  to_decimal(p.tokens),         to_decimal(row_period_flops(r))};
    for (const u128 v : r.by_precision)
      f.push_back(to_decimal(v));
    for (const u128 v : r.by_phase)
      f.push_back(to_decimal(v));
    for (const u128 v : r.by_source)
      f.push_back(to_decimal(v));
    auto optional = [&](bool available, u128 v) {
      f.push_back(available ? to_decimal(v) : std::string());
    };
    optional(r.analytic_available, r.analytic_flops);
    optional(r.analytic_available, r.aws_flops);
    optional(r.analytic_available, r.hf_flops);
    optional(r.hardware_available, r.hardware_flops);
    f.push_back(to_decimal(r.cumulative_counted));
    f.push_back(to_decimal(r.cumulative_modification));
    optional(r.analytic_available, r.cumulative_analytic);
    optional(r.analytic_available, r.cumulative_aws);
    optional(r.analytic_available, r.cumulative_hf);
    optional(r.hardware_available, r.cumulative_hardware);
    f.push_back(std::string(method_name(r.verdict_method)));
    f.push_back(to_decimal(r.verdict_flops));
    f.push_back(to_decimal(r.threshold_flops));
    optional(r.forecast_available, r.forecast_flops);
    f.push_back(std::string(status_name(r.status)));
    char fraction[40];
    std::snprintf(fraction, sizeof fraction, "%.17g", r.fraction_of_threshold);
    f.push_back(fraction);
    f.push_back(std::to_string(p.rank_flops_min));
    f.push_back(std::to_string(p.rank_flops_max));
    f.push_back(std::to_string(p.ranks));
    for (std::size_t i = 0; i < f.size(); ++i)
      out << (i ? "," : "") << csv_field(f[i]);
    out << "\n";
  }
  return out.str();
}

} // namespace flopledger::io
