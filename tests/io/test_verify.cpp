// flopledger verify (io/verify.hpp): an untouched ledger verifies, and every kind of edit is
// detected and named (docs/integrity.md).
#include <doctest/doctest.h>

#include <hdf5.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "fixtures.hpp"
#include "io/hdf5_util.hpp"
#include "io/merge.hpp"
#include "io/trace_schema.hpp"
#include "io/verify.hpp"

using namespace fl_test;
namespace detail = flopledger::io::detail;

namespace {

/// A dataset's rows as the bytes stored in the file (read with the file's own type: no
/// conversion), to be changed and written back.
class RawRows {
public:
  RawRows(const std::string &path, const char *name) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    file_ = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(file_ >= 0);
    dataset_ = H5Dopen2(file_, name, H5P_DEFAULT);
    REQUIRE(dataset_ >= 0);
    type_ = H5Dget_type(dataset_);
    size_ = H5Tget_size(type_);
    const hid_t space = H5Dget_space(dataset_);
    H5Sget_simple_extent_dims(space, &rows_, nullptr);
    H5Sclose(space);
    bytes_.resize(size_ * rows_);
    REQUIRE(H5Dread(dataset_, type_, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes_.data()) >= 0);
  }
  ~RawRows() {
    H5Tclose(type_);
    H5Dclose(dataset_);
    H5Fclose(file_);
  }
  std::size_t record_size() const { return size_; }
  unsigned char *row(std::size_t index) { return bytes_.data() + index * size_; }
  void erase(std::size_t index) {
    bytes_.erase(bytes_.begin() + static_cast<std::ptrdiff_t>(index * size_),
                 bytes_.begin() + static_cast<std::ptrdiff_t>((index + 1) * size_));
    --rows_;
  }
  void swap(std::size_t a, std::size_t b) { std::swap_ranges(row(a), row(a) + size_, row(b)); }
  void store() {
    const hsize_t dims[1] = {rows_};
    REQUIRE(H5Dset_extent(dataset_, dims) >= 0);
    if (rows_ > 0)
      REQUIRE(H5Dwrite(dataset_, type_, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes_.data()) >= 0);
    REQUIRE(H5Fflush(file_, H5F_SCOPE_GLOBAL) >= 0);
  }

private:
  hid_t file_ = -1, dataset_ = -1, type_ = -1;
  std::size_t size_ = 0;
  hsize_t rows_ = 0;
  std::vector<unsigned char> bytes_;
};

VerifyResult verify(const std::string &path, const IntegrityKey &key = IntegrityKey{}) {
  VerifyResult result;
  std::string error;
  REQUIRE_MESSAGE(verify_trace(path, key, result, error), error);
  return result;
}

std::string first_problem(const VerifyResult &result) {
  return result.problems.empty() ? "" : result.problems.front();
}

IntegrityKey key_of(const std::string &text) {
  return IntegrityKey{text};
}

} // namespace

TEST_CASE("verify: an untouched ledger verifies, with its head in the header") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  write_known_ledger(path);
  const VerifyResult result = verify(path);
  CHECK_MESSAGE(result.problems.empty(), first_problem(result));
  CHECK(result.chain == ChainCheck::Verified);
  CHECK(result.exit_status() == 0);
  CHECK(result.chain_mode == "sha256");
  CHECK(result.stored_head.size() == 64);
  CHECK(result.stored_head == result.computed_head);
  CHECK(result.steps == 5);
  CHECK(result.segments == 2);
  TraceContents t;
  std::string error;
  REQUIRE_MESSAGE(read_trace(path, false, t, error), error);
  CHECK(t.header.chain_head == result.stored_head);
  CHECK(t.header.chain_mode == "sha256");
  // Segment 1 ended with an error: a note, not a problem.
  REQUIRE(result.notes.size() == 1);
  CHECK(result.notes[0].find("exit status 3") != std::string::npos);
}

TEST_CASE("verify: flipping any single byte of a stored step row is detected, naming the row") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  write_known_ledger(path);
  std::size_t size = 0;
  {
    RawRows rows(path, FLOPLEDGER_DSET_STEPS);
    size = rows.record_size();
  }
  REQUIRE(size > 500);
  int undetected = 0, unnamed = 0;
  for (std::size_t byte = 0; byte < size; ++byte) {
    {
      RawRows rows(path, FLOPLEDGER_DSET_STEPS);
      rows.row(2)[byte] ^= 0x01;
      rows.store();
    }
    const VerifyResult result = verify(path);
    if (result.exit_status() != 1) ++undetected;
    if (first_problem(result).rfind("steps row 2:", 0) != 0) ++unnamed;
    {
      RawRows rows(path, FLOPLEDGER_DSET_STEPS);
      rows.row(2)[byte] ^= 0x01;
      rows.store();
    }
  }
  CHECK(undetected == 0);
  CHECK(unnamed == 0);
  CHECK(verify(path).exit_status() == 0);
}

TEST_CASE("verify: a deleted step row is detected") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  write_known_ledger(path);
  {
    RawRows rows(path, FLOPLEDGER_DSET_STEPS);
    rows.erase(1);
    rows.store();
  }
  const VerifyResult result = verify(path);
  CHECK(result.exit_status() == 1);
  CHECK(first_problem(result).rfind("steps row 1:", 0) == 0);
}

TEST_CASE("verify: reordered segments are detected") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  write_known_ledger(path);
  {
    RawRows rows(path, FLOPLEDGER_DSET_SEGMENTS);
    rows.swap(0, 1);
    rows.store();
  }
  const VerifyResult result = verify(path);
  CHECK(result.exit_status() == 1);
  CHECK(first_problem(result).find("segment") != std::string::npos);
  bool out_of_order = false;
  for (const std::string &p : result.problems)
    out_of_order = out_of_order || p.find("segments row 0: segment id 1") != std::string::npos;
  CHECK(out_of_order);
}

TEST_CASE("verify: an edited cumulative total is detected twice: chain and recomputed total") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  write_known_ledger(path);
  {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(file >= 0);
    const hid_t dataset = H5Dopen2(file, FLOPLEDGER_DSET_STEPS, H5P_DEFAULT);
    detail::RowTypes types;
    detail::StepRecord record{};
    REQUIRE(detail::read_rows(dataset, types.step.get(), 3, 1, &record));
    detail::put(record.cumulative_counted, "1");
    REQUIRE(detail::write_row(dataset, types.step.get(), 3, &record));
    H5Dclose(dataset);
    H5Fclose(file);
  }
  const VerifyResult result = verify(path);
  CHECK(result.exit_status() == 1);
  CHECK(first_problem(result).rfind("steps row 3: chain hash differs", 0) == 0);
  bool total = false;
  for (const std::string &p : result.problems)
    total = total || p.find("steps row 3: cumulative_counted is 1, recomputed") == 0;
  CHECK(total);
}

TEST_CASE("verify: an edited event and an edited chain head are detected") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  write_known_ledger(path);
  SUBCASE("event") {
    {
      H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
      const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
      const hid_t dataset = H5Dopen2(file, FLOPLEDGER_DSET_EVENTS, H5P_DEFAULT);
      detail::RowTypes types;
      detail::EventRecord record{};
      REQUIRE(detail::read_rows(dataset, types.event.get(), 1, 1, &record));
      detail::put(record.detail, "not a provider");
      REQUIRE(detail::write_row(dataset, types.event.get(), 1, &record));
      H5Dclose(dataset);
      H5Fclose(file);
    }
    const VerifyResult result = verify(path);
    CHECK(result.exit_status() == 1);
    CHECK(first_problem(result).rfind("events row 1: chain hash differs", 0) == 0);
  }
  SUBCASE("chain head") {
    {
      H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
      const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
      H5Adelete(file, FLOPLEDGER_ATTR_CHAIN_HEAD);
      REQUIRE(
          detail::write_string_attribute(file, FLOPLEDGER_ATTR_CHAIN_HEAD, std::string(64, 'a')));
      H5Fclose(file);
    }
    const VerifyResult result = verify(path);
    CHECK(result.exit_status() == 1);
    CHECK(first_problem(result).rfind("root attribute chain_head", 0) == 0);
    CHECK(result.chain == ChainCheck::Broken);
  }
}

TEST_CASE("verify: a writer appending to a 1.2 ledger continues its chain") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  write_known_ledger(path);
  std::string error;
  auto writer = TraceWriter::open(path, make_header(), error);
  REQUIRE_MESSAGE(writer, error);
  REQUIRE(writer->begin_segment(make_segment(2, "1003", 4)));
  u128 counted = writer->cumulative_counted(), modification = writer->cumulative_modification();
  REQUIRE_MESSAGE(writer->append(make_row(5, 2, false, counted, modification)), writer->error());
  REQUIRE(writer->add_environment({2, "git_commit", "abc"}));
  const std::string head = writer->chain_head();
  // Killed here: segment 2 never closed.
  writer.reset();
  const VerifyResult result = verify(path);
  CHECK_MESSAGE(result.problems.empty(), first_problem(result));
  CHECK(result.exit_status() == 0);
  CHECK(result.stored_head == head);
  bool not_closed = false;
  for (const std::string &n : result.notes)
    not_closed = not_closed || n.find("segment 2 (job 1003) was not cleanly closed") == 0;
  CHECK(not_closed);
}

TEST_CASE("stamp: a killed job's open last segment is marked and the ledger still verifies") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  write_known_ledger(path);
  std::string error;
  {
    auto writer = TraceWriter::open(path, make_header(), error);
    REQUIRE_MESSAGE(writer, error);
    REQUIRE(writer->begin_segment(make_segment(2, "1003", 4)));
    u128 counted = writer->cumulative_counted(), modification = writer->cumulative_modification();
    REQUIRE_MESSAGE(writer->append(make_row(5, 2, false, counted, modification)), writer->error());
  } // killed here: segment 2 never closed
  bool already = false;
  {
    auto writer = TraceWriter::open(path, make_header(), error);
    REQUIRE_MESSAGE(writer, error);
    CHECK_FALSE(
        writer->stamp_last_segment("1004", 9.0, FLOPLEDGER_SEGMENT_CANCELLED, 137, already));
    CHECK_FALSE(already);
    CHECK(writer->error().find("belongs to job '1003', not '1004'") != std::string::npos);
    CHECK_FALSE(writer->stamp_last_segment("1003", 9.0, FLOPLEDGER_SEGMENT_CLEAN, 0, already));
    REQUIRE_MESSAGE(writer->stamp_last_segment("1003", 1752829999.0, FLOPLEDGER_SEGMENT_CANCELLED,
                                               137, already),
                    writer->error());
  }
  TraceContents t;
  REQUIRE_MESSAGE(read_trace(path, false, t, error), error);
  REQUIRE(t.segments.size() == 3);
  CHECK(t.segments[2].state == FLOPLEDGER_SEGMENT_CANCELLED);
  CHECK(t.segments[2].exit_status == 137);
  CHECK(t.segments[2].end == doctest::Approx(1752829999.0));
  CHECK(t.segments[2].rows == 1);
  CHECK(t.segments[1].state == FLOPLEDGER_SEGMENT_ERROR); // the one before is untouched
  const VerifyResult result = verify(path);
  CHECK_MESSAGE(result.problems.empty(), first_problem(result));
  CHECK(result.exit_status() == 0);
  bool noted = false;
  for (const std::string &n : result.notes)
    noted = noted || n.find("segment 2 (job 1003) was stopped from outside: cancelled") == 0;
  CHECK(noted);
  // A second stamp finds nothing to do; a new job appends after the stamped segment.
  auto writer = TraceWriter::open(path, make_header(), error);
  REQUIRE_MESSAGE(writer, error);
  CHECK_FALSE(writer->stamp_last_segment("1003", 9.0, FLOPLEDGER_SEGMENT_KILLED, 137, already));
  CHECK(already);
  REQUIRE(writer->begin_segment(make_segment(3, "1005", 2)));
  REQUIRE(writer->end_segment(1752830100.0, FLOPLEDGER_SEGMENT_TERMINATED, 143));
  // The SIGTERM flush's "terminated" is refined to the scheduler's cause, keeping its end.
  REQUIRE(writer->stamp_last_segment("1005", 9.0, FLOPLEDGER_SEGMENT_TIMEOUT, 137, already));
  CHECK_FALSE(writer->stamp_last_segment("1005", 9.0, FLOPLEDGER_SEGMENT_KILLED, 137, already));
  CHECK(already);
  writer.reset();
  REQUIRE_MESSAGE(read_trace(path, false, t, error), error);
  CHECK(t.segments[3].state == FLOPLEDGER_SEGMENT_TIMEOUT);
  CHECK(t.segments[3].exit_status == 143);
  CHECK(t.segments[3].end == doctest::Approx(1752830100.0));
  const VerifyResult after = verify(path);
  CHECK_MESSAGE(after.problems.empty(), first_problem(after));
}

TEST_CASE("verify: the keyed chain needs the right key") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  const IntegrityKey key = key_of("0123456789abcdef-secret");
  {
    std::string error;
    auto writer = TraceWriter::open(path, make_header(), error, key);
    REQUIRE_MESSAGE(writer, error);
    REQUIRE(writer->begin_segment(make_segment(0, "1", 2)));
    u128 counted = 0, modification = 0;
    for (std::uint64_t row = 0; row < 3; ++row)
      REQUIRE_MESSAGE(writer->append(make_row(row, 0, false, counted, modification)),
                      writer->error());
    REQUIRE(writer->end_segment(1752825700.0, FLOPLEDGER_SEGMENT_CLEAN, 0));
  }
  TraceContents t;
  std::string error;
  REQUIRE_MESSAGE(read_trace(path, false, t, error), error);
  CHECK(t.header.chain_mode == "hmac-sha256");
  CHECK(t.header.hmac_key_id == key.id());
  CHECK(key.id().size() == 16);

  const VerifyResult right = verify(path, key);
  CHECK_MESSAGE(right.problems.empty(), first_problem(right));
  CHECK(right.chain == ChainCheck::Verified);
  CHECK(right.exit_status() == 0);

  const VerifyResult wrong = verify(path, key_of("another key of 16+ bytes"));
  CHECK(wrong.chain == ChainCheck::WrongKey);
  CHECK(wrong.exit_status() == 1);
  CHECK(wrong.problems.empty());

  const VerifyResult none = verify(path);
  CHECK(none.chain == ChainCheck::NoKey);
  CHECK(none.exit_status() == 1);
  CHECK(verify_text(none).find("could not be checked") != std::string::npos);

  // The plain SHA-256 chain of the same rows does not verify as keyed, nor the reverse.
  CHECK_FALSE(TraceWriter::open(path, make_header(), error));
  CHECK(error.find("FLOPLEDGER_HMAC_KEY_FILE") != std::string::npos);
  CHECK_FALSE(TraceWriter::open(path, make_header(), error, key_of("another key of 16+ bytes")));
  CHECK(error.find("wrong key") != std::string::npos);
  auto again = TraceWriter::open(path, make_header(), error, key);
  REQUIRE_MESSAGE(again, error);
  REQUIRE(again->begin_segment(make_segment(1, "2", 2)));
  again.reset();
  CHECK(verify(path, key).exit_status() == 0);

  // Edited rows are detected in keyed mode too.
  {
    RawRows rows(path, FLOPLEDGER_DSET_STEPS);
    rows.row(0)[40] ^= 0x80;
    rows.store();
  }
  CHECK(first_problem(verify(path, key)).rfind("steps row 0:", 0) == 0);
}

TEST_CASE("verify: a key file shorter than 16 bytes is refused, naming the file") {
  TempDir dir;
  const std::string path = dir.file("short.key");
  std::ofstream(path) << "short";
  IntegrityKey key;
  std::string error;
  CHECK_FALSE(load_integrity_key(path, key, error));
  CHECK(error.find(path) != std::string::npos);
  CHECK(error.find("short") == error.find(path) + path.find("short"));
  CHECK(load_integrity_key(dir.file("missing.key"), key, error) == false);
}

TEST_CASE("verify: a format 1.1 file has no chain; the rest is still checked") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  write_known_ledger(path);
  {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(file >= 0);
    const std::uint32_t minor = 1;
    const hid_t attribute = H5Aopen(file, FLOPLEDGER_ATTR_FORMAT_MINOR, H5P_DEFAULT);
    REQUIRE(H5Awrite(attribute, H5T_NATIVE_UINT32, &minor) >= 0);
    H5Aclose(attribute);
    H5Fclose(file);
  }
  VerifyResult result = verify(path);
  CHECK_MESSAGE(result.problems.empty(), first_problem(result));
  CHECK(result.chain == ChainCheck::NotAvailable);
  CHECK(result.exit_status() == 0);
  CHECK(verify_text(result).find("tamper evidence is not available") != std::string::npos);
  {
    RawRows rows(path, FLOPLEDGER_DSET_STEPS);
    rows.erase(4);
    rows.store();
  }
  result = verify(path);
  CHECK(result.exit_status() == 1);
  CHECK(first_problem(result).rfind("segments: their row counts add up to 5", 0) == 0);
}

TEST_CASE("verify: step numbering across segments, and cumulative gaps with their event") {
  TempDir dir;
  const std::string path = dir.file("ledger.h5");
  std::string error;
  auto writer = TraceWriter::open(path, make_header(), error);
  REQUIRE_MESSAGE(writer, error);
  u128 counted = 0, modification = 0;
  REQUIRE(writer->begin_segment(make_segment(0, "1", 2)));
  for (std::uint64_t row = 0; row < 3; ++row)
    REQUIRE(writer->append(make_row(row, 0, false, counted, modification)));
  REQUIRE(writer->end_segment(1752825700.0, FLOPLEDGER_SEGMENT_CLEAN, 0));
  // A restart from a checkpoint: its steps go back, and its event says so.
  REQUIRE(writer->begin_segment(make_segment(1, "2", 2)));
  StepRow again = make_row(3, 1, false, counted, modification);
  again.period.step_first = 5;
  again.period.step_last = 6;
  REQUIRE(writer->add_event({3, 1752829300.0, "steps_repeated", "resumed at step 5", 5, 0}));
  REQUIRE(writer->append(again));
  // A period whose row was lost: the totals run ahead, with a cumulative_gap event.
  StepRow ahead = make_row(4, 1, false, counted, modification);
  counted += 1000;
  ahead.cumulative_counted = counted;
  REQUIRE(writer->append(ahead));
  REQUIRE(writer->end_segment(1752829400.0, FLOPLEDGER_SEGMENT_CLEAN, 0));
  // A third job whose steps go back with no event to say why.
  REQUIRE(writer->begin_segment(make_segment(2, "3", 2)));
  StepRow back = make_row(5, 2, false, counted, modification);
  back.period.step_first = 1;
  back.period.step_last = 2;
  REQUIRE(writer->append(back));
  REQUIRE(writer->end_segment(1752829500.0, FLOPLEDGER_SEGMENT_CLEAN, 0));
  writer.reset();
  const VerifyResult result = verify(path);
  REQUIRE(result.problems.size() == 1);
  CHECK(first_problem(result).rfind("steps row 5: segment 2 starts at step 1", 0) == 0);
  CHECK(result.chain == ChainCheck::Verified);
}

TEST_CASE("verify: a merged ledger gets a chain, keyed when merge is given a key") {
  TempDir dir;
  const std::string input = dir.file("in.h5"), output = dir.file("out.h5");
  write_known_ledger(input);
  MergeOptions options;
  options.key = key_of("merge key, 16 bytes or more");
  MergeSummary summary;
  std::string error;
  REQUIRE_MESSAGE(merge_ledgers({input}, output, options, summary, error), error);
  const VerifyResult result = verify(output, options.key);
  CHECK_MESSAGE(result.problems.empty(), first_problem(result));
  CHECK(result.chain == ChainCheck::Verified);
  CHECK(result.chain_mode == "hmac-sha256");
}

TEST_CASE("a format 1.2 ledger (written by the 1.2 writer) reads and verifies under format 1.3") {
  // tests/io/data/ledger-1.2.h5: mpi_gemm --steps 2 on 2 ranks under the flopledger of commit
  // 3dbf766 (format 1.2); 2 step rows, 1 segment. Its chain hashes rows without the 1.3 fields.
  const std::string path = std::string(FLOPLEDGER_SOURCE_DIR) + "/tests/io/data/ledger-1.2.h5";
  flopledger::io::TraceContents trace;
  std::string error;
  REQUIRE_MESSAGE(flopledger::io::read_trace(path, false, trace, error), error);
  CHECK(trace.header.format_minor == 2);
  REQUIRE(trace.rows.size() == 2);
  for (const flopledger::io::StepRow &row : trace.rows) {
    CHECK(row.period.gpu.nvml_ranks == 0);
    CHECK(row.period.gpu.energy_mj == 0);
    CHECK(row.period.gpu.cupti_ranks == 0);
    CHECK_FALSE(row.upper_bound_available);
    CHECK(row.upper_bound_flops == 0);
  }
  flopledger::io::VerifyResult result;
  REQUIRE_MESSAGE(flopledger::io::verify_trace(path, {}, result, error), error);
  CHECK(result.format_version == "1.2");
  CHECK(result.chain == flopledger::io::ChainCheck::Verified);
  CHECK(result.problems.empty());
  CHECK(result.computed_head == "65c652fa72f0aa33543bf41de2f78249458a38202a5f110b15d46e5b45a4ec60");
}
