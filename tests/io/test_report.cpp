// The report of a trace: exact figures in JSON (checked through a small JSON parser, so the
// output is also proven well-formed) and the text summary.
#include <doctest/doctest.h>

#include <cmath>
#include <string_view>
#include <vector>

#include "io/json.hpp"
#include "io/report.hpp"
#include "tests/io/fixtures.hpp"
#include "tests/io/json_parse.hpp"

using namespace fl_test;

namespace {

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

/// The known ledger of fixtures.hpp, read back.
TraceContents known_trace(const TempDir &dir) {
  const std::string path = dir.file("ledger.h5");
  write_known_ledger(path);
  TraceContents t;
  std::string error;
  REQUIRE_MESSAGE(read_trace(path, false, t, error), error);
  return t;
}

} // namespace

TEST_CASE("the report recomputes the known ledger exactly") {
  TempDir dir;
  const TraceContents trace = known_trace(dir);
  Report report;
  std::string error;
  REQUIRE_MESSAGE(make_report(trace, report, error), error);

  CHECK(to_decimal(report.counted_flops) == "45592233720368547758085");
  // train + synthetic data; eval and recompute do not count.
  CHECK(to_decimal(report.modification_flops) == "45000000000000000000000");
  CHECK(to_decimal(report.by_phase[FLOPLEDGER_PHASE_RECOMPUTE]) == "92233720368547758085");
  CHECK(to_decimal(report.tokens) == "100000000000000000000");
  CHECK(report.steps == 50);
  CHECK(report.ranks == 16);
  CHECK(report.totals_match_rows);
  CHECK(report.verdict.status == Status::Provider);
  CHECK(to_decimal(report.verdict.threshold_flops) == "33333333333333333333333");

  SUBCASE("JSON") {
    const std::string text = report_json(report);
    const Json j = parse_json(text);
    CHECK(j["format_version"].text == "1.3");
    CHECK(j["writer_version"].text == "9.9.9-test");
    CHECK(j["base_model"].text == "example/base-7b");
    CHECK(j["original_flops"].text == "100000000000000000000000");
    CHECK(j["original_systemic_risk"].boolean == false);
    CHECK(j["rule_set"].text == "eu-gpai-2025-07");
    CHECK(j["status"].text == "provider");
    CHECK(j["rule"].text == "known_original_fraction");
    CHECK_FALSE(j["reasoning"].text.empty());
    CHECK(j["threshold_flops"].text == "33333333333333333333333");
    CHECK(j["modification_flops"].text == "45000000000000000000000");
    CHECK(j["modification_flops_2sf"].text == "4.5e22");
    CHECK(j["fraction_of_threshold"].kind == Json::Number);
    CHECK(j["fraction_of_threshold"].number == doctest::Approx(1.35));
    CHECK(j["notify_commission"].kind == Json::Bool);
    CHECK(j["notify_commission"].boolean == false);
    CHECK(j["counted_flops"].text == "45592233720368547758085");
    const Json &precision = j["counted_flops_by_precision"];
    CHECK(precision["fp32"].text == "40000000000000000000000");
    CHECK(precision["bf16"].text == "500000000000000000000");
    CHECK(precision["fp16"].text == "92233720368547758085");
    CHECK(precision["fp8"].text == "5000000000000000000000");
    CHECK(precision["int8"].text == "0");
    CHECK(precision.keys.size() == kPrecisions);
    const Json &phase = j["counted_flops_by_phase"];
    CHECK(phase["train"].text == "40000000000000000000000");
    CHECK(phase["recompute"].text == "92233720368547758085");
    CHECK(phase["eval"].text == "500000000000000000000");
    CHECK(phase["synthetic_data"].text == "5000000000000000000000");
    CHECK(phase["other"].text == "0");
    const Json &source = j["counted_flops_by_source"];
    CHECK(source["blas_gemm"].text == "40000000000000000000000");
    CHECK(source["cublas"].text == "500000000000000000000");
    CHECK(source["cublaslt"].text == "92233720368547758085");
    CHECK(source["api"].text == "5000000000000000000000");
    CHECK(j["phases_counted"].items.size() == 3);
    CHECK(j["method"].text == "counted");
    CHECK(j["methods"]["counted"]["flops"].text == "45592233720368547758085");
    CHECK(j["methods"]["counted"]["description"].text ==
          "FLOPs of hooked BLAS/cuBLAS calls and API-reported FLOPs, exact");
    CHECK(j["tokens"].text == "100000000000000000000");
    CHECK(j["steps"].number == 50);
    CHECK(j["ranks"].number == 16);
    CHECK(j["rows"].number == 5);
    CHECK(j["totals_match_rows"].boolean == true);

    const Json &segments = j["segments"];
    REQUIRE(segments.items.size() == 2);
    CHECK(segments[0]["id"].number == 0);
    CHECK(segments[0]["job_id"].text == "1001");
    CHECK(segments[0]["launcher"].text == "srun");
    CHECK(segments[0]["hosts"].text == "node01,node02");
    CHECK(segments[0]["world_size"].number == 8);
    CHECK(segments[0]["start"].number == 1752825600.0);
    CHECK(segments[0]["start_utc"].text == "2025-07-18T08:00:00Z");
    CHECK(segments[0]["end"].number == 1752825700.0);
    CHECK(segments[0]["state"].text == "clean");
    CHECK(segments[0]["rows"].number == 3);
    CHECK(segments[1]["state"].text == "error");
    CHECK(segments[1]["exit_status"].number == 3);
    CHECK(segments[1]["first_row"].number == 3);

    const Json &events = j["events"];
    REQUIRE(events.items.size() == 2);
    CHECK(events[0]["row"].number == 1);
    CHECK(events[0]["kind"].text == "threshold_fraction");
    CHECK(events[0]["detail"].text == "crossed 50%");
    CHECK(events[1]["kind"].text == "threshold_crossed");
  }

  SUBCASE("text") {
    const std::string text = report_text(report);
    INFO(text);
    CHECK(text.rfind("Status: provider — ", 0) == 0);
    CHECK(contains(text, "Modification FLOPs:    4.5e22 (45000000000000000000000 FLOP)\n"));
    CHECK(contains(text, "Counted FLOPs:         4.6e22 (45592233720368547758085 FLOP)"));
    CHECK(contains(text, "Threshold:             3.3e22 (33333333333333333333333 FLOP)\n"));
    CHECK(contains(text, "Fraction of threshold: 135%\n"));
    CHECK(contains(text, "Rule:                  known_original_fraction\n"));
    CHECK(contains(text, "  fp32            4.0e22 (40000000000000000000000 FLOP)\n"));
    CHECK(contains(text, "  fp16            9.2e19 (92233720368547758085 FLOP)\n"));
    CHECK(contains(text, "(all other precisions: 0)"));
    CHECK(contains(text, "(all other phases: 0)"));
    CHECK(contains(text, "(all other sources: 0)"));
    CHECK(contains(text, "Steps: 50   Tokens: 100000000000000000000   Ranks: 16   Rows: 5"));
    CHECK(contains(text, "#0 clean: job 1001 via srun, 8 ranks on node01,node02, started "
                         "2025-07-18T08:00:00Z, ran 1m 40s, 3 rows"));
    CHECK(contains(text, "#1 error (exit status 3): job 1002 via mpirun"));
    CHECK(contains(text, "row 4  threshold_crossed: provider"));
    CHECK_FALSE(contains(text, "WARNING"));
  }
}

TEST_CASE("a segment left running is reported as not closed") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  std::string error;
  {
    auto writer = TraceWriter::open(path, make_header(), error);
    REQUIRE_MESSAGE(writer, error);
    u128 counted = 0, modification = 0;
    REQUIRE(writer->begin_segment(make_segment(0, "4242", 2)));
    REQUIRE(writer->append(make_row(0, 0, false, counted, modification)));
  } // the writer goes away without end_segment, as a killed job would
  TraceContents trace;
  REQUIRE_MESSAGE(read_trace(path, false, trace, error), error);
  Report report;
  REQUIRE_MESSAGE(make_report(trace, report, error), error);

  const Json j = parse_json(report_json(report));
  CHECK(j["segments"][0]["state"].text == "not_closed");
  CHECK(j["segments"][0]["end"].kind == Json::Null);
  CHECK(j["segments"][0]["last_row_time"].number == 1752825610.0);
  CHECK(j["status"].text == "downstream_user"); // 8e21 of 3.3e22
  const std::string text = report_text(report);
  CHECK(contains(text, "#0 not_closed: job 4242"));
  CHECK(contains(text, "not closed cleanly (last row at 2025-07-18T08:00:10Z)"));
}

TEST_CASE("report verdicts without a file") {
  TraceContents trace;
  trace.header = make_header("unknown");
  Report report;
  std::string error;

  SUBCASE("an empty ledger with unknown original compute") {
    REQUIRE(make_report(trace, report, error));
    const Json j = parse_json(report_json(report));
    CHECK(j["status"].text == "downstream_user");
    CHECK(j["rule"].text == "unknown_original_default");
    CHECK(j["original_flops"].text == "unknown");
    CHECK(j["threshold_flops"].text == "33333333333333333333333");
    CHECK(j["counted_flops"].text == "0");
    CHECK(j["fraction_of_threshold"].number == 0);
    CHECK(j["segments"].items.empty());
    const std::string text = report_text(report);
    CHECK(contains(text, "(all precisions: 0)"));
    CHECK(contains(text, "Fraction of threshold: 0%"));
  }
  SUBCASE("a systemic-risk original") {
    trace.header.original.systemic_risk = true;
    StepRow row;
    row.by_precision[FLOPLEDGER_PRECISION_BF16] = flops("4e24");
    row.by_phase[FLOPLEDGER_PHASE_TRAIN] = flops("4e24");
    row.by_source[FLOPLEDGER_SOURCE_CUBLAS] = flops("4e24");
    row.cumulative_counted = row.cumulative_modification = flops("4e24");
    trace.rows.push_back(row);
    REQUIRE(make_report(trace, report, error));
    const Json j = parse_json(report_json(report));
    CHECK(j["status"].text == "provider_systemic_risk");
    CHECK(j["notify_commission"].boolean == true);
    CHECK(j["threshold_flops"].text == "3333333333333333333333333");
    CHECK(report_text(report).rfind("Status: provider_systemic_risk — ", 0) == 0);
    CHECK(contains(report_text(report), "Notify Commission:     yes"));
  }
  SUBCASE("stored totals that do not match the rows") {
    StepRow row;
    row.by_precision[FLOPLEDGER_PRECISION_FP32] = 100;
    row.by_phase[FLOPLEDGER_PHASE_TRAIN] = 100;
    row.by_source[FLOPLEDGER_SOURCE_API] = 100;
    row.cumulative_counted = 101;
    row.cumulative_modification = 100;
    trace.rows.push_back(row);
    REQUIRE(make_report(trace, report, error));
    CHECK_FALSE(report.totals_match_rows);
    CHECK(parse_json(report_json(report))["totals_match_rows"].boolean == false);
    CHECK(contains(report_text(report), "WARNING: the stored cumulative totals"));
  }
  SUBCASE("an unknown rule set") {
    trace.header.rule_set = "eu-gpai-2099-01";
    CHECK_FALSE(make_report(trace, report, error));
    CHECK(contains(error, "rule set 'eu-gpai-2099-01'"));
    CHECK(contains(error, "built-in: eu-gpai-2025-07"));
  }
}

TEST_CASE("fractions are shown as percentages with three significant digits") {
  TraceContents trace;
  trace.header = make_header();
  Report report;
  report.trace = &trace;
  const std::pair<double, const char *> cases[] = {
      {0.123456, "12.3%"}, {1.35, "135%"},      {0.000123456, "0.0123%"},
      {12.3456, "1230%"},  {0.99996, "100%"},   {0.5, "50.0%"},
      {0, "0%"},           {0.0999999, "10.0%"}};
  for (const auto &[fraction, shown] : cases) {
    report.verdict.fraction_of_threshold = fraction;
    CAPTURE(fraction);
    CHECK(contains(report_text(report), std::string("Fraction of threshold: ") + shown + "\n"));
  }
}

TEST_CASE("JSON strings and values") {
  CHECK(json_quote("plain") == "\"plain\"");
  CHECK(json_quote("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(json_quote("tab\tnl\ncr\r\x01\x1f") == "\"tab\\tnl\\ncr\\r\\u0001\\u001f\"");
  CHECK(json_quote(std::string("nul\0x", 5)) == "\"nul\\u0000x\"");
  CHECK(json_quote("Llama\xE2\x80\x91"
                   "3 \xC3\xBC \xF0\x9F\x98\x80") == "\"Llama\xE2\x80\x91"
                                                     "3 \xC3\xBC \xF0\x9F\x98\x80\"");
  // Invalid UTF-8 (a lone continuation byte, a truncated sequence, an overlong form, a
  // surrogate) becomes U+FFFD per byte, so the output stays valid JSON.
  CHECK(json_quote("a\x80z") == "\"a\xEF\xBF\xBDz\"");
  CHECK(json_quote("\xE2\x82") == "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  CHECK(json_quote("\xC0\xAF") == "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  CHECK(json_quote("\xED\xA0\x80") == "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");

  JsonWriter compact;
  compact.begin_object()
      .field("s", "x")
      .field("n", std::uint64_t{18446744073709551615ULL})
      .field("i", std::int64_t{-5})
      .field("d", 0.1)
      .field("nan", std::nan(""))
      .field("t", true);
  compact.key("a").begin_array().value("1").begin_object().end_object().begin_array().end_array();
  compact.end_array().end_object();
  CHECK(compact.str() ==
        "{\"s\":\"x\",\"n\":18446744073709551615,\"i\":-5,\"d\":0.1,\"nan\":null,\"t\":true,"
        "\"a\":[\"1\",{},[]]}");

  JsonWriter pretty(2);
  pretty.begin_object().field("k", "v").key("a").begin_array().value(1.5).end_array().end_object();
  CHECK(pretty.str() == "{\n  \"k\": \"v\",\n  \"a\": [\n    1.5\n  ]\n}");

  // A report whose strings hold every awkward character still parses back to the same text.
  TraceContents trace;
  trace.header = make_header();
  trace.header.base_model = "quote\" back\\slash\nnew\x02line \xC3\xA9";
  Report report;
  std::string error;
  REQUIRE(make_report(trace, report, error));
  CHECK(parse_json(report_json(report))["base_model"].text == trace.header.base_model);
}

TEST_CASE("FLOPs per host: shown when recorded, and why not when not") {
  TraceContents trace;
  trace.header = make_header("unknown");
  Segment clean;
  clean.id = 0;
  clean.hosts = "nodeA,nodeB";
  clean.state = FLOPLEDGER_SEGMENT_CLEAN;
  Segment killed = clean;
  killed.id = 1;
  killed.state = FLOPLEDGER_SEGMENT_KILLED;
  Segment old_writer = clean;
  old_writer.id = 2;
  trace.segments = {clean, killed, old_writer};
  // Above 2^64: the figures are exact 128-bit integers.
  trace.environment.push_back({0, "flops_per_host", "nodeA=36893488147419103232 nodeB=7"});
  trace.environment.push_back({0, "flops_per_host_toward_threshold", "nodeA=5 nodeB=7"});
  Report report;
  std::string error;
  REQUIRE(make_report(trace, report, error));

  std::string why;
  const std::vector<HostFlops> hosts = flops_per_host(trace, trace.segments[0], why);
  REQUIRE(hosts.size() == 2);
  CHECK(hosts[0].host == "nodeA");
  CHECK(to_decimal(hosts[0].flops) == "36893488147419103232");
  CHECK(to_decimal(hosts[0].flops_toward_threshold) == "5");
  CHECK(hosts[1].host == "nodeB");
  CHECK(why.empty());
  CHECK(flops_per_host(trace, trace.segments[1], why).empty());
  CHECK(why == "not recorded: the job did not end with every rank (segment killed)");

  const Json j = parse_json(report_json(report));
  CHECK(j["segments"][0]["flops_per_host"][0]["host"].text == "nodeA");
  CHECK(j["segments"][0]["flops_per_host"][0]["flops"].text == "36893488147419103232");
  CHECK(j["segments"][0]["flops_per_host"][1]["flops_toward_threshold"].text == "7");
  CHECK(j["segments"][0]["flops_per_host_missing"].kind == Json::Null);
  CHECK(j["segments"][1]["flops_per_host"].kind == Json::Null);
  CHECK(j["segments"][1]["flops_per_host_missing"].text ==
        "not recorded: the job did not end with every rank (segment killed)");
  CHECK(contains(j["segments"][2]["flops_per_host_missing"].text,
                 "written by a flopledger without per-host subtotals"));

  const std::string text = report_text(report);
  CHECK(contains(text, "FLOPs per host: nodeA=36893488147419103232 nodeB=7\n"));
  CHECK(contains(text, "FLOPs per host toward the threshold: nodeA=5 nodeB=7\n"));
  CHECK(contains(text, "FLOPs per host: not recorded: the job did not end with every rank "
                       "(segment killed)\n"));

  SUBCASE("an entry that is not host=integer pairs is not shown as figures") {
    trace.environment[0].value = "nodeA=1.5e3";
    CHECK(flops_per_host(trace, trace.segments[0], why).empty());
    CHECK(why == "not recorded: the flops_per_host entry cannot be read");
  }
}
