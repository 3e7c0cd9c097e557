#include "io/report_document.hpp"

#include <cmath>
#include <cstdio>

namespace flopledger::io {

namespace {

DocBlock paragraph(std::string text, DocBlock::Kind kind = DocBlock::Paragraph) {
  DocBlock b;
  b.kind = kind;
  b.text = std::move(text);
  return b;
}

DocBlock table(DocTable t) {
  DocBlock b;
  b.kind = DocBlock::Table;
  b.table = std::move(t);
  return b;
}

std::string status_sentence(Status status) {
  switch (status) {
  case Status::DownstreamUser:
    return "The modification compute is not greater than the threshold: you remain a downstream "
           "user of the original model.";
  case Status::Provider:
    return "The modification compute is greater than the threshold: you are the provider of the "
           "modified general-purpose AI model.";
  case Status::ProviderSystemicRisk:
    return "You are the provider of the modified model, a general-purpose AI model with systemic "
           "risk: notify the Commission without delay and within two weeks (Art. 52(1)).";
  }
  return "";
}

template <std::size_t N>
DocTable flops_table(const char *what, const std::array<std::string_view, N> &names,
                     const u128 (&values)[N], const bool *counts) {
  DocTable t;
  t.head = {what};
  if (counts != nullptr) t.head.push_back("counts toward the threshold");
  t.head.insert(t.head.end(), {"FLOPs (2 s.f.)", "FLOPs (exact)"});
  for (std::size_t i = 0; i < N; ++i) {
    std::vector<std::string> row = {std::string(names[i])};
    if (counts != nullptr) row.push_back(counts[i] ? "yes" : "no");
    row.push_back(to_sci2(values[i]));
    row.push_back(to_decimal(values[i]));
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::string seconds_text(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f s", seconds);
  return buf;
}

DocSection verdict_section(const Audit &a) {
  const TraceContents &trace = *a.report.trace;
  const TraceHeader &h = trace.header;
  const Verdict &v = a.verdict;
  DocSection s{"Verdict", {}};
  s.blocks.push_back(paragraph("Status: " + std::string(status_name(v.status)), DocBlock::Strong));
  s.blocks.push_back(paragraph(status_sentence(v.status)));
  DocTable t;
  t.head = {"", ""};
  t.rows = {
      {"Modification compute (2 significant figures)", to_sci2(a.verdict_flops) + " FLOP"},
      {"Modification compute (exact)", to_decimal(a.verdict_flops) + " FLOP"},
      {"Method used by the verdict", std::string(method_name(a.verdict_method))},
      {"Threshold", flops_with_exact(v.threshold_flops)},
      {"Fraction of the threshold", percent_text(v.fraction_of_threshold)},
      {"Notify the Commission", v.notify_commission ? "yes" : "no"},
      {"Rule set",
       h.rule_set + (a.report.rules != nullptr ? " — " + std::string(a.report.rules->title)
                                               : std::string())},
      {"Citation", a.report.rules != nullptr ? std::string(a.report.rules->citation) : ""},
      {"Rule", v.rule},
      {"Reasoning", v.reasoning},
      {"Base model", h.base_model.empty() ? "(not named)" : h.base_model},
      {"Original training compute",
       h.original.compute_known ? flops_with_exact(h.original.training_flops) : "unknown"},
      {"Original has systemic risk", h.original.systemic_risk ? "yes" : "no"},
      {"Counted FLOPs, every phase", flops_with_exact(a.report.counted_flops)},
      {"Steps / tokens / ranks / rows",
       std::to_string(a.report.steps) + " / " + to_decimal(a.report.tokens) + " / " +
           std::to_string(a.report.ranks) + " / " + std::to_string(trace.rows.size())},
  };
  s.blocks.push_back(table(std::move(t)));
  if (trace.rows.empty()) s.blocks.push_back(paragraph("No steps recorded.", DocBlock::Strong));
  if (!a.report.totals_match_rows)
    s.blocks.push_back(paragraph("WARNING: the stored cumulative totals of the last row differ "
                                 "from the sum of the rows; run `flopledger verify`.",
                                 DocBlock::Strong));
  return s;
}

DocSection notification_section(const Audit &a) {
  DocSection s{"Notifications and forecast", {}};
  if (a.forecast_available)
    s.blocks.push_back(
        paragraph("Forecast of the modification compute at the planned end of "
                  "the run: " +
                  flops_with_exact(a.forecast_flops) + ", " +
                  (a.forecast_flops > a.verdict.threshold_flops ? "above the threshold."
                                                                : "not above the threshold.")));
  else
    s.blocks.push_back(paragraph("No forecast recorded (no planned length, or no rate yet)."));
  DocTable t;
  t.head = {"time (UTC)", "kind", "step", "FLOPs", "detail"};
  for (const Event &e : a.report.trace->events)
    if (e.kind == "forecast_crossing" || e.kind == "threshold_crossed" ||
        e.kind == "threshold_80pct" || e.kind == "threshold_50pct" ||
        e.kind == "budget_stop_requested" || e.kind == "budget_stop")
      t.rows.push_back({iso_utc(e.time), e.kind, std::to_string(e.step),
                        e.flops == 0 ? "" : flops_with_exact(e.flops), e.detail});
  if (t.rows.empty())
    s.blocks.push_back(paragraph("No threshold, forecast or budget events."));
  else
    s.blocks.push_back(table(std::move(t)));
  return s;
}

DocSection methods_section(const Audit &a) {
  DocSection s{"Methods side by side", {}};
  DocTable t;
  t.head = {"method", "FLOPs (2 s.f.)", "FLOPs (exact)", "used by the verdict", "note"};
  for (const MethodFigure &m : a.methods)
    t.rows.push_back({std::string(m.title), m.available ? to_sci2(m.flops) : "not applicable",
                      m.available ? to_decimal(m.flops) : "not applicable",
                      m.used_by_verdict ? "yes" : "no", m.why_not});
  s.blocks.push_back(table(std::move(t)));
  s.blocks.push_back(paragraph(
      "Bracket between the available methods: " + to_sci2(a.bracket_low) + " – " +
      to_sci2(a.bracket_high) + " FLOP (" + to_decimal(a.bracket_low) + " – " +
      to_decimal(a.bracket_high) + "). " +
      (a.within_tolerance ? "Every available method is within 30% of the verdict's figure"
                          : "At least one available method is NOT within 30% of the verdict's "
                            "figure") +
      " (exact test: 100 x |f − verdict| <= 30 x verdict for every available figure f; the "
      "guidelines accept a method accurate within 30%)."));
  return s;
}

DocSection energy_section(const Audit &a) {
  const Report &r = a.report;
  DocSection s{"GPU energy and kernel time", {}};
  if (!r.energy_available) {
    s.blocks.push_back(paragraph("Energy of training (AI Act Annex XI): not measured. The ledger "
                                 "has no NVML energy readings (no GPU, NVML not available, or "
                                 "FLOPLEDGER_NVML=0; see the environment's gpu_nvml entry)."));
  } else {
    s.blocks.push_back(paragraph("Energy of training (AI Act Annex XI), measured with NVML's "
                                 "total-energy counter of each rank's GPU: " +
                                 energy_text(r.energy_mj) + "."));
    DocTable t;
    t.head = {"segment", "energy (exact, mJ)", "energy", "devices sampled"};
    for (const Report::SegmentEnergy &job : r.energy_by_segment)
      t.rows.push_back({std::to_string(job.segment), to_decimal(job.energy_mj),
                        energy_text(job.energy_mj), std::to_string(job.nvml_ranks)});
    s.blocks.push_back(table(std::move(t)));
  }
  if (r.kernel_times_available) {
    DocTable t;
    t.head = {"kernels", "time (ns, exact)"};
    t.rows = {{"launched by counted cuBLAS/cuBLASLt calls", to_decimal(r.kernel_counted_ns)},
              {"attention (flash, fmha, SDPA, ...)", to_decimal(r.kernel_attention_ns)},
              {"NCCL", to_decimal(r.kernel_nccl_ns)},
              {"other, unattributed", to_decimal(r.kernel_unattributed_ns)}};
    s.blocks.push_back(table(std::move(t)));
  }
  if (r.upper_bound_available)
    s.blocks.push_back(paragraph("Hardware upper bound (counted + (unattributed + attention "
                                 "kernel time) x device peak): " +
                                 flops_with_exact(r.upper_bound_flops) + "."));
  return s;
}

DocSection charts_section(const Audit &a) {
  const TraceContents &trace = *a.report.trace;
  DocSection s{"Charts", {}};
  const double t0 = trace.rows.empty() ? 0 : trace.rows.front().t_start;
  Chart cumulative;
  cumulative.title = "Cumulative modification compute (" +
                     std::string(method_name(a.verdict_method)) + ") toward the threshold";
  cumulative.x_label = "time since the first step row (s)";
  cumulative.y_label = "FLOP (log scale)";
  cumulative.log_y = true;
  ChartLine line{{}, {}, "#2ca02c", "cumulative modification FLOPs", false};
  for (const StepRow &row : trace.rows) {
    line.x.push_back(row.t_end - t0);
    line.y.push_back(to_double(row_cumulative(row, a.verdict_method)));
  }
  cumulative.lines.push_back(std::move(line));
  cumulative.levels.push_back({to_double(a.verdict.threshold_flops), "#d62728",
                               "threshold " + to_sci2(a.verdict.threshold_flops), false});
  if (a.forecast_available)
    cumulative.levels.push_back({to_double(a.forecast_flops), "#ff7f0e",
                                 "forecast at planned end " + to_sci2(a.forecast_flops), true});
  DocBlock c1;
  c1.kind = DocBlock::Figure;
  c1.chart = std::move(cumulative);
  s.blocks.push_back(std::move(c1));

  Chart per_rank;
  per_rank.title = "Counted FLOPs per step per rank";
  per_rank.x_label = "step (last step of each row)";
  per_rank.y_label = "FLOP per step per rank";
  ChartBand band{{}, {}, {}, "#9ecae1", "MIN-MAX over ranks"};
  ChartLine mean{{}, {}, "#08519c", "mean", false};
  for (std::size_t i = 0; i < trace.rows.size(); ++i) {
    const StepRow &row = trace.rows[i];
    const double steps = static_cast<double>(row_steps(trace, i));
    const double x = static_cast<double>(row.period.step_last);
    band.x.push_back(x);
    band.low.push_back(static_cast<double>(row.period.rank_flops_min) / steps);
    band.high.push_back(static_cast<double>(row.period.rank_flops_max) / steps);
    mean.x.push_back(x);
    const double ranks = row.period.ranks > 0 ? row.period.ranks : 1;
    mean.y.push_back(to_double(row_period_flops(row)) / ranks / steps);
  }
  per_rank.bands.push_back(std::move(band));
  per_rank.lines.push_back(std::move(mean));
  DocBlock c2;
  c2.kind = DocBlock::Figure;
  c2.chart = std::move(per_rank);
  s.blocks.push_back(std::move(c2));
  return s;
}

DocSection breakdown_section(const Audit &a) {
  const Report &r = a.report;
  DocSection s{"Counted FLOPs by phase, precision and source", {}};
  bool counts[kPhases] = {};
  for (std::size_t i = 0; i < kPhases; ++i)
    counts[i] = r.rules != nullptr && r.rules->phase_counts[i];
  s.blocks.push_back(table(flops_table("phase", kPhaseNames, r.by_phase, counts)));
  s.blocks.push_back(table(flops_table("precision", kPrecisionNames, r.by_precision, nullptr)));
  s.blocks.push_back(table(flops_table("source", kSourceNames, r.by_source, nullptr)));
  return s;
}

DocSection segments_section(const Audit &a) {
  const TraceContents &trace = *a.report.trace;
  DocSection s{"Segments (jobs and restarts)", {}};
  DocTable t;
  t.head = {"#",           "job id",    "launcher", "hosts",       "ranks",
            "start (UTC)", "end (UTC)", "state",    "exit status", "rows"};
  for (const Segment &g : trace.segments) {
    const bool open = g.state == FLOPLEDGER_SEGMENT_RUNNING;
    t.rows.push_back({std::to_string(g.id), g.job_id, g.launcher, g.hosts,
                      std::to_string(g.world_size), iso_utc(g.start),
                      open ? "" : iso_utc(g.end) + " (" + seconds_text(g.end - g.start) + ")",
                      std::string(segment_state_text(g.state)), std::to_string(g.exit_status),
                      std::to_string(g.rows)});
  }
  if (t.rows.empty()) {
    s.blocks.push_back(paragraph("No segments recorded."));
    return s;
  }
  s.blocks.push_back(table(std::move(t)));
  // Counted FLOPs per host (gathered from every rank when the job ended with every rank).
  s.blocks.push_back(paragraph("FLOPs per host", DocBlock::Strong));
  DocTable hosts;
  hosts.head = {"#", "host", "FLOPs, every phase", "FLOPs toward the threshold"};
  for (const Segment &g : trace.segments) {
    std::string why;
    const std::vector<HostFlops> figures = flops_per_host(trace, g, why);
    if (figures.empty()) hosts.rows.push_back({std::to_string(g.id), "-", why, ""});
    for (const HostFlops &h : figures)
      hosts.rows.push_back({std::to_string(g.id), h.host, flops_with_exact(h.flops),
                            flops_with_exact(h.flops_toward_threshold)});
  }
  s.blocks.push_back(table(std::move(hosts)));
  return s;
}

DocSection events_section(const Audit &a) {
  const TraceContents &trace = *a.report.trace;
  DocSection s{"Events", {}};
  DocTable t;
  t.head = {"time (UTC)", "row", "step", "kind", "FLOPs", "detail"};
  for (const Event &e : trace.events)
    t.rows.push_back({iso_utc(e.time), std::to_string(e.row), std::to_string(e.step), e.kind,
                      e.flops == 0 ? "" : flops_with_exact(e.flops), e.detail});
  if (t.rows.empty())
    s.blocks.push_back(paragraph("No events recorded."));
  else
    s.blocks.push_back(table(std::move(t)));
  return s;
}

DocSection configuration_section(const Audit &a) {
  const TraceContents &trace = *a.report.trace;
  DocSection s{"Configuration and environment", {}};
  DocTable config;
  config.head = {"configuration key", "value"};
  for (const auto &kv : trace.header.config)
    config.rows.push_back({kv.first, kv.second});
  if (config.rows.empty())
    s.blocks.push_back(paragraph("No configuration recorded."));
  else
    s.blocks.push_back(table(std::move(config)));
  DocTable env;
  env.head = {"segment", "environment key", "value"};
  for (const EnvironmentEntry &e : trace.environment)
    env.rows.push_back({std::to_string(e.segment), e.key, e.value});
  if (env.rows.empty())
    s.blocks.push_back(paragraph("No environment recorded (trace format 1.0)."));
  else
    s.blocks.push_back(table(std::move(env)));
  const TraceHeader &h = trace.header;
  s.blocks.push_back(paragraph("Trace format " + std::to_string(h.format_major) + "." +
                               std::to_string(h.format_minor) + ", written by flopledger " +
                               h.writer_version + ", created " + h.created_utc + "."));
  s.blocks.push_back(
      paragraph(h.chain_mode.empty()
                    ? std::string("Integrity chain: none (this format has no tamper evidence).")
                    : "Integrity chain: " + h.chain_mode + ", head hash " + h.chain_head +
                          " (check with flopledger verify; docs/integrity.md)."));
  return s;
}

} // namespace

std::string flops_with_exact(u128 value) {
  return to_sci2(value) + " (" + to_decimal(value) + " FLOP)";
}

std::string percent_text(double fraction) {
  const double v = fraction * 100.0;
  if (!std::isfinite(v)) return "?";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3g%%", v);
  return buf;
}

Document audit_document(const Audit &audit) {
  static const TraceContents kEmpty;
  Audit a = audit;
  if (a.report.trace == nullptr) a.report.trace = &kEmpty;
  Document d;
  const std::string &model = a.report.trace->header.base_model;
  d.title = "flopledger audit report" + (model.empty() ? std::string() : " — " + model);
  d.sections = {verdict_section(a),  notification_section(a), methods_section(a),
                energy_section(a),   charts_section(a),       breakdown_section(a),
                segments_section(a), events_section(a),       configuration_section(a)};
  return d;
}

} // namespace flopledger::io
