// libFuzzer target, structured: the ledger reader over valid HDF5 files whose *values* are
// hostile. A small valid ledger is written once with TraceWriter; for each input, a copy is
// edited through the HDF5 C API as the input's bytes say (root attributes replaced, retyped or
// deleted, row fields overwritten byte for byte or with decimal-looking text, datasets resized or
// deleted), and read_trace, make_report and the exports must return (true, or false with a
// message) without a crash or undefined behaviour.
//
// The HDF5 container itself is not mutated byte for byte: HDF5 1.10 has known crashes on
// malformed files, which the flopledger command contains by reading in a child process
// (launchers/isolate.cpp; docs/hostile-inputs.md).
#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>
#include <vector>

#include "accounting/rules.hpp"
#include "io/audit.hpp"
#include "io/export.hpp"
#include "io/report.hpp"
#include "io/trace.hpp"

using namespace flopledger;
using namespace flopledger::io;

namespace {

/// The input, read front to back; past its end every read returns zeros.
class Bytes {
public:
  Bytes(const std::uint8_t *data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v = (v << 8) | byte();
    return v;
  }
  std::string text(std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n && !empty(); ++i)
      out.push_back(static_cast<char>(byte()));
    return out;
  }

private:
  const std::uint8_t *data_;
  std::size_t size_, pos_ = 0;
};

struct Paths {
  std::string dir, base, work;
};

u128 big(const char *text) {
  return parse_flops(text).value;
}

/// A ledger with one segment, four rows, an event and an environment entry.
bool write_base(const std::string &path) {
  TraceHeader header;
  header.writer_version = "fuzz";
  header.rule_set = std::string(default_rule_set().name);
  header.original.compute_known = true;
  header.original.training_flops = big("100000000000000000000000");
  header.base_model = "fuzz/base";
  header.config = {{"EVERY_STEPS", "1"}, {"LEDGER", "ledger.h5"}};
  std::string error;
  auto writer = TraceWriter::open(path, header, error);
  if (!writer) return false;
  Segment segment;
  segment.job_id = "42";
  segment.launcher = "mpirun";
  segment.hosts = "node01";
  segment.world_size = 2;
  segment.start = 1752825600.0;
  if (!writer->begin_segment(segment)) return false;
  u128 counted = 0, modification = 0;
  for (std::uint64_t i = 0; i < 4; ++i) {
    StepRow r;
    r.row = i;
    r.t_start = 1752825600.0 + 10.0 * static_cast<double>(i);
    r.t_end = r.t_start + 10.0;
    r.period.flops[FLOPLEDGER_SOURCE_BLAS_GEMM][FLOPLEDGER_PRECISION_FP32][FLOPLEDGER_PHASE_TRAIN] =
        big("8000000000000000000000");
    r.period.flops[FLOPLEDGER_SOURCE_API][FLOPLEDGER_PRECISION_BF16][FLOPLEDGER_PHASE_EVAL] =
        big("18446744073709551617");
    r.period.tokens = 1000;
    r.period.step_first = r.period.step_last = i + 1;
    r.period.ranks = r.period.ranks_active = 2;
    counted += r.period.total_flops();
    modification += r.period.flops_by_phase(FLOPLEDGER_PHASE_TRAIN);
    r.cumulative_counted = counted;
    r.cumulative_modification = modification;
    r.replica_tokens = 1000;
    r.analytic_available = true;
    r.analytic_flops = 6000;
    r.cumulative_analytic = 6000 * (i + 1);
    r.verdict_flops = modification;
    r.threshold_flops = big("33333333333333333333333");
    r.fraction_of_threshold = 0.1;
    if (!writer->append(r)) return false;
  }
  if (!writer->add_event(Event{2, 1752825630.0, "threshold_crossed", "fuzz", 3, 12345}) ||
      !writer->add_environment(EnvironmentEntry{0, "command_line", "mpi_gemm --steps 4"}) ||
      !writer->end_segment(1752825700.0, FLOPLEDGER_SEGMENT_CLEAN, 0))
    return false;
  return writer->close();
}

// Never destroyed (the exit handler that removes the files runs after static destructors).
const Paths &paths() {
  static const Paths &p = *new Paths([] {
    // Memory-backed where there is /dev/shm: every input writes and reads a file.
    char shm[] = "/dev/shm/fuzz_ledger-XXXXXX", tmp[] = "/tmp/fuzz_ledger-XXXXXX";
    char *dir = ::access("/dev/shm", W_OK) == 0 ? shm : tmp;
    if (::mkdtemp(dir) == nullptr) std::abort();
    Paths out{dir, std::string(dir) + "/base.h5", std::string(dir) + "/work.h5"};
    if (!write_base(out.base)) std::abort();
    std::atexit([] {
      const Paths &p = paths();
      ::unlink(p.work.c_str());
      ::unlink(p.base.c_str());
      ::rmdir(p.dir.c_str());
    });
    return out;
  }());
  return p;
}

const char *const kDatasets[] = {"steps", "segments", "events", "environment"};

herr_t collect_name(hid_t, const char *name, const H5A_info_t *, void *data) {
  static_cast<std::vector<std::string> *>(data)->push_back(name);
  return 0;
}

std::vector<std::string> root_attributes(hid_t file) {
  std::vector<std::string> names;
  hsize_t index = 0;
  H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_NATIVE, &index, collect_name, &names);
  return names;
}

void replace_attribute(hid_t file, const std::string &name, hid_t type, const void *value) {
  if (H5Aexists(file, name.c_str()) > 0) H5Adelete(file, name.c_str());
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attribute = H5Acreate2(file, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (attribute >= 0) {
    H5Awrite(attribute, type, value);
    H5Aclose(attribute);
  }
  H5Sclose(space);
}

void set_string_attribute(hid_t file, const std::string &name, const std::string &value,
                          bool variable) {
  const hid_t type = H5Tcopy(H5T_C_S1);
  if (variable) {
    H5Tset_size(type, H5T_VARIABLE);
    const char *text = value.c_str();
    replace_attribute(file, name, type, &text);
  } else {
    H5Tset_size(type, value.empty() ? 1 : value.size());
    replace_attribute(file, name, type, value.empty() ? "" : value.data());
  }
  H5Tclose(type);
}

void set_number_attribute(hid_t file, const std::string &name, std::uint8_t kind,
                          std::uint64_t bits) {
  const hid_t types[] = {H5T_NATIVE_UINT8, H5T_NATIVE_UINT16, H5T_NATIVE_UINT32, H5T_NATIVE_UINT64,
                         H5T_NATIVE_INT8,  H5T_NATIVE_INT32,  H5T_NATIVE_INT64,  H5T_NATIVE_DOUBLE};
  const hid_t type = types[kind % std::size(types)];
  replace_attribute(file, name, type, &bits); // little-endian: the low bytes for narrow types
}

/// Overwrites field `field` of row `row` of `dataset` with bytes (raw, or decimal-looking text).
void edit_field(hid_t file, Bytes &in, bool decimal) {
  const char *name = kDatasets[in.byte() % std::size(kDatasets)];
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return;
  const hid_t dataset = H5Dopen2(file, name, H5P_DEFAULT);
  const hid_t type = dataset >= 0 ? H5Dget_type(dataset) : -1;
  const hid_t space = dataset >= 0 ? H5Dget_space(dataset) : -1;
  hsize_t rows = 0;
  if (type >= 0 && space >= 0 && H5Tget_class(type) == H5T_COMPOUND &&
      H5Sget_simple_extent_ndims(space) == 1 &&
      H5Sget_simple_extent_dims(space, &rows, nullptr) >= 0 && rows > 0) {
    const hsize_t row = in.byte() % rows, one = 1;
    const int members = H5Tget_nmembers(type);
    const unsigned member = members > 0 ? in.byte() % static_cast<unsigned>(members) : 0;
    const std::size_t size = H5Tget_size(type);
    std::vector<unsigned char> record(size);
    const hid_t memory = H5Screate_simple(1, &one, nullptr);
    H5Sselect_hyperslab(space, H5S_SELECT_SET, &row, nullptr, &one, nullptr);
    if (members > 0 && H5Dread(dataset, type, memory, space, H5P_DEFAULT, record.data()) >= 0) {
      const hid_t member_type = H5Tget_member_type(type, member);
      const std::size_t offset = H5Tget_member_offset(type, member);
      const std::size_t width = H5Tget_size(member_type);
      static const char kDecimal[] = "0123456789e.-+ E";
      for (std::size_t i = 0; i < width && offset + i < size; ++i) {
        const std::uint8_t b = in.byte();
        record[offset + i] = decimal ? static_cast<unsigned char>(kDecimal[b % 16]) : b;
        if (decimal && b >= 0xF0) { // end the text: the rest of the field is padding
          std::memset(&record[offset + i], 0, width - i);
          break;
        }
      }
      H5Tclose(member_type);
      H5Dwrite(dataset, type, memory, space, H5P_DEFAULT, record.data());
    }
    H5Sclose(memory);
  }
  if (space >= 0) H5Sclose(space);
  if (type >= 0) H5Tclose(type);
  if (dataset >= 0) H5Dclose(dataset);
}

void resize(hid_t file, Bytes &in) {
  const char *name = kDatasets[in.byte() % std::size(kDatasets)];
  const hsize_t rows = in.byte() % 12;
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return;
  const hid_t dataset = H5Dopen2(file, name, H5P_DEFAULT);
  if (dataset < 0) return;
  H5Dset_extent(dataset, &rows);
  H5Dclose(dataset);
}

void apply_edits(hid_t file, Bytes &in) {
  const std::vector<std::string> names = root_attributes(file);
  for (int edits = 0; !in.empty() && edits < 16; ++edits) {
    const std::uint8_t op = in.byte() % 7;
    const std::string &attribute = names[in.byte() % names.size()];
    switch (op) {
    case 0: {
      const std::uint8_t length = in.byte();
      set_string_attribute(file, attribute, in.text(length % 64), length >= 128);
      break;
    }
    case 1: {
      const std::uint8_t kind = in.byte();
      set_number_attribute(file, attribute, kind, in.u64());
      break;
    }
    case 2:
      H5Adelete(file, attribute.c_str());
      break;
    case 3:
      edit_field(file, in, false);
      break;
    case 4:
      edit_field(file, in, true);
      break;
    case 5:
      resize(file, in);
      break;
    default:
      H5Ldelete(file, kDatasets[in.byte() % std::size(kDatasets)], H5P_DEFAULT);
      break;
    }
  }
}

bool copy_file(const std::string &from, const std::string &to) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  out << in.rdbuf();
  return static_cast<bool>(out);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  (void)paths();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const Paths &p = paths();
  if (!copy_file(p.base, p.work)) std::abort();
  {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    const hid_t file = H5Fopen(p.work.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    if (file < 0) std::abort();
    Bytes in(data, size);
    apply_edits(file, in);
    H5Fclose(file);
  }
  TraceContents trace;
  std::string error;
  if (!read_trace(p.work, false, trace, error)) {
    if (error.empty()) std::abort(); // a refusal always says why
    return 0;
  }
  Report report;
  if (make_report(trace, report, error)) {
    (void)report_json(report);
    (void)report_text(report);
  } else if (error.empty()) {
    std::abort();
  }
  Audit audit;
  if (make_audit(trace, audit, error)) {
    (void)export_json(audit);
    (void)export_csv(audit);
  }
  return 0;
}
