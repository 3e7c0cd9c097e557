#include "io/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sstream>

#include "io/json.hpp"

namespace flopledger::io {

namespace {

constexpr const char *kCountedDescription =
    "FLOPs of hooked BLAS/cuBLAS calls and API-reported FLOPs, exact";

template <std::size_t N> bool add_all(u128 (&totals)[N], const u128 (&values)[N]) {
  for (std::size_t i = 0; i < N; ++i)
    if (!checked_add(totals[i], values[i], totals[i])) return false;
  return true;
}

std::string known_rule_sets() {
  std::string out;
  for (const RuleSet &r : rule_sets()) {
    if (!out.empty()) out += ", ";
    out += r.name;
  }
  return out;
}

} // namespace

/// "clean", "error", "terminated", "cancelled", "timeout", "killed", or "not_closed": a segment
/// still marked running when the trace is read afterwards was not closed cleanly (the job was
/// killed, or is still running).
const char *segment_state_name(std::uint8_t state) {
  switch (state) {
  case FLOPLEDGER_SEGMENT_CLEAN:
    return "clean";
  case FLOPLEDGER_SEGMENT_ERROR:
    return "error";
  case FLOPLEDGER_SEGMENT_TERMINATED:
    return "terminated";
  case FLOPLEDGER_SEGMENT_CANCELLED:
    return "cancelled";
  case FLOPLEDGER_SEGMENT_TIMEOUT:
    return "timeout";
  case FLOPLEDGER_SEGMENT_KILLED:
    return "killed";
  default:
    return "not_closed";
  }
}

std::string iso_utc(double unix_seconds) {
  // Up to year 9999: a damaged ledger's time must not overflow the conversion (UB).
  if (!(unix_seconds > 0) || !(unix_seconds < 253402300800.0)) return "";
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

std::string duration_text(double seconds) {
  if (!(seconds >= 0) || !(seconds < 1e15)) return "?";
  const auto total = static_cast<std::uint64_t>(std::llround(seconds));
  const std::uint64_t h = total / 3600, m = total / 60 % 60, s = total % 60;
  char buf[48];
  if (h > 0)
    std::snprintf(buf, sizeof buf, "%lluh %02llum %02llus", static_cast<unsigned long long>(h),
                  static_cast<unsigned long long>(m), static_cast<unsigned long long>(s));
  else if (m > 0)
    std::snprintf(buf, sizeof buf, "%llum %02llus", static_cast<unsigned long long>(m),
                  static_cast<unsigned long long>(s));
  else
    std::snprintf(buf, sizeof buf, "%llus", static_cast<unsigned long long>(s));
  return buf;
}

/// `fraction` x 100 with three significant digits and a '%': "12.3%", "0.00123%", "12300%".
std::string percent3(double fraction) {
  const double v = fraction * 100.0;
  if (!std::isfinite(v)) return "?";
  if (v == 0) return "0%";
  // %.2e rounds to three significant digits and tells the decimal exponent after rounding.
  char sci[32];
  std::snprintf(sci, sizeof sci, "%.2e", v);
  const int exponent = std::atoi(std::strchr(sci, 'e') + 1);
  char buf[64];
  if (exponent <= 2) {
    std::snprintf(buf, sizeof buf, "%.*f%%", 2 - exponent, v);
  } else {
    const double scale = std::pow(10.0, exponent - 2);
    std::snprintf(buf, sizeof buf, "%.0f%%", std::round(v / scale) * scale);
  }
  return buf;
}

/// "3.3e22 (33333333333333333333333 FLOP)".
std::string flops_text(u128 value) {
  return to_sci2(value) + " (" + to_decimal(value) + " FLOP)";
}

/// The time of the last step row a segment wrote, or 0.
double last_row_time(const TraceContents &trace, const Segment &segment) {
  double last = 0;
  for (const StepRow &row : trace.rows)
    if (row.segment == segment.id) last = std::max(last, row.t_end);
  return last;
}

template <std::size_t N>
void json_flops_map(JsonWriter &json, std::string_view name,
                    const std::array<std::string_view, N> &names, const u128 (&values)[N]) {
  json.key(name).begin_object();
  for (std::size_t i = 0; i < N; ++i)
    json.field(names[i], to_decimal(values[i]));
  json.end_object();
}

/// The segment's SLURM facts from the environment dataset ("slurm_*" keys), in recorded order.
std::vector<std::pair<std::string, std::string>> slurm_facts(const TraceContents &trace,
                                                             std::uint32_t segment) {
  std::vector<std::pair<std::string, std::string>> facts;
  for (const EnvironmentEntry &e : trace.environment)
    if (e.segment == segment && e.key.rfind("slurm_", 0) == 0) facts.emplace_back(e.key, e.value);
  return facts;
}

/// A segment's environment entry `key` ("" when the segment did not record it: an older writer,
/// or, for the per-host figures, a job that did not end with every rank).
std::string environment_value(const TraceContents &trace, std::uint32_t segment,
                              const std::string &key) {
  for (const EnvironmentEntry &e : trace.environment)
    if (e.segment == segment && e.key == key) return e.value;
  return "";
}

// "nodeA=123 nodeB=45" into (host, figure) pairs; false when it is not that.
bool parse_host_figures(const std::string &text, std::vector<std::pair<std::string, u128>> &out) {
  std::istringstream words(text);
  std::string word;
  while (words >> word) {
    const std::size_t equals = word.rfind('=');
    if (equals == std::string::npos || equals == 0) return false;
    const std::string digits = word.substr(equals + 1);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return false;
    const ParsedFlops figure = parse_flops(digits);
    if (!figure.ok) return false;
    out.emplace_back(word.substr(0, equals), figure.value);
  }
  return !out.empty();
}

void json_flops_per_host(JsonWriter &json, const TraceContents &trace, const Segment &s) {
  std::string why;
  const std::vector<HostFlops> hosts = flops_per_host(trace, s, why);
  if (hosts.empty()) {
    json.key("flops_per_host").null();
    json.field("flops_per_host_missing", why);
    return;
  }
  json.key("flops_per_host").begin_array();
  for (const HostFlops &h : hosts)
    json.begin_object()
        .field("host", h.host)
        .field("flops", to_decimal(h.flops))
        .field("flops_toward_threshold", to_decimal(h.flops_toward_threshold))
        .end_object();
  json.end_array();
  json.key("flops_per_host_missing").null();
}

} // namespace

std::vector<HostFlops> flops_per_host(const TraceContents &trace, const Segment &segment,
                                      std::string &why_missing) {
  why_missing.clear();
  std::vector<std::pair<std::string, u128>> every, toward;
  const bool parsed =
      parse_host_figures(environment_value(trace, segment.id, "flops_per_host"), every) &&
      parse_host_figures(environment_value(trace, segment.id, "flops_per_host_toward_threshold"),
                         toward) &&
      every.size() == toward.size();
  std::vector<HostFlops> hosts;
  for (std::size_t i = 0; parsed && i < every.size(); ++i)
    hosts.push_back({every[i].first, every[i].second, toward[i].second});
  if (!hosts.empty()) return hosts;
  if (segment.state != FLOPLEDGER_SEGMENT_CLEAN)
    why_missing = "not recorded: the job did not end with every rank (segment " +
                  std::string(segment_state_name(segment.state)) + ")";
  else if (!environment_value(trace, segment.id, "flops_per_host").empty())
    why_missing = "not recorded: the flops_per_host entry cannot be read";
  else
    why_missing = "not recorded: written by a flopledger without per-host subtotals, or the "
                  "end-of-job gather did not complete (see the job's log)";
  return hosts;
}

void json_segments(JsonWriter &json, const TraceContents &trace) {
  json.key("segments").begin_array();
  for (const Segment &s : trace.segments) {
    json.begin_object()
        .field("id", s.id)
        .field("job_id", s.job_id)
        .field("launcher", s.launcher)
        .field("hosts", s.hosts)
        .field("world_size", s.world_size)
        .field("start", s.start)
        .field("start_utc", iso_utc(s.start));
    if (s.state == FLOPLEDGER_SEGMENT_RUNNING) {
      json.key("end").null().key("end_utc").null();
    } else {
      json.field("end", s.end).field("end_utc", iso_utc(s.end));
    }
    const double last = last_row_time(trace, s);
    json.field("state", segment_state_name(s.state))
        .field("exit_status", s.exit_status)
        .field("first_row", s.first_row)
        .field("rows", s.rows);
    if (last > 0)
      json.field("last_row_time", last);
    else
      json.key("last_row_time").null();
    const std::string placement = environment_value(trace, s.id, "rank_placement");
    if (placement.empty())
      json.key("rank_placement").null();
    else
      json.field("rank_placement", placement);
    json_flops_per_host(json, trace, s);
    const auto slurm = slurm_facts(trace, s.id);
    if (slurm.empty()) {
      json.key("slurm").null();
    } else {
      json.key("slurm").begin_object();
      for (const auto &[key, value] : slurm)
        json.field(key.substr(6), value);
      json.end_object();
    }
    json.end_object();
  }
  json.end_array();
}

void json_events(JsonWriter &json, const TraceContents &trace) {
  json.key("events").begin_array();
  for (const Event &e : trace.events)
    json.begin_object()
        .field("row", e.row)
        .field("step", e.step)
        .field("time", e.time)
        .field("time_utc", iso_utc(e.time))
        .field("kind", e.kind)
        .field("detail", e.detail)
        .field("flops", to_decimal(e.flops))
        .end_object();
  json.end_array();
}

namespace {

std::string phases_counted_text(const RuleSet &rules) {
  std::string out;
  for (std::size_t i = 0; i < kPhases; ++i) {
    if (!rules.phase_counts[i]) continue;
    if (!out.empty()) out += ", ";
    out += kPhaseNames[i];
  }
  return out.empty() ? "none" : out;
}

std::string verdict_summary(const Verdict &verdict) {
  switch (verdict.status) {
  case Status::DownstreamUser:
    return "the modification compute is not greater than the threshold: you remain a "
           "downstream user of the original model";
  case Status::Provider:
    return "the modification compute is greater than the threshold: you are the provider of "
           "the modified general-purpose AI model";
  case Status::ProviderSystemicRisk:
    return "you are the provider of the modified model, a general-purpose AI model with "
           "systemic risk: notify the Commission without delay and within two weeks "
           "(Art. 52(1))";
  }
  return "";
}

/// "  fp32          1.2e21 (1200000000000000000000 FLOP)" per non-zero entry, then one line for
/// the zero ones.
template <std::size_t N>
void text_table(std::ostringstream &out, const char *title, const char *plural,
                const std::array<std::string_view, N> &names, const u128 (&values)[N]) {
  out << title << ":\n";
  std::size_t zeros = 0;
  for (std::size_t i = 0; i < N; ++i) {
    if (values[i] == 0) {
      ++zeros;
      continue;
    }
    std::string name(names[i]);
    name.resize(std::max<std::size_t>(name.size(), 16), ' ');
    out << "  " << name << flops_text(values[i]) << "\n";
  }
  if (zeros == N)
    out << "  (all " << plural << ": 0)\n";
  else if (zeros > 0)
    out << "  (all other " << plural << ": 0)\n";
}

void text_segments(std::ostringstream &out, const TraceContents &trace) {
  out << "Segments: " << trace.segments.size() << "\n";
  for (const Segment &s : trace.segments) {
    out << "  #" << s.id << " " << segment_state_name(s.state);
    if (s.state != FLOPLEDGER_SEGMENT_CLEAN && s.state != FLOPLEDGER_SEGMENT_RUNNING)
      out << " (exit status " << s.exit_status << ")";
    out << ": job " << (s.job_id.empty() ? "-" : s.job_id) << " via "
        << (s.launcher.empty() ? "-" : s.launcher) << ", " << s.world_size << " ranks on "
        << (s.hosts.empty() ? "-" : s.hosts) << ", started " << iso_utc(s.start);
    if (s.state == FLOPLEDGER_SEGMENT_RUNNING) {
      const double last = last_row_time(trace, s);
      out << ", not closed cleanly";
      if (last > 0) out << " (last row at " << iso_utc(last) << ")";
    } else {
      out << ", ran " << duration_text(s.end - s.start);
    }
    out << ", " << s.rows << " rows\n";
    const std::string placement = environment_value(trace, s.id, "rank_placement");
    if (!placement.empty() && s.hosts.find(',') != std::string::npos)
      out << "     ranks per host: " << placement << "\n";
    std::string why;
    const std::vector<HostFlops> hosts = flops_per_host(trace, s, why);
    if (hosts.empty()) {
      out << "     FLOPs per host: " << why << "\n";
    } else {
      bool differs = false;
      out << "     FLOPs per host:";
      for (const HostFlops &h : hosts) {
        out << " " << h.host << "=" << to_decimal(h.flops);
        differs = differs || h.flops != h.flops_toward_threshold;
      }
      out << "\n";
      if (differs) {
        out << "     FLOPs per host toward the threshold:";
        for (const HostFlops &h : hosts)
          out << " " << h.host << "=" << to_decimal(h.flops_toward_threshold);
        out << "\n";
      }
    }
    const auto slurm = slurm_facts(trace, s.id);
    if (!slurm.empty()) {
      out << "     SLURM:";
      for (const auto &[key, value] : slurm)
        out << " " << key.substr(6) << "=" << (value.empty() ? "-" : value);
      out << "\n";
    }
  }
}

void text_events(std::ostringstream &out, const TraceContents &trace) {
  out << "Events: " << trace.events.size() << "\n";
  for (const Event &e : trace.events) {
    out << "  " << iso_utc(e.time) << "  row " << e.row << "  " << e.kind;
    if (!e.detail.empty()) out << ": " << e.detail;
    out << "\n";
  }
}

} // namespace

bool make_report(const TraceContents &trace, Report &out, std::string &error) {
  out = Report{};
  out.trace = &trace;
  auto rules = std::make_shared<RuleSet>();
  std::string why;
  if (!ledger_rule_set(trace.header.rule_set, trace.header.rule_set_text, *rules, why)) {
    error = "the trace uses rule set '" + trace.header.rule_set +
            "', which this flopledger cannot evaluate: " + why +
            " (built-in: " + known_rule_sets() + ")";
    return false;
  }
  out.rules = rules;
  for (const StepRow &row : trace.rows) {
    if (!add_all(out.by_precision, row.by_precision) || !add_all(out.by_phase, row.by_phase) ||
        !add_all(out.by_source, row.by_source) ||
        !checked_add(out.tokens, row.period.tokens, out.tokens)) {
      error = "the sum of the rows overflows 128 bits at row " + std::to_string(row.row);
      return false;
    }
    out.steps = std::max(out.steps, row.period.step_last);
  }
  for (std::size_t i = 0; i < kPrecisions; ++i)
    out.counted_flops += out.by_precision[i];
  for (std::size_t i = 0; i < kPhases; ++i)
    if (out.rules->phase_counts[i]) out.modification_flops += out.by_phase[i];
  for (const Segment &s : trace.segments)
    out.ranks = std::max(out.ranks, s.world_size);
  // The other methods' ledger totals, as the rows carry them; the rule set's policy chooses.
  MethodFigures figures;
  figures.counted = out.modification_flops;
  for (const StepRow &row : trace.rows) {
    out.analytic_available = out.analytic_available || row.analytic_available;
    out.hardware_available = out.hardware_available || row.hardware_available;
    out.analytic_flops = saturating_add(out.analytic_flops, row.analytic_flops);
    out.aws_flops = saturating_add(out.aws_flops, row.aws_flops);
    out.hf_flops = saturating_add(out.hf_flops, row.hf_flops);
    out.hardware_flops = saturating_add(out.hardware_flops, row.hardware_flops);
  }
  if (out.analytic_available) figures.analytic = out.analytic_flops;
  if (out.hardware_available) figures.hardware = out.hardware_flops;
  const ChosenFigure chosen = choose_verdict_figure(*out.rules, figures);
  out.verdict_flops = chosen.flops;
  out.verdict_method = method_of(chosen.method);
  out.verdict = evaluate(out.verdict_flops, trace.header.original, *out.rules);
  bool every_row_bounded = !trace.rows.empty();
  for (const StepRow &row : trace.rows) {
    const JobGpu &gpu = row.period.gpu;
    if (gpu.nvml_ranks > 0) {
      out.energy_available = true;
      out.energy_mj = saturating_add(out.energy_mj, gpu.energy_mj);
      if (out.energy_by_segment.empty() || out.energy_by_segment.back().segment != row.segment)
        out.energy_by_segment.push_back({row.segment, 0, 0});
      Report::SegmentEnergy &job = out.energy_by_segment.back();
      job.energy_mj = saturating_add(job.energy_mj, gpu.energy_mj);
      job.nvml_ranks = std::max(job.nvml_ranks, gpu.nvml_ranks);
    }
    if (gpu.cupti_ranks > 0) {
      out.kernel_times_available = true;
      out.kernel_counted_ns = saturating_add(out.kernel_counted_ns, gpu.counted_ns);
      out.kernel_attention_ns = saturating_add(out.kernel_attention_ns, gpu.attention_ns);
      out.kernel_nccl_ns = saturating_add(out.kernel_nccl_ns, gpu.nccl_ns);
      out.kernel_unattributed_ns = saturating_add(out.kernel_unattributed_ns, gpu.unattributed_ns);
    }
    every_row_bounded = every_row_bounded && row.upper_bound_available;
    out.upper_bound_flops = saturating_add(out.upper_bound_flops, row.upper_bound_flops);
  }
  out.upper_bound_available = every_row_bounded;
  if (!out.upper_bound_available) out.upper_bound_flops = 0;
  if (!trace.rows.empty()) {
    const StepRow &last = trace.rows.back();
    out.totals_match_rows = last.cumulative_counted == out.counted_flops &&
                            last.cumulative_modification == out.modification_flops;
  }
  return true;
}

std::string energy_text(u128 millijoules) {
  const double joules = to_double(millijoules) / 1000.0;
  char readable[64];
  std::snprintf(readable, sizeof readable, "%.3g J, %.3g kWh", joules, joules / 3.6e6);
  return to_decimal(millijoules) + " mJ (" + readable + ")";
}

namespace {

void json_gpu(JsonWriter &json, const Report &report) {
  json.key("gpu").begin_object();
  json.field("energy_available", report.energy_available)
      .field("energy_mj", to_decimal(report.energy_mj));
  json.key("energy_mj_by_segment").begin_array();
  for (const Report::SegmentEnergy &job : report.energy_by_segment)
    json.begin_object()
        .field("segment", static_cast<std::uint64_t>(job.segment))
        .field("energy_mj", to_decimal(job.energy_mj))
        .field("nvml_ranks", static_cast<std::uint64_t>(job.nvml_ranks))
        .end_object();
  json.end_array();
  json.field("kernel_times_available", report.kernel_times_available)
      .field("kernel_counted_ns", to_decimal(report.kernel_counted_ns))
      .field("kernel_attention_ns", to_decimal(report.kernel_attention_ns))
      .field("kernel_nccl_ns", to_decimal(report.kernel_nccl_ns))
      .field("kernel_unattributed_ns", to_decimal(report.kernel_unattributed_ns))
      .field("upper_bound_available", report.upper_bound_available)
      .field("upper_bound_flops", to_decimal(report.upper_bound_flops))
      .end_object();
}

std::string seconds_text(u128 ns) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g s", to_double(ns) / 1e9);
  return text;
}

} // namespace

std::string report_json(const Report &report) {
  static const TraceContents kEmpty;
  const TraceContents &trace = report.trace != nullptr ? *report.trace : kEmpty;
  const TraceHeader &h = trace.header;
  const Verdict &v = report.verdict;
  JsonWriter json(2);
  json.begin_object()
      .field("format_version",
             std::to_string(h.format_major) + "." + std::to_string(h.format_minor))
      .field("writer_version", h.writer_version)
      .field("created_utc", h.created_utc)
      .field("base_model", h.base_model)
      .field("original_flops",
             h.original.compute_known ? to_decimal(h.original.training_flops) : "unknown")
      .field("original_systemic_risk", h.original.systemic_risk)
      .field("rule_set", h.rule_set)
      .field("chain_mode", h.chain_mode.empty() ? "none" : h.chain_mode)
      .field("chain_head", h.chain_head);
  if (report.rules != nullptr)
    json.field("rule_set_title", report.rules->title)
        .field("rule_set_citation", report.rules->citation);
  json.field("status", status_name(v.status))
      .field("rule", v.rule)
      .field("reasoning", v.reasoning)
      .field("threshold_flops", to_decimal(v.threshold_flops))
      .field("modification_flops", to_decimal(report.modification_flops))
      .field("modification_flops_2sf", to_sci2(report.modification_flops))
      .field("verdict_method", method_name(report.verdict_method))
      .field("verdict_flops", to_decimal(report.verdict_flops))
      .field("verdict_flops_2sf", to_sci2(report.verdict_flops))
      .field("fraction_of_threshold", v.fraction_of_threshold)
      .field("notify_commission", v.notify_commission)
      .field("cumulative_over_systemic_presumption", v.cumulative_over_systemic_presumption);
  json.key("phases_counted").begin_array();
  for (std::size_t i = 0; i < kPhases; ++i)
    if (report.rules != nullptr && report.rules->phase_counts[i]) json.value(kPhaseNames[i]);
  json.end_array();
  json.field("counted_flops", to_decimal(report.counted_flops));
  json_flops_map(json, "counted_flops_by_precision", kPrecisionNames, report.by_precision);
  json_flops_map(json, "counted_flops_by_phase", kPhaseNames, report.by_phase);
  json_flops_map(json, "counted_flops_by_source", kSourceNames, report.by_source);
  json.field("method", method_name(report.verdict_method));
  json.key("methods").begin_object().key("counted").begin_object();
  json.field("flops", to_decimal(report.counted_flops))
      .field("modification_flops", to_decimal(report.modification_flops))
      .field("description", kCountedDescription)
      .end_object();
  if (report.analytic_available) {
    json.key("analytic")
        .begin_object()
        .field("flops", to_decimal(report.analytic_flops))
        .field("aws_formula_flops", to_decimal(report.aws_flops))
        .field("hf_6nd_flops", to_decimal(report.hf_flops))
        .field("description", "declared model x training tokens (docs/methods.md)")
        .end_object();
  }
  if (report.hardware_available) {
    json.key("hardware")
        .begin_object()
        .field("flops", to_decimal(report.hardware_flops))
        .field("description", "devices x seconds x peak FLOP/s x utilisation")
        .end_object();
  }
  json.end_object();
  json.field("tokens", to_decimal(report.tokens))
      .field("steps", report.steps)
      .field("ranks", report.ranks)
      .field("rows", static_cast<std::uint64_t>(trace.rows.size()))
      .field("totals_match_rows", report.totals_match_rows)
      .field("empty_environment_rows", trace.empty_environment_rows);
  json_gpu(json, report);
  json_segments(json, trace);
  json_events(json, trace);
  json.end_object();
  return json.str() + "\n";
}

std::string report_text(const Report &report) {
  static const TraceContents kEmpty;
  const TraceContents &trace = report.trace != nullptr ? *report.trace : kEmpty;
  const TraceHeader &h = trace.header;
  const Verdict &v = report.verdict;
  std::ostringstream out;
  out << "Status: " << status_name(v.status) << " — " << verdict_summary(v) << "\n\n";
  out << "Modification FLOPs:    " << flops_text(report.modification_flops) << "\n";
  out << "  phases counted:      "
      << (report.rules != nullptr ? phases_counted_text(*report.rules) : "?") << "\n";
  out << "Counted FLOPs:         " << flops_text(report.counted_flops) << " (every phase)\n";
  out << "Threshold:             " << flops_text(v.threshold_flops) << "\n";
  out << "Fraction of threshold: " << percent3(v.fraction_of_threshold) << "\n";
  out << "Notify Commission:     " << (v.notify_commission ? "yes" : "no") << "\n";
  out << "Original model:        " << (h.base_model.empty() ? "(not named)" : h.base_model)
      << ", training compute "
      << (h.original.compute_known ? flops_text(h.original.training_flops) : "unknown")
      << ", systemic risk " << (h.original.systemic_risk ? "yes" : "no") << "\n";
  out << "Rule set:              " << h.rule_set;
  if (report.rules != nullptr) out << " — " << report.rules->title;
  out << "\n";
  out << "Rule:                  " << v.rule << "\n";
  out << "Reasoning:             " << v.reasoning << "\n";
  out << "Verdict figure:        " << flops_text(report.verdict_flops) << " ("
      << method_name(report.verdict_method) << ", chosen by the rule set's policy)\n";
  out << "Methods:               counted " << flops_text(report.modification_flops) << " — "
      << kCountedDescription << "\n";
  out << "                       analytic "
      << (report.analytic_available
              ? flops_text(report.analytic_flops) + " (AWS formula " + to_sci2(report.aws_flops) +
                    ", 6ND " + to_sci2(report.hf_flops) + ")"
              : std::string("not available: no model declared"))
      << "\n";
  out << "                       hardware "
      << (report.hardware_available ? flops_text(report.hardware_flops)
                                    : std::string("not applicable: no device peak known"))
      << "\n";
  out << "GPU energy (NVML):     "
      << (report.energy_available ? energy_text(report.energy_mj)
                                  : std::string("not measured (no NVML energy in the ledger)"))
      << "\n";
  for (const Report::SegmentEnergy &job : report.energy_by_segment)
    out << "  segment " << job.segment << ":           " << energy_text(job.energy_mj) << ", "
        << job.nvml_ranks << " device(s)\n";
  if (report.kernel_times_available)
    out << "GPU kernel time:       counted " << seconds_text(report.kernel_counted_ns)
        << ", attention " << seconds_text(report.kernel_attention_ns) << ", NCCL "
        << seconds_text(report.kernel_nccl_ns) << ", unattributed "
        << seconds_text(report.kernel_unattributed_ns) << " (CUPTI)\n";
  if (report.upper_bound_available)
    out << "Hardware upper bound:  " << flops_text(report.upper_bound_flops)
        << " (counted + uncounted kernel time x peak)\n";
  if (!report.totals_match_rows)
    out << "WARNING: the stored cumulative totals of the last row differ from the sum of the "
           "rows; run `flopledger verify`\n";
  if (trace.empty_environment_rows > 0)
    out << "WARNING: " << trace.empty_environment_rows
        << " environment row(s) are empty (damaged, or never written before a crash) and are "
           "not shown; run `flopledger verify`\n";
  out << "\n";
  text_table(out, "FLOPs by precision", "precisions", kPrecisionNames, report.by_precision);
  text_table(out, "FLOPs by phase", "phases", kPhaseNames, report.by_phase);
  text_table(out, "FLOPs by source", "sources", kSourceNames, report.by_source);
  out << "\n";
  out << "Steps: " << report.steps << "   Tokens: " << to_decimal(report.tokens)
      << "   Ranks: " << report.ranks << "   Rows: " << trace.rows.size() << "\n";
  out << "Trace format " << h.format_major << "." << h.format_minor << ", written by flopledger "
      << h.writer_version << ", created " << h.created_utc << "\n";
  if (h.chain_mode.empty())
    out << "Chain: none (format " << h.format_major << "." << h.format_minor
        << " has no tamper evidence)\n\n";
  else
    out << "Chain: " << h.chain_mode << ", head " << h.chain_head
        << " (check with `flopledger verify`)\n\n";
  text_segments(out, trace);
  text_events(out, trace);
  return out.str();
}

} // namespace flopledger::io
