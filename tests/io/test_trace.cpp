// HDF5 trace round trips: exact 128-bit values, reopening, refusals, damaged and foreign files,
// and a writer killed after a flush.
#include <doctest/doctest.h>

#include <hdf5.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/trace_schema.hpp"
#include "tests/io/fixtures.hpp"

using namespace fl_test;

namespace {

/// Opens `path` read-write with raw HDF5 (no flopledger code) to damage or alter it.
class RawFile {
public:
  explicit RawFile(const std::string &path) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    id_ = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(id_ >= 0);
  }
  ~RawFile() { H5Fclose(id_); }
  hid_t id() const { return id_; }

  void set_uint32(const char *name, std::uint32_t value) {
    H5Adelete(id_, name);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attr = H5Acreate2(id_, name, H5T_NATIVE_UINT32, space, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(attr >= 0);
    REQUIRE(H5Awrite(attr, H5T_NATIVE_UINT32, &value) >= 0);
    H5Aclose(attr);
    H5Sclose(space);
  }
  void set_string(const char *name, const std::string &value) {
    H5Adelete(id_, name);
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, value.size());
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attr = H5Acreate2(id_, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(attr >= 0);
    REQUIRE(H5Awrite(attr, type, value.data()) >= 0);
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
  }

private:
  hid_t id_ = -1;
};

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

std::string read_bytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

} // namespace

TEST_CASE("a ledger with two segments and 128-bit counts reads back exactly") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  write_known_ledger(path);

  TraceContents t;
  std::string error;
  REQUIRE_MESSAGE(read_trace(path, false, t, error), error);

  SUBCASE("root attributes") {
    CHECK(t.header.format_major == 1);
    CHECK(t.header.format_minor == FLOPLEDGER_FORMAT_MINOR);
    CHECK(t.header.writer_version == "9.9.9-test");
    CHECK(t.header.created_utc.size() == 20); // 2025-07-18T08:00:00Z
    CHECK(t.header.created_utc.back() == 'Z');
    CHECK(t.header.rule_set == "eu-gpai-2025-07");
    CHECK(t.header.original.compute_known);
    CHECK(to_decimal(t.header.original.training_flops) == "100000000000000000000000");
    CHECK_FALSE(t.header.original.systemic_risk);
    CHECK(t.header.base_model == "example/base-7b");
    REQUIRE(t.header.config.size() == 3);
    CHECK(t.header.config[1].first == "LEDGER");
    CHECK(t.header.config[1].second == "ledger.h5");
  }

  SUBCASE("segments") {
    REQUIRE(t.segments.size() == 2);
    const Segment &a = t.segments[0], &b = t.segments[1];
    CHECK(a.id == 0);
    CHECK(a.job_id == "1001");
    CHECK(a.launcher == "srun");
    CHECK(a.hosts == "node01,node02");
    CHECK(a.world_size == 8);
    CHECK(a.start == 1752825600.0);
    CHECK(a.end == 1752825700.0);
    CHECK(a.state == FLOPLEDGER_SEGMENT_CLEAN);
    CHECK(a.exit_status == 0);
    CHECK(a.first_row == 0);
    CHECK(a.rows == 3);
    CHECK(b.id == 1);
    CHECK(b.job_id == "1002");
    CHECK(b.launcher == "mpirun");
    CHECK(b.world_size == 16);
    CHECK(b.state == FLOPLEDGER_SEGMENT_ERROR);
    CHECK(b.exit_status == 3);
    CHECK(b.first_row == 3);
    CHECK(b.rows == 2);
  }

  SUBCASE("step rows") {
    REQUIRE(t.rows.size() == 5);
    for (std::uint64_t i = 0; i < 5; ++i) {
      const StepRow &r = t.rows[i];
      CAPTURE(i);
      CHECK(r.row == i);
      CHECK(r.segment == (i < 3 ? 0u : 1u));
      CHECK(r.t_start == 1752825600.0 + 10.0 * static_cast<double>(i));
      CHECK(r.t_end == r.t_start + 10.0);
      CHECK(to_decimal(r.by_precision[FLOPLEDGER_PRECISION_FP32]) == kTrainPerRow);
      CHECK(to_decimal(r.by_precision[FLOPLEDGER_PRECISION_BF16]) == kEvalPerRow);
      CHECK(to_decimal(r.by_precision[FLOPLEDGER_PRECISION_FP16]) == kRecomputePerRow);
      CHECK(to_decimal(r.by_phase[FLOPLEDGER_PHASE_TRAIN]) == kTrainPerRow);
      CHECK(to_decimal(r.by_phase[FLOPLEDGER_PHASE_RECOMPUTE]) == kRecomputePerRow);
      CHECK(to_decimal(r.by_source[FLOPLEDGER_SOURCE_CUBLASLT]) == kRecomputePerRow);
      CHECK(to_decimal(r.by_source[FLOPLEDGER_SOURCE_API]) == (i == 4 ? kSyntheticLastRow : "0"));
      CHECK(to_decimal(r.period.tokens) == kTokensPerRow);
      CHECK(r.period.calls[FLOPLEDGER_SOURCE_BLAS_GEMM] == 1000 + i);
      CHECK(r.period.calls[FLOPLEDGER_SOURCE_CUBLAS] == 7);
      CHECK(r.period.step_first == 10 * i + 9);
      CHECK(r.period.step_last == 10 * i + 10);
      CHECK(r.period.rank_flops_min == 111 + i);
      CHECK(r.period.rank_flops_max == 0xFFFFFFFFFFFFFFF0ULL);
      CHECK(r.period.rank_tokens_min == 5);
      CHECK(r.period.rank_tokens_max == 6 + i);
      CHECK(r.period.ranks == 8);
      CHECK(r.period.ranks_active == 7);
      CHECK(r.status == Status::Provider);
      CHECK(r.fraction_of_threshold == 0.25 * static_cast<double>(i + 1));
      CHECK(r.period.total_flops() == 0); // the cube is not stored, only its projections
    }
    CHECK(to_decimal(t.rows[2].cumulative_counted) == "24355340232221128654851");
    CHECK(to_decimal(t.rows[2].cumulative_modification) == "24000000000000000000000");
    CHECK(to_decimal(t.rows[4].cumulative_counted) == "45592233720368547758085");
    CHECK(to_decimal(t.rows[4].cumulative_modification) == "45000000000000000000000");
  }

  SUBCASE("events") {
    REQUIRE(t.events.size() == 2);
    CHECK(t.events[0].row == 1);
    CHECK(t.events[0].time == 1752825615.0);
    CHECK(t.events[0].kind == "threshold_fraction");
    CHECK(t.events[0].detail == "crossed 50%");
    CHECK(t.events[1].kind == "threshold_crossed");
  }

  SUBCASE("the high words are separate uint64 columns") {
    // Check the on-disk layout itself: 5 x (2^64 + 1) = 5 * 2^64 + 5 -> hi 5, lo 5 in the sum
    // of the rows; per row: lo 1, hi 1 in flops_by_phase[recompute].
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t dset = H5Dopen2(file, "steps", H5P_DEFAULT);
    const hsize_t dims[1] = {kPhases};
    const hid_t array = H5Tarray_create2(H5T_NATIVE_UINT64, 1, dims);
    const hid_t lo = H5Tcreate(H5T_COMPOUND, sizeof(std::uint64_t) * kPhases);
    H5Tinsert(lo, "flops_by_phase", 0, array);
    const hid_t hi = H5Tcreate(H5T_COMPOUND, sizeof(std::uint64_t) * kPhases);
    H5Tinsert(hi, "flops_by_phase_hi", 0, array);
    std::uint64_t lo_words[5][kPhases], hi_words[5][kPhases];
    REQUIRE(H5Dread(dset, lo, H5S_ALL, H5S_ALL, H5P_DEFAULT, lo_words) >= 0);
    REQUIRE(H5Dread(dset, hi, H5S_ALL, H5S_ALL, H5P_DEFAULT, hi_words) >= 0);
    CHECK(lo_words[0][FLOPLEDGER_PHASE_RECOMPUTE] == 1);
    CHECK(hi_words[0][FLOPLEDGER_PHASE_RECOMPUTE] == 1);
    CHECK(hi_words[0][FLOPLEDGER_PHASE_TRAIN] == 433); // 8e21 >> 64
    H5Tclose(hi);
    H5Tclose(lo);
    H5Tclose(array);
    H5Dclose(dset);
    H5Fclose(file);
  }
}

TEST_CASE("reopening a ledger continues its numbering and totals") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  std::string error;
  u128 counted = 0, modification = 0;
  {
    auto writer = TraceWriter::open(path, make_header(), error);
    REQUIRE_MESSAGE(writer, error);
    CHECK(writer->next_row() == 0);
    CHECK(writer->next_segment_id() == 0);
    REQUIRE(writer->begin_segment(make_segment(0, "1", 2)));
    REQUIRE(writer->append(make_row(0, 0, false, counted, modification)));
    REQUIRE(writer->append(make_row(1, 0, false, counted, modification)));
    // No end_segment: the job "dies" with segment 0 running.
  }
  auto writer = TraceWriter::open(path, make_header(), error);
  REQUIRE_MESSAGE(writer, error);
  CHECK(writer->next_row() == 2);
  CHECK(writer->next_segment_id() == 1);
  CHECK(writer->cumulative_counted() == counted);
  CHECK(writer->cumulative_modification() == modification);
  REQUIRE(writer->begin_segment(make_segment(1, "2", 4)));
  REQUIRE_MESSAGE(writer->append(make_row(2, 1, true, counted, modification)), writer->error());
  REQUIRE(writer->end_segment(1752830000.0, FLOPLEDGER_SEGMENT_CLEAN, 0));
  REQUIRE(writer->close());

  TraceContents t;
  REQUIRE_MESSAGE(read_trace(path, false, t, error), error);
  REQUIRE(t.rows.size() == 3);
  CHECK(t.rows[2].row == 2);
  CHECK(t.rows[2].segment == 1);
  CHECK(to_decimal(t.rows[2].cumulative_counted) == to_decimal(counted));
  REQUIRE(t.segments.size() == 2);
  CHECK(t.segments[0].state == FLOPLEDGER_SEGMENT_RUNNING);
  CHECK(t.segments[0].rows == 2); // kept current at every append, so right after a crash
  CHECK(t.segments[1].first_row == 2);
  CHECK(t.segments[1].rows == 1);
  CHECK(t.segments[1].state == FLOPLEDGER_SEGMENT_CLEAN);
}

TEST_CASE("the writer checks what it is asked to append") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  std::string error;
  auto writer = TraceWriter::open(path, make_header(), error);
  REQUIRE_MESSAGE(writer, error);
  u128 counted = 0, modification = 0;
  const StepRow first = make_row(0, 0, false, counted, modification);

  CHECK_FALSE(writer->append(first));
  CHECK(contains(writer->error(), "no segment is open"));
  CHECK_FALSE(writer->end_segment(1.0, FLOPLEDGER_SEGMENT_CLEAN, 0));
  CHECK_FALSE(writer->begin_segment(make_segment(5, "x", 1)));
  CHECK(contains(writer->error(), "segment id 5, expected 0"));
  REQUIRE(writer->begin_segment(make_segment(0, "x", 1)));
  CHECK_FALSE(writer->begin_segment(make_segment(1, "y", 1)));
  CHECK(contains(writer->error(), "still open"));

  StepRow wrong = first;
  wrong.row = 7;
  CHECK_FALSE(writer->append(wrong));
  CHECK(contains(writer->error(), "row number 7, expected 0"));
  wrong = first;
  wrong.segment = 3;
  CHECK_FALSE(writer->append(wrong));
  CHECK(contains(writer->error(), "names segment 3 but the open segment is 0"));
  wrong = first;
  wrong.cumulative_counted -= 1;
  CHECK_FALSE(writer->append(wrong));
  CHECK(contains(writer->error(), "less than the previous totals plus this period: "
                                  "8118446744073709551617 / 8000000000000000000000"));
  wrong = first;
  wrong.period.calls[FLOPLEDGER_SOURCE_API] = from_words(0, 1);
  CHECK_FALSE(writer->append(wrong));
  CHECK(contains(writer->error(), "calls of source api (18446744073709551616)"));
  CHECK_FALSE(writer->end_segment(1.0, 7, 0));
  CHECK(contains(writer->error(), "state 7"));

  REQUIRE(writer->append(first));
  CHECK(writer->next_row() == 1);
  REQUIRE(writer->close());
  CHECK_FALSE(writer->append(first));
  CHECK(contains(writer->error(), "closed"));

  TraceContents t;
  REQUIRE_MESSAGE(read_trace(path, false, t, error), error);
  CHECK(t.rows.size() == 1); // the refused rows left nothing behind
  CHECK(t.events.empty());
}

TEST_CASE("totals that jump past the rows are kept and marked with an event") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  std::string error;
  auto writer = TraceWriter::open(path, make_header(), error);
  REQUIRE_MESSAGE(writer, error);
  REQUIRE(writer->begin_segment(make_segment(0, "x", 1)));
  u128 counted = 0, modification = 0;
  REQUIRE(writer->append(make_row(0, 0, false, counted, modification)));
  // The period of row 1 could not be written (say the disk was full): the runtime's totals
  // include it, the next row carries them.
  StepRow lost = make_row(1, 0, false, counted, modification);
  const StepRow next = make_row(1, 0, false, counted, modification);
  REQUIRE_MESSAGE(writer->append(next), writer->error());
  CHECK(writer->cumulative_counted() == counted);
  REQUIRE(writer->close());

  TraceContents t;
  REQUIRE_MESSAGE(read_trace(path, false, t, error), error);
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[1].cumulative_counted == counted);
  REQUIRE(t.events.size() == 1);
  CHECK(t.events[0].kind == "cumulative_gap");
  CHECK(t.events[0].row == 1);
  CHECK(contains(t.events[0].detail, "by " + to_decimal(lost.period.total_flops()) +
                                         " FLOP counted / 8000000000000000000000 FLOP"));
}

TEST_CASE("rows read back can be written again from their projections") {
  TempDir dir;
  const std::string source = dir.file("a.h5"), copy = dir.file("b.h5");
  write_known_ledger(source);
  TraceContents original;
  std::string error;
  REQUIRE_MESSAGE(read_trace(source, false, original, error), error);

  auto writer = TraceWriter::open(copy, original.header, error);
  REQUIRE_MESSAGE(writer, error);
  for (const Segment &s : original.segments) {
    REQUIRE(writer->begin_segment(s));
    for (const StepRow &r : original.rows)
      if (r.segment == s.id) REQUIRE_MESSAGE(writer->append(r), writer->error());
    REQUIRE(writer->end_segment(s.end, s.state, s.exit_status));
  }
  REQUIRE(writer->close());
  TraceContents again;
  REQUIRE_MESSAGE(read_trace(copy, false, again, error), error);
  REQUIRE(again.rows.size() == original.rows.size());
  CHECK(again.header.created_utc == original.header.created_utc);
  CHECK(again.rows[4].by_source[FLOPLEDGER_SOURCE_API] ==
        original.rows[4].by_source[FLOPLEDGER_SOURCE_API]);
  CHECK(again.rows[4].cumulative_counted == original.rows[4].cumulative_counted);
}

TEST_CASE("a ledger refuses a job with another rule set or original model") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  write_known_ledger(path);
  std::string expected_bytes = read_bytes(path); // a refused open changes nothing
  std::string error;

  SUBCASE("other original compute") {
    CHECK_FALSE(TraceWriter::open(path, make_header("3e24"), error));
    CHECK(contains(error, "100000000000000000000000"));
    CHECK(contains(error, "3000000000000000000000000"));
  }
  SUBCASE("original compute unknown") {
    CHECK_FALSE(TraceWriter::open(path, make_header("unknown"), error));
    CHECK(contains(error, "records original_flops 100000000000000000000000 but this job "
                          "declares unknown"));
  }
  SUBCASE("systemic risk flag") {
    TraceHeader header = make_header();
    header.original.systemic_risk = true;
    CHECK_FALSE(TraceWriter::open(path, header, error));
    CHECK(contains(error, "original_systemic_risk 0 but this job declares 1"));
  }
  SUBCASE("other rule set") {
    RawFile(path).set_string(FLOPLEDGER_ATTR_RULE_SET, "eu-gpai-2099-01");
    expected_bytes = read_bytes(path);
    CHECK_FALSE(TraceWriter::open(path, make_header(), error));
    CHECK(contains(error, "uses rule set 'eu-gpai-2099-01' but this job uses 'eu-gpai-2025-07'"));
  }
  SUBCASE("unknown rule set in the job's header") {
    TraceHeader header = make_header();
    header.rule_set = "no-such-rules";
    CHECK_FALSE(TraceWriter::open(dir.file("new.h5"), header, error));
    CHECK(contains(error, "unknown rule set 'no-such-rules'"));
    CHECK_FALSE(std::filesystem::exists(dir.file("new.h5")));
  }
  SUBCASE("a configuration line that cannot be stored") {
    TraceHeader header = make_header();
    header.config.push_back({"BAD", "two\nlines"});
    CHECK_FALSE(TraceWriter::open(dir.file("new.h5"), header, error));
    CHECK(contains(error, "BAD=two"));
  }
  CHECK(read_bytes(path) == expected_bytes);
}

TEST_CASE("files that are not readable ledgers get a clear error") {
  TempDir dir;
  TraceContents t;
  std::string error;

  SUBCASE("missing file") {
    const std::string path = dir.file("missing.h5");
    CHECK_FALSE(read_trace(path, false, t, error));
    CHECK(error == path + ": no such file");
  }
  SUBCASE("a directory") {
    CHECK_FALSE(read_trace(dir.file(""), false, t, error));
    CHECK(contains(error, "is a directory, not a trace file"));
    CHECK_FALSE(TraceWriter::open(dir.file(""), make_header(), error));
    CHECK(contains(error, "Is a directory"));
  }
  SUBCASE("not HDF5") {
    const std::string path = dir.file("notes.txt");
    std::ofstream(path) << "step,flops\n1,2\n";
    CHECK_FALSE(read_trace(path, true, t, error));
    CHECK(contains(error, path + ": not an HDF5 file"));
    // The writer must not overwrite it either.
    CHECK_FALSE(TraceWriter::open(path, make_header(), error));
    CHECK(contains(error, "not an HDF5 file; refusing to overwrite it"));
    CHECK(read_bytes(path) == "step,flops\n1,2\n");
  }
  SUBCASE("an empty file is taken for a ledger that was never created") {
    const std::string path = dir.file("empty.h5");
    std::ofstream{path};
    CHECK_FALSE(read_trace(path, false, t, error));
    CHECK(contains(error, "not an HDF5 file"));
    auto writer = TraceWriter::open(path, make_header(), error);
    REQUIRE_MESSAGE(writer, error);
    REQUIRE(writer->close());
    REQUIRE_MESSAGE(read_trace(path, false, t, error), error);
    CHECK(t.rows.empty());
  }
  SUBCASE("HDF5 but not a trace") {
    const std::string path = dir.file("other.h5");
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    H5Fclose(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    CHECK_FALSE(read_trace(path, false, t, error));
    CHECK(contains(error, path + ": not a flopledger trace"));
    CHECK_FALSE(TraceWriter::open(path, make_header(), error));
    CHECK(contains(error, "not a flopledger trace"));
  }
  SUBCASE("wrong format tag") {
    const std::string path = dir.file("ledger.h5");
    write_known_ledger(path);
    RawFile(path).set_string(FLOPLEDGER_ATTR_FORMAT, "something-else");
    CHECK_FALSE(read_trace(path, false, t, error));
    CHECK(contains(error, "is 'something-else', expected 'flopledger-trace'"));
  }
  SUBCASE("newer major format") {
    const std::string path = dir.file("ledger.h5");
    write_known_ledger(path);
    RawFile(path).set_uint32(FLOPLEDGER_ATTR_FORMAT_MAJOR, 2);
    RawFile(path).set_uint32(FLOPLEDGER_ATTR_FORMAT_MINOR, 2);
    CHECK_FALSE(read_trace(path, true, t, error));
    CHECK(error == path + ": written by a newer flopledger: format 2.2, this reader reads 1.x; "
                          "use a newer flopledger to read it");
    CHECK_FALSE(TraceWriter::open(path, make_header(), error));
    CHECK(contains(error, "format 2.2"));
  }
  SUBCASE("newer minor format reads, but is not appended to") {
    const std::string path = dir.file("ledger.h5");
    write_known_ledger(path);
    RawFile(path).set_uint32(FLOPLEDGER_ATTR_FORMAT_MINOR, 7);
    REQUIRE_MESSAGE(read_trace(path, false, t, error), error);
    CHECK(t.header.format_minor == 7);
    CHECK(t.rows.size() == 5);
    CHECK_FALSE(TraceWriter::open(path, make_header(), error));
    CHECK(contains(error, "format 1.7 cannot be appended to by this writer (format 1.3)"));
  }
  SUBCASE("missing dataset") {
    const std::string path = dir.file("ledger.h5");
    write_known_ledger(path);
    REQUIRE(H5Ldelete(RawFile(path).id(), "events", H5P_DEFAULT) >= 0);
    CHECK_FALSE(read_trace(path, false, t, error));
    CHECK(contains(error, "missing dataset 'events'"));
  }
  SUBCASE("a dataset without a required field") {
    const std::string path = dir.file("ledger.h5");
    write_known_ledger(path);
    {
      RawFile raw(path);
      REQUIRE(H5Ldelete(raw.id(), "events", H5P_DEFAULT) >= 0);
      const hid_t type = H5Tcreate(H5T_COMPOUND, 8);
      H5Tinsert(type, "row", 0, H5T_NATIVE_UINT64);
      const hsize_t dims[1] = {0};
      const hid_t space = H5Screate_simple(1, dims, nullptr);
      const hid_t dset =
          H5Dcreate2(raw.id(), "events", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      REQUIRE(dset >= 0);
      H5Dclose(dset);
      H5Sclose(space);
      H5Tclose(type);
    }
    CHECK_FALSE(read_trace(path, false, t, error));
    CHECK(contains(error, "dataset 'events' has no field 'time'"));
  }
  SUBCASE("a directory we cannot create in") {
    CHECK_FALSE(TraceWriter::open(dir.file("no/such/dir/ledger.h5"), make_header(), error));
    CHECK(contains(error, "creating the trace file failed"));
  }
}

TEST_CASE("the writer creates a ledger 0640 and never follows a symbolic link at its path") {
  TempDir dir;
  std::string error;

  SUBCASE("a new ledger is 0640 whatever a permissive umask says") {
    const std::string path = dir.file("ledger.h5");
    const mode_t saved = ::umask(0);
    auto writer = TraceWriter::open(path, make_header(), error);
    ::umask(saved);
    REQUIRE_MESSAGE(writer, error);
    REQUIRE(writer->close());
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0640);
  }
  SUBCASE("a symbolic link to another file is refused and the target left untouched") {
    const std::string target = dir.file("precious.txt"), path = dir.file("ledger.h5");
    std::ofstream(target) << "not yours\n";
    REQUIRE(::symlink(target.c_str(), path.c_str()) == 0);
    CHECK_FALSE(TraceWriter::open(path, make_header(), error));
    CHECK(error == path + ": is a symbolic link; the ledger writer never follows one (name the "
                          "real file in FLOPLEDGER_LEDGER)");
    CHECK(read_bytes(target) == "not yours\n");
  }
  SUBCASE("a symbolic link to a real ledger is refused too, and the ledger keeps its rows") {
    const std::string target = dir.file("real.h5"), path = dir.file("ledger.h5");
    write_known_ledger(target);
    const std::string before = read_bytes(target);
    REQUIRE(::symlink(target.c_str(), path.c_str()) == 0);
    CHECK_FALSE(TraceWriter::open(path, make_header(), error));
    CHECK(contains(error, "is a symbolic link"));
    CHECK(read_bytes(target) == before);
    // Readers may follow it: that is the user's choice.
    TraceContents t;
    REQUIRE_MESSAGE(read_trace(path, false, t, error), error);
    CHECK(t.rows.size() == 5);
  }
  SUBCASE("a dangling symbolic link is refused and nothing is created") {
    const std::string target = dir.file("nowhere.h5"), path = dir.file("ledger.h5");
    REQUIRE(::symlink(target.c_str(), path.c_str()) == 0);
    CHECK_FALSE(TraceWriter::open(path, make_header(), error));
    CHECK(contains(error, "is a symbolic link"));
    struct stat st {};
    CHECK(::stat(target.c_str(), &st) != 0);
    CHECK(::lstat(path.c_str(), &st) == 0);
    CHECK(S_ISLNK(st.st_mode));
  }
  SUBCASE("a FIFO at the path is refused, not opened as a ledger") {
    const std::string path = dir.file("ledger.h5");
    REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
    CHECK_FALSE(TraceWriter::open(path, make_header(), error));
    CHECK(error == path + ": is not a regular file; refusing to write a ledger into it");
  }
}

TEST_CASE("rows allocated but never written (a full disk) are left out, and said so") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  write_known_ledger(path);
  {
    // What a full disk leaves: the extension of the dataset reached the file, the row did not.
    RawFile raw(path);
    const hid_t steps = H5Dopen2(raw.id(), "steps", H5P_DEFAULT);
    REQUIRE(steps >= 0);
    const hsize_t rows = 7;
    REQUIRE(H5Dset_extent(steps, &rows) >= 0);
    H5Dclose(steps);
  }
  TraceContents t;
  std::string error;
  REQUIRE_MESSAGE(read_trace(path, false, t, error), error);
  CHECK(t.rows.size() == 5);
  REQUIRE(!t.events.empty());
  CHECK(t.events.back().kind == "unwritten_rows");
  CHECK(t.events.back().row == 5);
  CHECK(contains(t.events.back().detail, "2 step row(s) at the end of the ledger"));

  // The next job cuts them off and continues after the last written row.
  auto writer = TraceWriter::open(path, make_header(), error);
  REQUIRE_MESSAGE(writer, error);
  CHECK(writer->next_row() == 5);
  REQUIRE(writer->close());
  REQUIRE_MESSAGE(read_trace(path, false, t, error), error);
  CHECK(t.rows.size() == 5);
  int recorded = 0;
  for (const Event &event : t.events)
    recorded += event.kind == "unwritten_rows" ? 1 : 0;
  CHECK(recorded == 1); // stored once by the writer, no longer found by the reader
}

TEST_CASE("long and non-ASCII strings in rows") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  std::string error;
  auto writer = TraceWriter::open(path, make_header(), error);
  REQUIRE_MESSAGE(writer, error);
  Segment s = make_segment(0, "job-\xC3\xA9t\xC3\xA9", 4096);
  s.hosts.clear();
  for (int i = 0; i < 400; ++i)
    s.hosts += (i ? ",n" : "n") + std::to_string(i);
  REQUIRE(s.hosts.size() > FLOPLEDGER_HOSTS_LEN);
  REQUIRE(writer->begin_segment(s));
  // 254 ASCII bytes then a 3-byte character: the cut must not split it.
  std::string detail(250, 'd');
  detail += "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC";
  REQUIRE(writer->add_event({0, 1.5, "a_kind_that_is_much_longer_than_32_bytes", detail}));
  REQUIRE(writer->close());

  TraceContents t;
  REQUIRE_MESSAGE(read_trace(path, false, t, error), error);
  REQUIRE(t.segments.size() == 1);
  CHECK(t.segments[0].job_id == "job-\xC3\xA9t\xC3\xA9");
  CHECK(t.segments[0].hosts.size() == FLOPLEDGER_HOSTS_LEN);
  CHECK(t.segments[0].hosts.compare(0, 12, "n0,n1,n2,n3,") == 0);
  CHECK(t.segments[0].hosts.substr(FLOPLEDGER_HOSTS_LEN - 3) == "...");
  REQUIRE(t.events.size() == 1);
  CHECK(t.events[0].kind.size() == FLOPLEDGER_EVENT_KIND_LEN);
  CHECK(t.events[0].kind.substr(FLOPLEDGER_EVENT_KIND_LEN - 3) == "...");
  CHECK(t.events[0].detail == std::string(250, 'd') + "\xE2\x82\xAC...");
}

TEST_CASE("a writer killed after a flush leaves a readable file") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  std::string error;

  SUBCASE("bytes copied while the writer is still open") {
    auto writer = TraceWriter::open(path, make_header(), error);
    REQUIRE_MESSAGE(writer, error);
    u128 counted = 0, modification = 0;
    REQUIRE(writer->begin_segment(make_segment(0, "77", 2)));
    for (std::uint64_t row = 0; row < 70; ++row) // more than one 64-row chunk
      REQUIRE(writer->append(make_row(row, 0, false, counted, modification)));
    REQUIRE(writer->add_event({69, 2.0, "forecast_crossing", "at step 900"}));

    // What a SIGKILL at this instant would leave on disk.
    const std::string copy = dir.file("copy.h5");
    std::filesystem::copy_file(path, copy);
    TraceContents t;
    REQUIRE_MESSAGE(read_trace(copy, false, t, error), error);
    REQUIRE(t.rows.size() == 70);
    CHECK(t.rows[69].cumulative_counted == counted);
    REQUIRE(t.segments.size() == 1);
    CHECK(t.segments[0].state == FLOPLEDGER_SEGMENT_RUNNING);
    CHECK(t.segments[0].rows == 70);
    CHECK(t.events.size() == 1);

    // A live reader of the file in use sees the same, and does not block the writer.
    TraceContents live;
    REQUIRE_MESSAGE(read_trace(path, true, live, error), error);
    CHECK(live.rows.size() == 70);
    REQUIRE(writer->append(make_row(70, 0, false, counted, modification)));
    REQUIRE(writer->close());
  }

  SUBCASE("a child process killed with SIGKILL") {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      std::string child_error;
      auto writer = TraceWriter::open(path, make_header(), child_error);
      u128 counted = 0, modification = 0;
      bool ok = writer && writer->begin_segment(make_segment(0, "88", 2));
      for (std::uint64_t row = 0; ok && row < 5; ++row)
        ok = writer->append(make_row(row, 0, false, counted, modification));
      if (!ok) ::_exit(2);
      ::raise(SIGKILL); // no close, no destructor, no atexit
      ::_exit(3);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);

    TraceContents t;
    REQUIRE_MESSAGE(read_trace(path, false, t, error), error);
    CHECK(t.rows.size() == 5);
    REQUIRE(t.segments.size() == 1);
    CHECK(t.segments[0].state == FLOPLEDGER_SEGMENT_RUNNING);

    // The next job continues the ledger.
    auto writer = TraceWriter::open(path, make_header(), error);
    REQUIRE_MESSAGE(writer, error);
    CHECK(writer->next_row() == 5);
    CHECK(writer->next_segment_id() == 1);
  }
}

TEST_CASE("one writer at a time per ledger") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  std::string error;
  auto first = TraceWriter::open(path, make_header(), error);
  REQUIRE_MESSAGE(first, error);
  REQUIRE(first->begin_segment(make_segment(0, "a", 1)));
  const std::string before = read_bytes(path);

  CHECK_FALSE(TraceWriter::open(path, make_header(), error));
  CHECK(contains(error, "another flopledger job is writing this ledger right now"));
  CHECK(read_bytes(path) == before);
  TraceContents t; // readers are never blocked
  REQUIRE_MESSAGE(read_trace(path, true, t, error), error);
  REQUIRE_MESSAGE(read_trace(path, false, t, error), error);

  REQUIRE(first->end_segment(5.0, FLOPLEDGER_SEGMENT_CLEAN, 0));
  REQUIRE(first->close());
  auto second = TraceWriter::open(path, make_header(), error);
  REQUIRE_MESSAGE(second, error);
  CHECK(second->next_segment_id() == 1);
}

TEST_CASE("a live reader follows a writer in another process") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  constexpr std::uint64_t kRows = 300;
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::string child_error;
    auto writer = TraceWriter::open(path, make_header(), child_error);
    u128 counted = 0, modification = 0;
    bool ok = writer && writer->begin_segment(make_segment(0, "live", 1));
    for (std::uint64_t row = 0; ok && row < kRows; ++row) {
      ok = writer->append(make_row(row, 0, false, counted, modification));
      if (ok && row % 10 == 0) ok = writer->add_event({row, 1.0, "tick", ""});
      ::usleep(500);
    }
    ok = ok && writer->end_segment(2.0, FLOPLEDGER_SEGMENT_CLEAN, 0) && writer->close();
    ::_exit(ok ? 0 : 1);
  }
  const u128 per_row = flops("8118446744073709551617");
  int reads = 0, failures = 0, bad_rows = 0, status = 0;
  std::string last_error;
  while (::waitpid(child, &status, WNOHANG) == 0) {
    TraceContents t;
    std::string error;
    if (!std::filesystem::exists(path)) continue;
    if (!read_trace(path, true, t, error)) {
      ++failures;
      last_error = error;
      continue;
    }
    ++reads;
    // Every read is a consistent prefix of the ledger.
    for (std::size_t i = 0; i < t.rows.size(); ++i)
      if (t.rows[i].row != i || t.rows[i].cumulative_counted != (i + 1) * per_row) ++bad_rows;
  }
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(reads > 0);
  CHECK(bad_rows == 0);
  // A read may fail while the very first bytes of the file are being created; never later.
  CHECK_MESSAGE(failures <= 1, last_error);
  TraceContents t;
  std::string error;
  REQUIRE_MESSAGE(read_trace(path, false, t, error), error);
  CHECK(t.rows.size() == kRows);
  CHECK(t.events.size() == kRows / 10);
  CHECK(t.segments[0].state == FLOPLEDGER_SEGMENT_CLEAN);
}

namespace {

/// Rewrites dataset `name` of `path` with the format 1.0 fields only, as a 1.0 writer made it.
void downgrade_dataset(hid_t file, const char *name, hid_t memory_type, std::size_t record_size) {
  const hid_t dataset = H5Dopen2(file, name, H5P_DEFAULT);
  REQUIRE(dataset >= 0);
  const hid_t space = H5Dget_space(dataset);
  hsize_t rows = 0;
  H5Sget_simple_extent_dims(space, &rows, nullptr);
  std::vector<unsigned char> data(record_size * rows);
  REQUIRE(H5Dread(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) >= 0);
  H5Sclose(space);
  H5Dclose(dataset);
  REQUIRE(H5Ldelete(file, name, H5P_DEFAULT) >= 0);
  const hid_t old_type = H5Tcreate(H5T_COMPOUND, record_size);
  for (int i = 0; i < H5Tget_nmembers(memory_type); ++i) {
    char *field = H5Tget_member_name(memory_type, static_cast<unsigned>(i));
    if (flopledger::io::detail::added_in_minor(name, field) == 0) {
      const hid_t member = H5Tget_member_type(memory_type, static_cast<unsigned>(i));
      H5Tinsert(old_type, field, H5Tget_member_offset(memory_type, static_cast<unsigned>(i)),
                member);
      H5Tclose(member);
    }
    H5free_memory(field);
  }
  H5Tpack(old_type);
  const hsize_t dims[1] = {rows}, max_dims[1] = {H5S_UNLIMITED}, chunk[1] = {16};
  const hid_t new_space = H5Screate_simple(1, dims, max_dims);
  const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, chunk);
  const hid_t created = H5Dcreate2(file, name, old_type, new_space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  REQUIRE(created >= 0);
  REQUIRE(H5Dwrite(created, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) >= 0);
  H5Dclose(created);
  H5Pclose(dcpl);
  H5Sclose(new_space);
  H5Tclose(old_type);
}

} // namespace

TEST_CASE("format 1.1: methods, forecast, event figures and the environment read back exactly") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  std::string error;
  TraceHeader header = make_header();
  header.rule_set_text = flopledger::default_rule_set().text;
  auto writer = TraceWriter::open(path, header, error);
  REQUIRE_MESSAGE(writer, error);
  REQUIRE(writer->begin_segment(make_segment(0, "7", 2)));
  u128 counted = 0, modification = 0;
  StepRow row = make_row(0, 0, false, counted, modification);
  const u128 big = from_words(5, 7); // needs the high word
  row.replica_tokens = big;
  row.attention_sq = big + 1;
  row.analytic_available = true;
  row.analytic_flops = big + 2;
  row.aws_flops = 11;
  row.hf_flops = 12;
  row.cumulative_analytic = big + 3;
  row.cumulative_aws = 13;
  row.cumulative_hf = 14;
  row.hardware_available = true;
  row.hardware_flops = 15;
  row.cumulative_hardware = 16;
  row.verdict_method = Method::Analytic;
  row.verdict_flops = big + 3;
  row.threshold_flops = big * 2 + 1;
  row.forecast_available = true;
  row.forecast_flops = big * 3;
  REQUIRE_MESSAGE(writer->append(row), writer->error());
  Event event{0, 1752825615.0, "forecast_crossing", "notify by 2025-08-01", 42, big};
  REQUIRE(writer->add_event(event));
  REQUIRE(writer->add_environment({0, "git_commit", "0123abcd"}));
  REQUIRE(writer->add_environment({0, "command_line", std::string(5000, 'x')}));
  REQUIRE(writer->end_segment(1752825700.0, FLOPLEDGER_SEGMENT_CLEAN, 0));
  REQUIRE(writer->close());

  TraceContents t;
  REQUIRE_MESSAGE(read_trace(path, false, t, error), error);
  CHECK(t.header.rule_set_text == flopledger::default_rule_set().text);
  REQUIRE(t.rows.size() == 1);
  const StepRow &r = t.rows[0];
  CHECK(r.replica_tokens == big);
  CHECK(r.attention_sq == big + 1);
  CHECK(r.analytic_available);
  CHECK(r.analytic_flops == big + 2);
  CHECK(r.aws_flops == 11);
  CHECK(r.hf_flops == 12);
  CHECK(r.cumulative_analytic == big + 3);
  CHECK(r.cumulative_aws == 13);
  CHECK(r.cumulative_hf == 14);
  CHECK(r.hardware_available);
  CHECK(r.hardware_flops == 15);
  CHECK(r.cumulative_hardware == 16);
  CHECK(r.verdict_method == Method::Analytic);
  CHECK(r.verdict_flops == big + 3);
  CHECK(r.threshold_flops == row.threshold_flops);
  CHECK(r.forecast_available);
  CHECK(r.forecast_flops == big * 3);
  REQUIRE(t.events.size() == 1);
  CHECK(t.events[0].step == 42);
  CHECK(t.events[0].flops == big);
  REQUIRE(t.environment.size() == 2);
  CHECK(t.environment[0].key == "git_commit");
  CHECK(t.environment[0].value == "0123abcd");
  // Longer than the field: cut, and marked as cut.
  CHECK(t.environment[1].value.size() == FLOPLEDGER_ENV_VALUE_LEN);
  CHECK(t.environment[1].value.substr(t.environment[1].value.size() - 3) == "...");

  SUBCASE("a format 1.0 file reads, with the 1.1 figures absent, and is not appended to") {
    {
      RawFile raw(path);
      flopledger::io::detail::RowTypes types;
      downgrade_dataset(raw.id(), FLOPLEDGER_DSET_STEPS, types.step.get(),
                        sizeof(flopledger::io::detail::StepRecord));
      downgrade_dataset(raw.id(), FLOPLEDGER_DSET_EVENTS, types.event.get(),
                        sizeof(flopledger::io::detail::EventRecord));
      REQUIRE(H5Ldelete(raw.id(), FLOPLEDGER_DSET_ENVIRONMENT, H5P_DEFAULT) >= 0);
      REQUIRE(H5Adelete(raw.id(), FLOPLEDGER_ATTR_RULE_SET_TEXT) >= 0);
      raw.set_uint32(FLOPLEDGER_ATTR_FORMAT_MINOR, 0);
    }
    TraceContents old;
    REQUIRE_MESSAGE(read_trace(path, false, old, error), error);
    CHECK(old.header.format_minor == 0);
    CHECK(old.header.rule_set_text.empty());
    REQUIRE(old.rows.size() == 1);
    CHECK(old.rows[0].cumulative_modification == r.cumulative_modification);
    CHECK_FALSE(old.rows[0].analytic_available);
    CHECK(old.rows[0].analytic_flops == 0);
    CHECK(old.rows[0].replica_tokens == 0);
    CHECK(old.rows[0].verdict_method == Method::Counted);
    CHECK(old.rows[0].verdict_flops == r.cumulative_modification);
    CHECK(old.events.size() == 1);
    CHECK(old.events[0].step == 0);
    CHECK(old.environment.empty());
    CHECK_FALSE(TraceWriter::open(path, make_header(), error));
    CHECK(contains(error, "format 1.0 cannot be appended to by this writer (format 1.3); "
                          "upgrade it first with 'flopledger merge --output NEW.h5 " +
                              path + "'"));
  }
}
