// flopledger merge: ledgers of one modification written separately, combined with exact totals,
// renumbering, the verdict evaluated again, provenance; and every refusal.
#include <doctest/doctest.h>

#include <hdf5.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "io/merge.hpp"
#include "tests/io/fixtures.hpp"

using namespace fl_test;

namespace {

constexpr double kT0 = 1752825600.0; // 2025-07-18T08:00:00Z

/// One job of a test ledger.
struct Job {
  const char *job_id;
  double start, end; ///< end 0: never closed
  int rows;
  bool synthetic_last = false; ///< synthetic-data FLOPs in its last row
  std::uint8_t state = FLOPLEDGER_SEGMENT_CLEAN;
  std::int32_t exit_status = 0;
  double row_t_end = 0; ///< when not 0: the t_end of its last row
};

/// Writes a ledger of `jobs`, one segment each, with make_row's periods, and one event per job
/// ("note", detail = job id) at the row after the job's first row.
void write_ledger(const std::string &path, const std::vector<Job> &jobs,
                  const TraceHeader &header = make_header()) {
  std::string error;
  auto writer = TraceWriter::open(path, header, error);
  REQUIRE_MESSAGE(writer, error);
  u128 counted = 0, modification = 0;
  for (const Job &job : jobs) {
    Segment segment = make_segment(writer->next_segment_id(), job.job_id, 4);
    segment.start = job.start;
    REQUIRE(writer->begin_segment(segment));
    for (int i = 0; i < job.rows; ++i) {
      StepRow row = make_row(writer->next_row(), segment.id,
                             job.synthetic_last && i + 1 == job.rows, counted, modification);
      row.t_start = job.start + 10.0 * i;
      row.t_end = row.t_start + 10.0;
      if (job.row_t_end != 0 && i + 1 == job.rows) row.t_end = job.row_t_end;
      REQUIRE_MESSAGE(writer->append(row), writer->error());
      if (i == 0)
        REQUIRE(writer->add_event({writer->next_row(), job.start + 5.0, "note", job.job_id}));
    }
    if (job.state != FLOPLEDGER_SEGMENT_RUNNING)
      REQUIRE(writer->end_segment(job.end, job.state, job.exit_status));
  }
  REQUIRE(writer->close());
}

u128 period_total(const StepRow &row) {
  u128 sum = 0;
  for (const u128 v : row.by_precision)
    sum += v;
  return sum;
}

u128 period_modification(const StepRow &row) {
  u128 sum = 0;
  for (std::size_t i = 0; i < kPhases; ++i)
    if (default_rule_set().phase_counts[i]) sum += row.by_phase[i];
  return sum;
}

TraceContents read(const std::string &path) {
  TraceContents t;
  std::string error;
  REQUIRE_MESSAGE(read_trace(path, false, t, error), error);
  return t;
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

std::vector<const Event *> events_of_kind(const TraceContents &t, const std::string &kind) {
  std::vector<const Event *> out;
  for (const Event &e : t.events)
    if (e.kind == kind) out.push_back(&e);
  return out;
}

void set_string_attribute(const std::string &path, const char *name, const std::string &value) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(file >= 0);
  H5Adelete(file, name);
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, value.size());
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attr = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(attr >= 0);
  REQUIRE(H5Awrite(attr, type, value.data()) >= 0);
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
  H5Fclose(file);
}

void set_uint32_attribute(const std::string &path, const char *name, std::uint32_t value) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(file >= 0);
  H5Adelete(file, name);
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attr = H5Acreate2(file, name, H5T_NATIVE_UINT32, space, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(attr >= 0);
  REQUIRE(H5Awrite(attr, H5T_NATIVE_UINT32, &value) >= 0);
  H5Aclose(attr);
  H5Sclose(space);
  H5Fclose(file);
}

/// Drops every event of a ledger (as if its events had been lost or edited away).
void drop_events(const std::string &path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(file >= 0);
  const hid_t events = H5Dopen2(file, FLOPLEDGER_DSET_EVENTS, H5P_DEFAULT);
  REQUIRE(events >= 0);
  const hsize_t zero[1] = {0};
  REQUIRE(H5Dset_extent(events, zero) >= 0);
  H5Dclose(events);
  H5Fclose(file);
}

std::string read_bytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

} // namespace

TEST_CASE("two ledgers of one modification merge into one with exact totals") {
  TempDir dir;
  const std::string a = dir.file("sft.h5"), b = dir.file("dpo.h5"), out = dir.file("all.h5");
  // SFT: two jobs, 08:00 and 10:00; preference tuning on another cluster at 09:00, in between.
  write_ledger(a, {{"sft-1", kT0, kT0 + 1800, 2},
                   {"sft-2", kT0 + 7200, kT0 + 9000, 1, true, FLOPLEDGER_SEGMENT_ERROR, 3}});
  write_ledger(b, {{"dpo-1", kT0 + 3600, kT0 + 5400, 2}});
  const TraceContents ta = read(a), tb = read(b);

  MergeOptions options;
  options.now = kT0 + 86400;
  MergeSummary summary;
  std::string error;
  REQUIRE_MESSAGE(merge_ledgers({a, b}, out, options, summary, error), error);
  const TraceContents t = read(out);

  SUBCASE("segments in start order, renumbered, their end states kept") {
    REQUIRE(t.segments.size() == 3);
    CHECK(t.segments[0].job_id == "sft-1");
    CHECK(t.segments[1].job_id == "dpo-1");
    CHECK(t.segments[2].job_id == "sft-2");
    const std::uint64_t first_rows[] = {0, 2, 4}, rows[] = {2, 2, 1};
    for (std::uint32_t i = 0; i < 3; ++i) {
      CHECK(t.segments[i].id == i);
      CHECK(t.segments[i].first_row == first_rows[i]);
      CHECK(t.segments[i].rows == rows[i]);
    }
    CHECK(t.segments[1].start == kT0 + 3600);
    CHECK(t.segments[1].end == kT0 + 5400);
    CHECK(t.segments[1].state == FLOPLEDGER_SEGMENT_CLEAN);
    CHECK(t.segments[2].end == kT0 + 9000);
    CHECK(t.segments[2].state == FLOPLEDGER_SEGMENT_ERROR);
    CHECK(t.segments[2].exit_status == 3);
    CHECK(t.segments[2].world_size == 4);
    CHECK(t.segments[2].hosts == "node01,node02");
  }

  SUBCASE("rows renumbered, periods and steps kept, totals summed exactly") {
    REQUIRE(t.rows.size() == 5);
    const StepRow *sources[] = {&ta.rows[0], &ta.rows[1], &tb.rows[0], &tb.rows[1], &ta.rows[2]};
    u128 counted = 0, modification = 0;
    for (std::size_t i = 0; i < 5; ++i) {
      const StepRow &row = t.rows[i];
      CHECK(row.row == i);
      CHECK(row.segment == (i < 2 ? 0u : i < 4 ? 1u : 2u));
      CHECK(row.period.step_first == sources[i]->period.step_first);
      CHECK(row.period.step_last == sources[i]->period.step_last);
      CHECK(row.t_end == sources[i]->t_end);
      CHECK(row.period.tokens == sources[i]->period.tokens);
      for (std::size_t p = 0; p < kPrecisions; ++p)
        CHECK(row.by_precision[p] == sources[i]->by_precision[p]);
      counted += period_total(row);
      modification += period_modification(row);
      CHECK(row.cumulative_counted == counted);
      CHECK(row.cumulative_modification == modification);
    }
    // 5 x (8e21 train + 1e20 eval + 2^64+1 recompute) + 5e21 synthetic, exactly.
    CHECK(counted == flops("45592233720368547758085"));
    CHECK(modification == flops("45000000000000000000000"));
    CHECK(counted == ta.rows.back().cumulative_counted + tb.rows.back().cumulative_counted);
    CHECK(summary.counted == counted);
    CHECK(summary.modification == modification);
    CHECK(summary.rows == 5);
    CHECK(summary.segments == 3);
  }

  SUBCASE("the verdict is evaluated again on the merged modification") {
    // Threshold: one third of 1e23. Neither input alone crosses it (2.9e22, 1.6e22); together
    // they do, at the last row (8e21 x 4 = 3.2e22, then 4.5e22).
    for (std::size_t i = 0; i < 4; ++i) {
      CHECK(t.rows[i].status == Status::DownstreamUser);
      CHECK(t.rows[i].threshold_flops == flops("33333333333333333333333"));
      CHECK(t.rows[i].verdict_flops == t.rows[i].cumulative_modification);
    }
    CHECK(t.rows[4].status == Status::Provider);
    CHECK(t.rows[4].fraction_of_threshold == doctest::Approx(1.35));
    CHECK(summary.verdict.status == Status::Provider);
  }

  SUBCASE("events moved to their rows, one merged_from event per input") {
    const auto notes = events_of_kind(t, "note");
    REQUIRE(notes.size() == 3);
    CHECK(notes[0]->detail == "sft-1");
    CHECK(notes[0]->row == 1);
    CHECK(notes[1]->detail == "dpo-1");
    CHECK(notes[1]->row == 3); // row 1 of dpo.h5
    CHECK(notes[2]->detail == "sft-2");
    CHECK(notes[2]->row == 5); // row 3 of sft.h5
    const auto from = events_of_kind(t, "merged_from");
    REQUIRE(from.size() == 2);
    CHECK(from[0]->row == 5);
    CHECK(from[0]->time == kT0 + 86400);
    CHECK(contains(from[0]->detail, "sft.h5: format 1."));
    CHECK(contains(from[0]->detail, "2 segments (0,1 -> 0,2), 3 rows, counted " +
                                        to_decimal(ta.rows.back().cumulative_counted)));
    CHECK(contains(from[1]->detail, "dpo.h5"));
    CHECK(contains(from[1]->detail, "1 segments (0 -> 1), 2 rows"));
    CHECK(events_of_kind(t, "concurrent_segments").empty());
    REQUIRE(summary.inputs.size() == 2);
    CHECK(summary.inputs[0].segments_out == std::vector<std::uint32_t>{0, 2});
  }

  SUBCASE("the header is the ledger's, in the current format") {
    CHECK(t.header.rule_set == ta.header.rule_set);
    CHECK(t.header.base_model == "example/base-7b");
    CHECK(t.header.original.training_flops == flops("100000000000000000000000"));
    CHECK(t.header.format_major == FLOPLEDGER_FORMAT_MAJOR);
    CHECK(t.header.format_minor == FLOPLEDGER_FORMAT_MINOR);
    CHECK(t.header.config == ta.header.config);
  }
  CHECK_FALSE(std::filesystem::exists(out + ".merging-" + std::to_string(::getpid())));
}

TEST_CASE("a single 1.0 ledger merged alone is upgraded to the current format") {
  TempDir dir;
  const std::string old = dir.file("old.h5"), out = dir.file("new.h5");
  write_known_ledger(old);
  set_uint32_attribute(old, FLOPLEDGER_ATTR_FORMAT_MINOR, 0);
  const TraceContents before = read(old);
  REQUIRE(before.header.format_minor == 0);
  MergeSummary summary;
  std::string error;
  REQUIRE_MESSAGE(merge_ledgers({old}, out, MergeOptions{}, summary, error), error);
  const TraceContents t = read(out);
  CHECK(t.header.format_minor == FLOPLEDGER_FORMAT_MINOR);
  REQUIRE(t.rows.size() == before.rows.size());
  CHECK(t.rows.back().cumulative_counted == before.rows.back().cumulative_counted);
  CHECK(t.segments.size() == 2);
  CHECK(t.segments[1].exit_status == 3);
  const auto from = events_of_kind(t, "merged_from");
  REQUIRE(from.size() == 1);
  CHECK(contains(from[0]->detail, "format 1.0"));
  CHECK(events_of_kind(t, "threshold_crossed").size() == 1);
}

TEST_CASE("a cumulative gap recorded by the job is carried, not dropped") {
  TempDir dir;
  const std::string a = dir.file("a.h5"), b = dir.file("b.h5"), out = dir.file("out.h5");
  std::string error;
  {
    auto writer = TraceWriter::open(a, make_header(), error);
    REQUIRE_MESSAGE(writer, error);
    Segment segment = make_segment(0, "gap", 1);
    segment.start = kT0 + 3600;
    REQUIRE(writer->begin_segment(segment));
    u128 counted = 0, modification = 0;
    REQUIRE(writer->append(make_row(0, 0, false, counted, modification)));
    make_row(1, 0, false, counted, modification); // reduced, but its append failed
    REQUIRE(writer->append(make_row(1, 0, false, counted, modification)));
    REQUIRE(writer->end_segment(kT0 + 3700, FLOPLEDGER_SEGMENT_CLEAN, 0));
  }
  write_ledger(b, {{"before", kT0, kT0 + 100, 1}});
  const u128 lost = read(a).rows.back().cumulative_counted - 2 * period_total(read(a).rows[0]);

  SUBCASE("merged totals include the lost period, with one cumulative_gap event") {
    MergeSummary summary;
    REQUIRE_MESSAGE(merge_ledgers({a, b}, out, MergeOptions{}, summary, error), error);
    const TraceContents t = read(out);
    REQUIRE(t.rows.size() == 3);
    const u128 sum = period_total(t.rows[0]) + period_total(t.rows[1]) + period_total(t.rows[2]);
    CHECK(t.rows[2].cumulative_counted == sum + lost);
    const auto gaps = events_of_kind(t, "cumulative_gap");
    REQUIRE(gaps.size() == 1);
    CHECK(gaps[0]->row == 2);
  }
  SUBCASE("without the event the input is refused") {
    drop_events(a);
    MergeSummary summary;
    CHECK_FALSE(merge_ledgers({a, b}, out, MergeOptions{}, summary, error));
    CHECK(contains(error, a + ": row 1 stores cumulative counted"));
    CHECK(contains(error, "no cumulative_gap event explains"));
    CHECK_FALSE(std::filesystem::exists(out));
  }
}

TEST_CASE("segments that were never closed") {
  TempDir dir;
  const std::string a = dir.file("a.h5"), b = dir.file("b.h5"), out = dir.file("out.h5");
  MergeSummary summary;
  std::string error;

  SUBCASE("bounded by their last row's t_end") {
    write_ledger(a, {{"killed", kT0, 0, 2, false, FLOPLEDGER_SEGMENT_RUNNING, 0, kT0 + 600}});
    write_ledger(b, {{"later", kT0 + 601, kT0 + 900, 1}});
    REQUIRE_MESSAGE(merge_ledgers({b, a}, out, MergeOptions{}, summary, error), error);
    const TraceContents t = read(out);
    REQUIRE(t.segments.size() == 2);
    CHECK(t.segments[0].job_id == "killed");
    CHECK(t.segments[0].state == FLOPLEDGER_SEGMENT_RUNNING);
    CHECK(t.segments[0].end == 0);
    CHECK(t.segments[0].rows == 2);
    CHECK(t.segments[1].state == FLOPLEDGER_SEGMENT_CLEAN);
  }
  SUBCASE("a later job starting before that row's t_end overlaps") {
    write_ledger(a, {{"killed", kT0, 0, 2, false, FLOPLEDGER_SEGMENT_RUNNING, 0, kT0 + 600}});
    write_ledger(b, {{"later", kT0 + 599, kT0 + 900, 1}});
    CHECK_FALSE(merge_ledgers({a, b}, out, MergeOptions{}, summary, error));
    CHECK(contains(error, "overlap in time"));
  }
  SUBCASE("without rows, one overlaps everything after its start") {
    write_ledger(a, {{"silent", kT0, 0, 0, false, FLOPLEDGER_SEGMENT_RUNNING}});
    write_ledger(b, {{"much-later", kT0 + 86400 * 30, kT0 + 86400 * 31, 1}});
    CHECK_FALSE(merge_ledgers({a, b}, out, MergeOptions{}, summary, error));
    CHECK(contains(error, "runs until its unknown end"));
  }
}

TEST_CASE("concurrent jobs merge only with allow_concurrent, which is recorded") {
  TempDir dir;
  const std::string a = dir.file("a.h5"), b = dir.file("b.h5"), out = dir.file("out.h5");
  write_ledger(a, {{"gen", kT0, kT0 + 1000, 2}});
  write_ledger(b, {{"sft", kT0 + 500, kT0 + 2000, 1}});
  MergeOptions options;
  MergeSummary summary;
  std::string error;
  CHECK_FALSE(merge_ledgers({a, b}, out, options, summary, error));
  CHECK(contains(error, "segments of different inputs overlap in time"));
  CHECK(contains(error, "job_id 'gen'"));
  CHECK(contains(error, "job_id 'sft'"));
  CHECK(contains(error, "--allow-concurrent"));
  CHECK_FALSE(std::filesystem::exists(out));

  options.allow_concurrent = true;
  REQUIRE_MESSAGE(merge_ledgers({a, b}, out, options, summary, error), error);
  CHECK(summary.concurrent_pairs == 1);
  const TraceContents t = read(out);
  const auto concurrent = events_of_kind(t, "concurrent_segments");
  REQUIRE(concurrent.size() == 1);
  CHECK(concurrent[0]->row == 2);
  CHECK(contains(concurrent[0]->detail, "segment 1 (job 'sft') ran while segment 0 (job 'gen')"));
  CHECK(t.rows.back().cumulative_counted ==
        read(a).rows.back().cumulative_counted + read(b).rows.back().cumulative_counted);
}

TEST_CASE("merge refuses inputs that are not one ledger, duplicates and a bad output") {
  TempDir dir;
  const std::string a = dir.file("a.h5"), b = dir.file("b.h5"), out = dir.file("out.h5");
  write_ledger(a, {{"one", kT0, kT0 + 100, 1}});
  MergeSummary summary;
  std::string error;

  SUBCASE("different base model") {
    TraceHeader header = make_header();
    header.base_model = "example/other-13b";
    write_ledger(b, {{"two", kT0 + 200, kT0 + 300, 1}}, header);
    CHECK_FALSE(merge_ledgers({a, b}, out, MergeOptions{}, summary, error));
    CHECK(contains(error, a + " and " + b + " are not ledgers of the same modification"));
    CHECK(contains(error,
                   "base_model is 'example/base-7b' in " + a + " but 'example/other-13b' in " + b));
  }
  SUBCASE("different rule set") {
    write_ledger(b, {{"two", kT0 + 200, kT0 + 300, 1}});
    set_string_attribute(b, FLOPLEDGER_ATTR_RULE_SET, "eu-gpai-2099-01");
    CHECK_FALSE(merge_ledgers({a, b}, out, MergeOptions{}, summary, error));
    CHECK(contains(error, "rule_set is 'eu-gpai-2025-07' in " + a + " but 'eu-gpai-2099-01'"));
  }
  SUBCASE("different original compute") {
    write_ledger(b, {{"two", kT0 + 200, kT0 + 300, 1}}, make_header("unknown"));
    CHECK_FALSE(merge_ledgers({a, b}, out, MergeOptions{}, summary, error));
    CHECK(contains(error,
                   "original_flops is 100000000000000000000000 in " + a + " but unknown in " + b));
  }
  SUBCASE("different systemic-risk flag") {
    TraceHeader header = make_header();
    header.original.systemic_risk = true;
    write_ledger(b, {{"two", kT0 + 200, kT0 + 300, 1}}, header);
    CHECK_FALSE(merge_ledgers({a, b}, out, MergeOptions{}, summary, error));
    CHECK(contains(error, "original_systemic_risk is 0 in " + a + " but 1 in " + b));
  }
  SUBCASE("the same job in two inputs (a copied ledger)") {
    std::filesystem::copy_file(a, b);
    CHECK_FALSE(merge_ledgers({a, b}, out, MergeOptions{}, summary, error));
    CHECK(contains(error, "the same job is in two inputs"));
    CHECK(contains(error, "counted twice"));
    MergeOptions concurrent;
    concurrent.allow_concurrent = true; // never makes a duplicate acceptable
    CHECK_FALSE(merge_ledgers({a, b}, out, concurrent, summary, error));
    CHECK(contains(error, "the same job is in two inputs"));
  }
  SUBCASE("one file given twice") {
    CHECK_FALSE(merge_ledgers({a, a}, out, MergeOptions{}, summary, error));
    CHECK(contains(error, a + " is given twice"));
  }
  SUBCASE("overlapping jobs") {
    write_ledger(b, {{"two", kT0 + 50, kT0 + 300, 1}});
    CHECK_FALSE(merge_ledgers({a, b}, out, MergeOptions{}, summary, error));
    CHECK(contains(error, "overlap in time"));
  }
  SUBCASE("an output that exists, replaced only with force") {
    write_ledger(b, {{"two", kT0 + 200, kT0 + 300, 1}});
    { std::ofstream(out) << "keep me"; }
    CHECK_FALSE(merge_ledgers({a, b}, out, MergeOptions{}, summary, error));
    CHECK(contains(error, out + ": exists; choose a new file or pass --force"));
    CHECK(read_bytes(out) == "keep me");
    MergeOptions force;
    force.force = true;
    REQUIRE_MESSAGE(merge_ledgers({a, b}, out, force, summary, error), error);
    CHECK(read(out).rows.size() == 2);
  }
  SUBCASE("an output that is one of the inputs, even with force") {
    write_ledger(b, {{"two", kT0 + 200, kT0 + 300, 1}});
    const std::string before = read_bytes(b);
    MergeOptions force;
    force.force = true;
    CHECK_FALSE(merge_ledgers({a, b}, b, force, summary, error));
    CHECK(contains(error, b + " is also an input"));
    CHECK(read_bytes(b) == before);
  }
  SUBCASE("an input that is not a ledger") {
    { std::ofstream(b) << "not hdf5"; }
    CHECK_FALSE(merge_ledgers({a, b}, out, MergeOptions{}, summary, error));
    CHECK(contains(error, b));
    CHECK_FALSE(std::filesystem::exists(out));
  }
  SUBCASE("no input") {
    CHECK_FALSE(merge_ledgers({}, out, MergeOptions{}, summary, error));
    CHECK(contains(error, "no input ledger"));
  }
}

TEST_CASE("format 1.1 figures, environment and event figures are carried") {
  TempDir dir;
  const std::string a = dir.file("a.h5"), b = dir.file("b.h5"), out = dir.file("out.h5");
  std::string error;
  // Ledger a: two rows whose analytic total is the runtime's own running figure (150, then 200),
  // the verdict decided on it, a forecast, an environment entry, an event with its figures.
  auto write_a = [&](u128 second_analytic) {
    TraceHeader header = make_header();
    header.rule_set_text = flopledger::default_rule_set().text;
    auto writer = TraceWriter::open(a, header, error);
    REQUIRE_MESSAGE(writer, error);
    Segment segment = make_segment(0, "a", 2);
    segment.start = kT0;
    REQUIRE(writer->begin_segment(segment));
    REQUIRE(writer->add_environment({0, "git_commit", "abc"}));
    u128 counted = 0, modification = 0;
    const u128 analytic[] = {150, second_analytic};
    for (std::uint64_t i = 0; i < 2; ++i) {
      StepRow row = make_row(i, 0, false, counted, modification);
      row.analytic_available = true;
      row.analytic_flops = 100;
      row.cumulative_analytic = analytic[i];
      row.verdict_method = Method::Analytic;
      row.verdict_flops = analytic[i];
      row.forecast_available = true;
      row.forecast_flops = analytic[i] + 1000; // projects the verdict figure
      REQUIRE_MESSAGE(writer->append(row), writer->error());
    }
    REQUIRE(writer->add_event({2, kT0 + 30, "forecast_crossing", "soon", 42, 7}));
    REQUIRE(writer->end_segment(kT0 + 100, FLOPLEDGER_SEGMENT_CLEAN, 0));
  };
  {
    auto writer = TraceWriter::open(b, make_header(), error);
    REQUIRE_MESSAGE(writer, error);
    Segment segment = make_segment(0, "b", 2);
    segment.start = kT0 - 3600;
    REQUIRE(writer->begin_segment(segment));
    REQUIRE(writer->add_environment({0, "git_commit", "def"}));
    u128 counted = 0, modification = 0;
    StepRow row = make_row(0, 0, false, counted, modification);
    row.analytic_available = true;
    row.analytic_flops = 30;
    row.cumulative_analytic = 30;
    REQUIRE_MESSAGE(writer->append(row), writer->error());
    REQUIRE(writer->end_segment(kT0 - 3000, FLOPLEDGER_SEGMENT_CLEAN, 0));
  }

  SUBCASE("carried and summed per segment") {
    write_a(200);
    MergeSummary summary;
    REQUIRE_MESSAGE(merge_ledgers({a, b}, out, MergeOptions{}, summary, error), error);
    const TraceContents t = read(out);
    CHECK(t.header.rule_set_text == flopledger::default_rule_set().text);
    REQUIRE(t.rows.size() == 3);
    CHECK(t.rows[0].cumulative_analytic == 30);
    CHECK(t.rows[1].cumulative_analytic == 180);
    CHECK(t.rows[2].cumulative_analytic == 230);
    CHECK(t.rows[0].verdict_method == Method::Counted);
    CHECK(t.rows[0].verdict_flops == t.rows[0].cumulative_modification);
    // The rule set's policy (highest) over the merged figures: counted is the larger here.
    CHECK(t.rows[2].verdict_method == Method::Counted);
    CHECK(t.rows[2].verdict_flops == t.rows[2].cumulative_modification);
    CHECK(t.rows[2].status == Status::DownstreamUser);
    // The forecast moves with the verdict figure: the input's projection plus the difference
    // between the merged figure and the input's own at that row (150, then 200).
    CHECK(t.rows[1].forecast_available);
    CHECK(t.rows[1].forecast_flops == 1150 + t.rows[1].verdict_flops - 150);
    CHECK(t.rows[2].forecast_flops == 1200 + t.rows[2].verdict_flops - 200);
    REQUIRE(t.environment.size() == 2);
    CHECK(t.environment[0].segment == 0);
    CHECK(t.environment[0].value == "def");
    CHECK(t.environment[1].segment == 1);
    CHECK(t.environment[1].value == "abc");
    const auto forecast = events_of_kind(t, "forecast_crossing");
    REQUIRE(forecast.size() == 1);
    CHECK(forecast[0]->row == 3);
    CHECK(forecast[0]->step == 42);
    CHECK(forecast[0]->flops == 7);
    const auto from = events_of_kind(t, "merged_from");
    REQUIRE(from.size() == 2);
    CHECK(from[0]->flops == read(a).rows.back().cumulative_modification);
  }
  SUBCASE("a running total that decreases is refused") {
    write_a(149);
    MergeSummary summary;
    CHECK_FALSE(merge_ledgers({a, b}, out, MergeOptions{}, summary, error));
    CHECK(contains(error, a + ": row 1 stores cumulative analytic 149, less than the previous "
                              "row's 150"));
  }
}
