// The audit report (HTML, Markdown) and the exports (JSON, CSV) of a trace built in memory, with
// the format 1.1 figures (methods side by side, forecast, environment): exact values, escaping,
// no URL in the page.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "io/audit.hpp"
#include "io/export.hpp"
#include "io/report_html.hpp"
#include "io/report_markdown.hpp"
#include "tests/io/fixtures.hpp"
#include "tests/io/json_parse.hpp"

using namespace fl_test;

namespace {

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

/// Fills the projections that read_trace would fill from the row's full cube.
void project(StepRow &r) {
  for (std::size_t i = 0; i < kPrecisions; ++i)
    r.by_precision[i] = r.period.flops_by_precision(i);
  for (std::size_t i = 0; i < kPhases; ++i)
    r.by_phase[i] = r.period.flops_by_phase(i);
  for (std::size_t i = 0; i < kSources; ++i)
    r.by_source[i] = r.period.flops_by_source(i);
}

// Per row: analytic 9e21, AWS 1e22, HF 1.1e22, no hardware. Three rows, synthetic data in the
// last: counted modification = 3 x 8e21 + 5e21 = 2.9e22 (train + synthetic_data count).
constexpr const char *kModification = "29000000000000000000000";
constexpr const char *kCounted = "29355340232221128654851"; // + 3 x (1e20 eval + recompute)

/// The in-memory ledger: one segment (job 1001, 8 ranks, clean), three rows, hostile text in the
/// base model name and an event detail.
TraceContents memory_trace(bool with_methods = true) {
  TraceContents t;
  t.header = make_header();
  t.header.base_model = "evil/<script>alert(1)</script>";
  t.header.created_utc = "2025-07-18T08:00:00Z";
  Segment s = make_segment(0, "1001", 8);
  s.state = FLOPLEDGER_SEGMENT_CLEAN;
  s.end = s.start + 100;
  s.rows = 3;
  t.segments.push_back(s);
  u128 counted = 0, modification = 0;
  u128 analytic = 0, aws = 0, hf = 0;
  for (std::uint64_t i = 0; i < 3; ++i) {
    StepRow r = make_row(i, 0, i == 2, counted, modification);
    project(r);
    r.period = JobPeriod{}; // as read back: the cube is not stored
    r.period.step_first = 10 * i + 9;
    r.period.step_last = 10 * i + 10;
    r.period.tokens = flops(kTokensPerRow);
    r.period.rank_flops_min = 1000;
    r.period.rank_flops_max = 3000;
    r.period.ranks = 8;
    r.status = Status::DownstreamUser;
    if (with_methods) {
      r.analytic_available = true;
      r.replica_tokens = 1000;
      r.analytic_flops = flops("9000000000000000000000");
      r.aws_flops = flops("10000000000000000000000");
      r.hf_flops = flops("11000000000000000000000");
      analytic += r.analytic_flops;
      aws += r.aws_flops;
      hf += r.hf_flops;
      r.cumulative_analytic = analytic;
      r.cumulative_aws = aws;
      r.cumulative_hf = hf;
    }
    r.verdict_method = Method::Counted;
    r.verdict_flops = modification;
    r.threshold_flops = flops("33333333333333333333333");
    t.rows.push_back(r);
  }
  t.rows.back().forecast_available = true;
  t.rows.back().forecast_flops = flops("40000000000000000000000");
  t.events.push_back({2, 1752825625.0, "forecast_crossing",
                      "<script>x()</script> notify by 2025-08-01", 30,
                      flops("40000000000000000000000")});
  t.environment.push_back({0, "model",
                           "{\"name\": \"m\", \"params_total\": 7000000000, "
                           "\"params_trainable\": 40000000}"});
  t.environment.push_back({0, "hosts", "node01,node02"});
  return t;
}

Audit audit_of(const TraceContents &t) {
  Audit a;
  std::string error;
  REQUIRE_MESSAGE(make_audit(t, a, error), error);
  return a;
}

std::vector<std::string> split(const std::string &text, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, sep))
    out.push_back(item);
  return out;
}

} // namespace

TEST_CASE("the audit view: methods side by side, bracket and 30% tolerance") {
  const TraceContents t = memory_trace();
  const Audit a = audit_of(t);
  CHECK(to_decimal(a.verdict_flops) == kModification);
  CHECK(a.verdict_method == Method::Counted);
  CHECK(a.verdict.status == Status::DownstreamUser);
  CHECK(to_decimal(a.verdict.threshold_flops) == "33333333333333333333333");
  REQUIRE(a.methods.size() == 5);
  CHECK(a.methods[0].used_by_verdict);
  CHECK(to_decimal(a.methods[1].flops) == "27000000000000000000000");
  CHECK(to_decimal(a.methods[2].flops) == "30000000000000000000000");
  CHECK(to_decimal(a.methods[3].flops) == "33000000000000000000000");
  CHECK_FALSE(a.methods[4].available);
  CHECK(contains(a.methods[4].why_not, "CPU run"));
  CHECK(to_decimal(a.bracket_low) == "27000000000000000000000");
  CHECK(to_decimal(a.bracket_high) == "33000000000000000000000");
  CHECK(a.within_tolerance); // 4e21 / 2.9e22 = 13.8%

  // The tolerance is exact at its edge: 130 is within 30% of 100, 131 is not; 70 is, 69 is not.
  CHECK(within_30_percent(130, 100));
  CHECK_FALSE(within_30_percent(131, 100));
  CHECK(within_30_percent(70, 100));
  CHECK_FALSE(within_30_percent(69, 100));
  CHECK(within_30_percent(kU128Max, kU128Max));
  CHECK_FALSE(within_30_percent(kU128Max, 1));

  TraceContents off = memory_trace();
  for (StepRow &r : off.rows) {
    r.hardware_available = true;
    r.hardware_flops = flops("100000000000000000000000");
  }
  const Audit b = audit_of(off);
  CHECK_FALSE(b.within_tolerance);
  CHECK(to_decimal(b.bracket_high) == "300000000000000000000000");

  // The analytic figure above the counted one: the rule set's policy (highest) decides on it,
  // and the evaluator runs on that figure.
  TraceContents analytic = memory_trace();
  analytic.rows.back().analytic_flops += flops("4000000000000000000000");
  const Audit c = audit_of(analytic);
  CHECK(c.verdict_method == Method::Analytic);
  CHECK(to_decimal(c.verdict_flops) == "31000000000000000000000");
  CHECK(c.methods[1].used_by_verdict);
  CHECK_FALSE(c.methods[0].used_by_verdict);
}

TEST_CASE("Markdown report: exact tables, escaped text") {
  const std::string md = report_markdown(audit_of(memory_trace()));
  CHECK(contains(md, "**Status: downstream_user**"));
  CHECK(contains(md, "| Modification compute (2 significant figures) | 2.9e22 FLOP |"));
  CHECK(contains(md, "| Modification compute (exact) | 29000000000000000000000 FLOP |"));
  CHECK(contains(md, "| Threshold | 3.3e22 (33333333333333333333333 FLOP) |"));
  CHECK(contains(md, "| Fraction of the threshold | 87% |"));
  CHECK(contains(md, "| train | yes | 2.4e22 | 24000000000000000000000 |"));
  CHECK(contains(md, "| recompute | no | 5.5e19 | 55340232221128654851 |"));
  CHECK(contains(md, "| synthetic_data | yes | 5.0e21 | 5000000000000000000000 |"));
  CHECK(contains(md, "| fp32 | 2.4e22 | 24000000000000000000000 |"));
  CHECK(contains(md, "| cublas | 3.0e20 | 300000000000000000000 |"));
  CHECK(contains(md, "| AWS formula: (4 N_total + 2 N_trainable) x tokens | 3.0e22 | "
                     "30000000000000000000000 | no |  |"));
  CHECK(contains(md, "not applicable"));
  CHECK(contains(md, "Every available method is within 30%"));
  CHECK(contains(md, "2.7e22 – 3.3e22 FLOP"));
  CHECK(contains(md, "| 0 | 1001 | srun | node01,node02 | 8 | 2025-07-18T08:00:00Z |"));
  CHECK(contains(md, "notify by 2025-08-01"));
  CHECK(contains(md, "evil/&lt;script&gt;alert(1)&lt;/script&gt;"));
  CHECK_FALSE(contains(md, "<script>"));
  CHECK_FALSE(contains(md, "<svg"));
  CHECK(contains(md, "| 0 | model | {\"name\": \"m\""));
}

TEST_CASE("HTML report: self-contained, escaped, two charts") {
  const std::string html = report_html(audit_of(memory_trace()));
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK_FALSE(contains(html, "<script"));
  CHECK(contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  CHECK(contains(html, "&lt;script&gt;x()&lt;/script&gt; notify by 2025-08-01"));
  CHECK_FALSE(contains(html, "http"));
  CHECK_FALSE(contains(html, "src="));
  std::size_t charts = 0;
  for (std::size_t pos = html.find("<svg"); pos != std::string::npos;
       pos = html.find("<svg", pos + 1))
    ++charts;
  CHECK(charts == 2);
  CHECK(contains(html, "<td>29000000000000000000000 FLOP</td>"));
  CHECK(contains(html, "MIN-MAX over ranks"));
  CHECK(contains(html, "threshold 3.3e22"));
  CHECK(contains(html, "forecast at planned end 4.0e22"));

  TraceContents empty = memory_trace(false);
  empty.rows.clear();
  empty.events.clear();
  const std::string page = report_html(audit_of(empty));
  CHECK(contains(page, "No steps recorded."));
  CHECK(contains(page, "no steps recorded</text>"));
  CHECK(contains(report_markdown(audit_of(empty)), "**No steps recorded.**"));
}

TEST_CASE("CSV export: one exact row per step row") {
  const TraceContents t = memory_trace();
  const std::string csv = export_csv(audit_of(t));
  const std::vector<std::string> lines = split(csv, '\n');
  REQUIRE(lines.size() == 4);
  const std::vector<std::string> head = split(lines[0], ',');
  REQUIRE(head == export_csv_columns());
  CHECK(head[7] == "flops");
  CHECK(head[8] == "flops_precision_fp64");
  CHECK(head[8 + kPrecisions] == "flops_phase_train");
  CHECK(head[8 + kPrecisions + kPhases] == "flops_source_blas_gemm");
  auto column = [&](const std::string &name) {
    for (std::size_t i = 0; i < head.size(); ++i)
      if (head[i] == name) return i;
    FAIL("no column " << name);
    return std::size_t{0};
  };
  u128 total = 0;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> f = split(lines[i] + ",", ',');
    REQUIRE(f.size() == head.size());
    total += flops(f[column("flops")].c_str());
    CHECK(f[column("hardware_flops")].empty());
    CHECK(f[column("aws_flops")] == "10000000000000000000000");
    CHECK(f[column("status")] == "downstream_user");
    CHECK(f[column("verdict_method")] == "counted");
  }
  CHECK(to_decimal(total) == kCounted);
  const std::vector<std::string> last = split(lines[3] + ",", ',');
  CHECK(last[column("flops_phase_synthetic_data")] == "5000000000000000000000");
  CHECK(last[column("flops_precision_fp16")] == "18446744073709551617");
  CHECK(last[column("cumulative_modification")] == kModification);
  CHECK(last[column("cumulative_hf")] == "33000000000000000000000");
  CHECK(last[column("forecast_flops")] == "40000000000000000000000");
  CHECK(last[column("step_last")] == "30");
}

TEST_CASE("JSON export: the ledger and the AWS flops_meter.json keys") {
  const std::string text = export_json(audit_of(memory_trace()));
  const Json j = parse_json(text);
  // AWS keys, with AWS's types.
  CHECK(j["N_total"].number == 7000000000.0);
  CHECK(j["N_trainable"].number == 40000000.0);
  CHECK(contains(text, "\"tokens_processed\": 3000,"));
  CHECK(j["Flops_architecture"].text == "3.00e+22");
  CHECK(j["Flops_hardware"].kind == Json::Null);
  CHECK(j["Flops_original"].text == "1.00e+23");
  CHECK(j["threshold_type"].text == "30pct_of_actual_pretraining");
  CHECK(j["threshold_value"].text == "1.00e+23");
  CHECK(j["pct_of_pretrain"].number == doctest::Approx(0.3));
  CHECK(j["exceeds_30pct"].kind == Json::Bool);
  CHECK_FALSE(j["exceeds_30pct"].boolean); // 10 x 3e22 > 3 x 1e23 is false: exactly 30%
  CHECK(j["model_name"].text == "evil/<script>alert(1)</script>");
  CHECK(j["num_epochs"].kind == Json::Number);
  CHECK(j["training_duration_seconds"].number == 100.0);
  CHECK(j["gpu_size"].number == 8.0);
  CHECK(j["gpu_rank"].number == 0.0);
  CHECK(j["training_job_name"].text == "1001");
  CHECK(j["training_id"].text == "1001");
  CHECK(j["recipe_config"].kind == Json::String);
  CHECK(j["recipe_config_details"]["EVERY_STEPS"].text == "1");
  CHECK(j["gpu_name"].kind == Json::Null);
  CHECK(j["instance_type"].kind == Json::Null);
  CHECK(j["model_package_group_name"].kind == Json::Null);
  // The ledger.
  CHECK(j["format_version"].text == "1.3");
  CHECK(j["verdict"]["status"].text == "downstream_user");
  CHECK(j["verdict"]["modification_flops"].text == kModification);
  CHECK(j["verdict"]["method"].text == "counted");
  CHECK(j["totals"]["counted_flops"].text == kCounted);
  CHECK(j["totals"]["by_phase"]["train"].text == "24000000000000000000000");
  CHECK(j["totals"]["by_method"]["hf"].text == "33000000000000000000000");
  CHECK(j["totals"]["by_method"]["hardware"].kind == Json::Null);
  CHECK(j["methods"]["hardware"]["available"].boolean == false);
  CHECK(j["bracket"]["within_30_percent"].boolean);
  CHECK(j["forecast"]["flops"].text == "40000000000000000000000");
  CHECK(j["segments"][0]["state"].text == "clean");
  CHECK(j["events"][0]["kind"].text == "forecast_crossing");
  CHECK(j["events"][0]["step"].number == 30.0);
  CHECK(j["environment"][1]["value"].text == "node01,node02");
  REQUIRE(j["rows"].items.size() == 3);
  CHECK(j["rows"][2]["flops_by_phase"]["synthetic_data"].text == "5000000000000000000000");
  CHECK(j["rows"][2]["cumulative_modification"].text == kModification);

  // No model declared and the original compute unknown: AWS's defaults.
  TraceContents plain = memory_trace(false);
  plain.environment.clear();
  plain.header.original = OriginalModel{};
  const Json p = parse_json(export_json(audit_of(plain)));
  CHECK(p["N_total"].number == 0.0);
  CHECK(p["Flops_architecture"].kind == Json::Number);
  CHECK(p["Flops_original"].kind == Json::Null);
  CHECK(p["threshold_type"].text == "default_3.3e22");
  CHECK(p["threshold_value"].text == "3.30e+22");
  CHECK(p["flopledger_aws_basis"].text == "verdict_figure");
  CHECK(p["exceeds_30pct"].boolean == false); // 2.9e22 is not above 3.3e22
}
