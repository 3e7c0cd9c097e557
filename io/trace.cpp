// The HDF5 trace, schema v1 (docs/trace-format.md). C API only, default sec2 driver, default
// format bounds, no SWMR: rank 0 is the only writer and flushes after every mutating call, so a
// job killed at any point leaves a file that opens as is with every flushed row.
#include "io/trace.hpp"

#include <hdf5.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <iterator>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#ifndef FLOPLEDGER_VERSION
#define FLOPLEDGER_VERSION "0.0.0-dev"
#endif

namespace flopledger::io {

namespace {

// ---------------------------------------------------------------------------------------------
// HDF5 handles and errors

/// Owns one HDF5 identifier and closes it with the matching H5?close.
class Hid {
public:
  using Closer = herr_t (*)(hid_t);
  Hid() = default;
  Hid(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Hid(Hid &&other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = -1; }
  Hid &operator=(Hid &&other) noexcept {
    if (this != &other) {
      reset();
      id_ = other.id_;
      closer_ = other.closer_;
      other.id_ = -1;
    }
    return *this;
  }
  Hid(const Hid &) = delete;
  Hid &operator=(const Hid &) = delete;
  ~Hid() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  /// Closes now; false when HDF5 reports a failure (for files: the final flush failed).
  bool reset() {
    herr_t status = 0;
    if (id_ >= 0 && closer_ != nullptr) status = closer_(id_);
    id_ = -1;
    return status >= 0;
  }

private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

/// Turns HDF5's automatic error printing off for the lifetime of the guard: failures become
/// error() messages, never stack dumps on the training job's stderr.
class QuietHdf5 {
public:
  QuietHdf5() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietHdf5(const QuietHdf5 &) = delete;
  QuietHdf5 &operator=(const QuietHdf5 &) = delete;

private:
  H5E_auto2_t func_ = nullptr;
  void *data_ = nullptr;
};

herr_t innermost_error(unsigned n, const H5E_error2_t *err, void *data) {
  if (n == 0 && err != nullptr && err->desc != nullptr)
    *static_cast<std::string *>(data) = err->desc;
  return 0;
}

/// " (HDF5: <most specific message>)" from the current error stack, or "".
std::string hdf5_detail() {
  std::string desc;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_error, &desc);
  return desc.empty() ? std::string() : " (HDF5: " + desc + ")";
}

/// "<path>: <operation> failed (HDF5: ...)".
std::string failed(const std::string &path, const std::string &operation) {
  return path + ": " + operation + " failed" + hdf5_detail();
}

// ---------------------------------------------------------------------------------------------
// Files

/// The path names something that could be a trace: it exists and is not a directory.
bool check_trace_path(const std::string &path, std::string &error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = path + ": " + (errno == ENOENT ? "no such file" : std::strerror(errno));
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    error = path + ": is a directory, not a trace file";
    return false;
  }
  return true;
}

std::uint64_t file_size(const std::string &path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

/// HDF5 files start with this signature at offset 0, 512, 1024, 2048, ... (user block).
bool has_hdf5_signature(const std::string &path) {
  static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  bool found = false;
  for (long offset = 0; !found && offset <= (1L << 30); offset = offset == 0 ? 512 : offset * 2) {
    char buf[8];
    if (std::fseek(f, offset, SEEK_SET) != 0 || std::fread(buf, 1, 8, f) != 8) break;
    found = std::memcmp(buf, kSignature, 8) == 0;
  }
  std::fclose(f);
  return found;
}

/// File access: sec2 driver, default format bounds, and no file locking, so that a live
/// reader and the writer never block each other (HDF5 1.10 locks by default).
Hid file_access_without_locking() {
  Hid fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
#if H5_VERSION_GE(1, 10, 7)
  if (fapl.valid() && H5Pset_file_locking(fapl.get(), false, true) < 0) fapl.reset();
#endif
  return fapl;
}

/// Byte range a writer locks: far past any real end of file, so it never covers HDF5 data, and a
/// record lock, which on Linux does not interact with the flock() that HDF5 readers may take.
constexpr off_t kWriterLockOffset = static_cast<off_t>(1) << 62;

enum class LockResult { Locked, Busy, Unsupported };

/// Takes the writer lock on `fd` without waiting. An open-file-description lock, so that closing
/// another descriptor of the same file in this process (a reader) does not release it.
LockResult lock_for_writing(int fd) {
  struct flock range {};
  range.l_type = F_WRLCK;
  range.l_whence = SEEK_SET;
  range.l_start = kWriterLockOffset;
  range.l_len = 1;
#ifdef F_OFD_SETLK
  if (::fcntl(fd, F_OFD_SETLK, &range) == 0) return LockResult::Locked;
#else
  if (::fcntl(fd, F_SETLK, &range) == 0) return LockResult::Locked;
#endif
  return errno == EAGAIN || errno == EACCES ? LockResult::Busy : LockResult::Unsupported;
}

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Fixed-length strings inside rows

/// `text` if it fits in `capacity` bytes, else its start cut at a UTF-8 character boundary and
/// ending with "..." (documented in docs/trace-format.md).
std::string fit(std::string_view text, std::size_t capacity) {
  if (text.size() <= capacity) return std::string(text);
  std::size_t cut = capacity - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  return std::string(text.substr(0, cut)) + "...";
}

template <std::size_t N> void put(char (&field)[N], std::string_view text) {
  const std::string fitted = fit(text, N);
  std::memset(field, 0, N);
  std::memcpy(field, fitted.data(), fitted.size());
}

template <std::size_t N> std::string get(const char (&field)[N]) {
  return std::string(field, strnlen(field, N));
}

// ---------------------------------------------------------------------------------------------
// Row records: the in-memory layout of one row of each dataset. The file types are the same
// compounds, packed; HDF5 converts between them by field name.

constexpr std::size_t kDecimalLen = FLOPLEDGER_DECIMAL_LEN;

struct StepRecord {
  std::uint64_t row;
  std::uint32_t segment;
  std::uint64_t step_first, step_last;
  double t_start, t_end;
  std::uint64_t tokens, tokens_hi;
  std::uint64_t flops_by_precision[kPrecisions], flops_by_precision_hi[kPrecisions];
  std::uint64_t flops_by_phase[kPhases], flops_by_phase_hi[kPhases];
  std::uint64_t flops_by_source[kSources], flops_by_source_hi[kSources];
  std::uint64_t calls_by_source[kSources];
  std::uint64_t rank_flops_min, rank_flops_max, rank_tokens_min, rank_tokens_max;
  std::uint32_t ranks, ranks_active;
  char period_flops[kDecimalLen];
  char cumulative_counted[kDecimalLen];
  char cumulative_modification[kDecimalLen];
  std::uint8_t status;
  double fraction_of_threshold;
};

struct SegmentRecord {
  std::uint32_t id;
  char job_id[FLOPLEDGER_JOB_ID_LEN];
  char launcher[FLOPLEDGER_LAUNCHER_LEN];
  char hosts[FLOPLEDGER_HOSTS_LEN];
  std::uint32_t world_size;
  double start, end;
  std::uint8_t state;
  std::int32_t exit_status;
  std::uint64_t first_row, rows;
};

struct EventRecord {
  std::uint64_t row;
  double time;
  char kind[FLOPLEDGER_EVENT_KIND_LEN];
  char detail[FLOPLEDGER_EVENT_DETAIL_LEN];
};

Hid string_type(std::size_t size) {
  Hid type(H5Tcopy(H5T_C_S1), H5Tclose);
  if (!type.valid() || H5Tset_size(type.get(), size) < 0 ||
      H5Tset_strpad(type.get(), H5T_STR_NULLPAD) < 0 || H5Tset_cset(type.get(), H5T_CSET_UTF8) < 0)
    type.reset();
  return type;
}

/// Builds a compound type member by member; valid() is false if any step failed.
class Compound {
public:
  explicit Compound(std::size_t size) : type_(H5Tcreate(H5T_COMPOUND, size), H5Tclose) {}

  void add(const char *name, std::size_t offset, hid_t member) {
    if (member < 0 || !type_.valid() || H5Tinsert(type_.get(), name, offset, member) < 0)
      ok_ = false;
  }
  void add_string(const char *name, std::size_t offset, std::size_t size) {
    Hid member = string_type(size);
    add(name, offset, member.get());
  }
  void add_u64_array(const char *name, std::size_t offset, std::size_t count) {
    const hsize_t dims[1] = {count};
    Hid member(H5Tarray_create2(H5T_NATIVE_UINT64, 1, dims), H5Tclose);
    add(name, offset, member.get());
  }
  Hid take() {
    if (!ok_) type_.reset();
    return std::move(type_);
  }

private:
  Hid type_;
  bool ok_ = true;
};

// The member names are the struct's field names, so the schema is written once.
#define FL_FIELD(c, rec, name, type) c.add(#name, HOFFSET(rec, name), type)
#define FL_STRING(c, rec, name) c.add_string(#name, HOFFSET(rec, name), sizeof(rec::name))
#define FL_ARRAY(c, rec, name, n) c.add_u64_array(#name, HOFFSET(rec, name), n)

Hid step_memory_type() {
  Compound c(sizeof(StepRecord));
  FL_FIELD(c, StepRecord, row, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, segment, H5T_NATIVE_UINT32);
  FL_FIELD(c, StepRecord, step_first, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, step_last, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, t_start, H5T_NATIVE_DOUBLE);
  FL_FIELD(c, StepRecord, t_end, H5T_NATIVE_DOUBLE);
  FL_FIELD(c, StepRecord, tokens, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, tokens_hi, H5T_NATIVE_UINT64);
  FL_ARRAY(c, StepRecord, flops_by_precision, kPrecisions);
  FL_ARRAY(c, StepRecord, flops_by_precision_hi, kPrecisions);
  FL_ARRAY(c, StepRecord, flops_by_phase, kPhases);
  FL_ARRAY(c, StepRecord, flops_by_phase_hi, kPhases);
  FL_ARRAY(c, StepRecord, flops_by_source, kSources);
  FL_ARRAY(c, StepRecord, flops_by_source_hi, kSources);
  FL_ARRAY(c, StepRecord, calls_by_source, kSources);
  FL_FIELD(c, StepRecord, rank_flops_min, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, rank_flops_max, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, rank_tokens_min, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, rank_tokens_max, H5T_NATIVE_UINT64);
  FL_FIELD(c, StepRecord, ranks, H5T_NATIVE_UINT32);
  FL_FIELD(c, StepRecord, ranks_active, H5T_NATIVE_UINT32);
  FL_STRING(c, StepRecord, period_flops);
  FL_STRING(c, StepRecord, cumulative_counted);
  FL_STRING(c, StepRecord, cumulative_modification);
  FL_FIELD(c, StepRecord, status, H5T_NATIVE_UINT8);
  FL_FIELD(c, StepRecord, fraction_of_threshold, H5T_NATIVE_DOUBLE);
  return c.take();
}

Hid segment_memory_type() {
  Compound c(sizeof(SegmentRecord));
  FL_FIELD(c, SegmentRecord, id, H5T_NATIVE_UINT32);
  FL_STRING(c, SegmentRecord, job_id);
  FL_STRING(c, SegmentRecord, launcher);
  FL_STRING(c, SegmentRecord, hosts);
  FL_FIELD(c, SegmentRecord, world_size, H5T_NATIVE_UINT32);
  FL_FIELD(c, SegmentRecord, start, H5T_NATIVE_DOUBLE);
  FL_FIELD(c, SegmentRecord, end, H5T_NATIVE_DOUBLE);
  FL_FIELD(c, SegmentRecord, state, H5T_NATIVE_UINT8);
  FL_FIELD(c, SegmentRecord, exit_status, H5T_NATIVE_INT32);
  FL_FIELD(c, SegmentRecord, first_row, H5T_NATIVE_UINT64);
  FL_FIELD(c, SegmentRecord, rows, H5T_NATIVE_UINT64);
  return c.take();
}

Hid event_memory_type() {
  Compound c(sizeof(EventRecord));
  FL_FIELD(c, EventRecord, row, H5T_NATIVE_UINT64);
  FL_FIELD(c, EventRecord, time, H5T_NATIVE_DOUBLE);
  FL_STRING(c, EventRecord, kind);
  FL_STRING(c, EventRecord, detail);
  return c.take();
}

#undef FL_FIELD
#undef FL_STRING
#undef FL_ARRAY

/// The three memory types, built once per writer or read.
struct RowTypes {
  Hid step = step_memory_type();
  Hid segment = segment_memory_type();
  Hid event = event_memory_type();
  bool valid() const { return step.valid() && segment.valid() && event.valid(); }
};

// ---------------------------------------------------------------------------------------------
// Root attributes

bool write_string_attribute(hid_t object, const char *name, std::string_view value) {
  // A fixed-length string type cannot have size 0: an empty value is one NUL byte.
  std::string buffer(value);
  if (buffer.empty()) buffer.push_back('\0');
  Hid type = string_type(buffer.size());
  Hid space(H5Screate(H5S_SCALAR), H5Sclose);
  if (!type.valid() || !space.valid()) return false;
  Hid attribute(H5Acreate2(object, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                H5Aclose);
  return attribute.valid() && H5Awrite(attribute.get(), type.get(), buffer.data()) >= 0;
}

template <typename T>
bool write_scalar_attribute(hid_t object, const char *name, hid_t type, T value) {
  Hid space(H5Screate(H5S_SCALAR), H5Sclose);
  if (!space.valid()) return false;
  Hid attribute(H5Acreate2(object, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  return attribute.valid() && H5Awrite(attribute.get(), type, &value) >= 0;
}

/// Reads a string attribute, fixed-length (as flopledger writes them) or variable-length (as
/// other tools may). 0: read; 1: missing; -1: unreadable or not a string.
int read_string_attribute(hid_t object, const char *name, std::string &value) {
  if (H5Aexists(object, name) <= 0) return 1;
  Hid attribute(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  Hid type(attribute.valid() ? H5Aget_type(attribute.get()) : -1, H5Tclose);
  if (!type.valid() || H5Tget_class(type.get()) != H5T_STRING) return -1;
  if (H5Tis_variable_str(type.get()) > 0) {
    Hid memory(H5Tcopy(H5T_C_S1), H5Tclose);
    char *text = nullptr;
    if (H5Tset_size(memory.get(), H5T_VARIABLE) < 0 ||
        H5Aread(attribute.get(), memory.get(), &text) < 0)
      return -1;
    value = text != nullptr ? text : "";
    H5free_memory(text);
    return 0;
  }
  const std::size_t size = H5Tget_size(type.get());
  std::string buffer(size, '\0');
  if (size == 0 || H5Aread(attribute.get(), type.get(), buffer.data()) < 0) return -1;
  value.assign(buffer.c_str(), strnlen(buffer.data(), size));
  return 0;
}

/// Reads an integer attribute of any integer type. 0: read; 1: missing; -1: unreadable.
int read_uint_attribute(hid_t object, const char *name, std::uint64_t &value) {
  if (H5Aexists(object, name) <= 0) return 1;
  Hid attribute(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  Hid type(attribute.valid() ? H5Aget_type(attribute.get()) : -1, H5Tclose);
  if (!type.valid() || H5Tget_class(type.get()) != H5T_INTEGER) return -1;
  return H5Aread(attribute.get(), H5T_NATIVE_UINT64, &value) >= 0 ? 0 : -1;
}

template <std::size_t N> std::string join_names(const std::array<std::string_view, N> &names) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i) {
    if (i > 0) out += ',';
    out += names[i];
  }
  return out;
}

std::string original_flops_text(const OriginalModel &original) {
  return original.compute_known ? to_decimal(original.training_flops) : "unknown";
}

std::string encode_config(const std::vector<std::pair<std::string, std::string>> &config) {
  std::string out;
  for (const auto &[key, value] : config)
    out += key + "=" + value + "\n";
  return out;
}

std::vector<std::pair<std::string, std::string>> decode_config(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    if (line.empty()) continue;
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos)
      out.emplace_back(std::string(line), std::string());
    else
      out.emplace_back(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
  }
  return out;
}

bool write_header(hid_t file, const TraceHeader &header, const std::string &created) {
  const std::string version =
      header.writer_version.empty() ? std::string(FLOPLEDGER_VERSION) : header.writer_version;
  return write_string_attribute(file, FLOPLEDGER_ATTR_FORMAT, FLOPLEDGER_FORMAT_TAG) &&
         write_scalar_attribute<std::uint32_t>(file, FLOPLEDGER_ATTR_FORMAT_MAJOR,
                                               H5T_NATIVE_UINT32, FLOPLEDGER_FORMAT_MAJOR) &&
         write_scalar_attribute<std::uint32_t>(file, FLOPLEDGER_ATTR_FORMAT_MINOR,
                                               H5T_NATIVE_UINT32, FLOPLEDGER_FORMAT_MINOR) &&
         write_string_attribute(file, FLOPLEDGER_ATTR_WRITER_VERSION, version) &&
         write_string_attribute(file, FLOPLEDGER_ATTR_CREATED, created) &&
         write_string_attribute(file, FLOPLEDGER_ATTR_RULE_SET, header.rule_set) &&
         write_string_attribute(file, FLOPLEDGER_ATTR_ORIGINAL_FLOPS,
                                original_flops_text(header.original)) &&
         write_scalar_attribute<std::uint8_t>(file, FLOPLEDGER_ATTR_ORIGINAL_SYSTEMIC,
                                              H5T_NATIVE_UINT8,
                                              header.original.systemic_risk ? 1 : 0) &&
         write_string_attribute(file, FLOPLEDGER_ATTR_BASE_MODEL, header.base_model) &&
         write_string_attribute(file, FLOPLEDGER_ATTR_CONFIG, encode_config(header.config)) &&
         write_string_attribute(file, FLOPLEDGER_ATTR_PRECISION_NAMES,
                                join_names(kPrecisionNames)) &&
         write_string_attribute(file, FLOPLEDGER_ATTR_PHASE_NAMES, join_names(kPhaseNames)) &&
         write_string_attribute(file, FLOPLEDGER_ATTR_SOURCE_NAMES, join_names(kSourceNames));
}

/// Outcome of reading a file: whether trying again could help (a live file being written).
enum class ReadFailure { None, Retryable, Final };

std::string format_version_text(std::uint64_t major, std::uint64_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

/// Reads and checks the root attributes. A file of a newer major is a Final failure.
ReadFailure read_header(hid_t file, const std::string &path, TraceHeader &header,
                        std::string &error) {
  std::string tag;
  if (read_string_attribute(file, FLOPLEDGER_ATTR_FORMAT, tag) != 0) {
    error = path + ": not a flopledger trace (an HDF5 file without the string root attribute '" +
            FLOPLEDGER_ATTR_FORMAT + "')";
    return ReadFailure::Retryable; // a file being created has no attributes for an instant
  }
  if (tag != FLOPLEDGER_FORMAT_TAG) {
    error = path + ": not a flopledger trace (root attribute '" FLOPLEDGER_ATTR_FORMAT "' is '" +
            tag + "', expected '" FLOPLEDGER_FORMAT_TAG "')";
    return ReadFailure::Final;
  }
  std::uint64_t major = 0, minor = 0;
  if (read_uint_attribute(file, FLOPLEDGER_ATTR_FORMAT_MAJOR, major) != 0 ||
      read_uint_attribute(file, FLOPLEDGER_ATTR_FORMAT_MINOR, minor) != 0) {
    error = path + ": damaged flopledger trace: root attributes '" FLOPLEDGER_ATTR_FORMAT_MAJOR
                   "' and '" FLOPLEDGER_ATTR_FORMAT_MINOR "' must be unsigned integers";
    return ReadFailure::Final;
  }
  if (major > FLOPLEDGER_FORMAT_MAJOR) {
    error = path + ": written by a newer flopledger: format " + format_version_text(major, minor) +
            ", this reader reads " + std::to_string(FLOPLEDGER_FORMAT_MAJOR) +
            ".x; use a newer flopledger to read it";
    return ReadFailure::Final;
  }
  header.format_major = static_cast<std::uint32_t>(major);
  header.format_minor = static_cast<std::uint32_t>(minor);

  struct Required {
    const char *name;
    std::string *target;
  };
  std::string original, config, names[3];
  const Required strings[] = {{FLOPLEDGER_ATTR_WRITER_VERSION, &header.writer_version},
                              {FLOPLEDGER_ATTR_CREATED, &header.created_utc},
                              {FLOPLEDGER_ATTR_RULE_SET, &header.rule_set},
                              {FLOPLEDGER_ATTR_ORIGINAL_FLOPS, &original},
                              {FLOPLEDGER_ATTR_BASE_MODEL, &header.base_model},
                              {FLOPLEDGER_ATTR_CONFIG, &config},
                              {FLOPLEDGER_ATTR_PRECISION_NAMES, &names[0]},
                              {FLOPLEDGER_ATTR_PHASE_NAMES, &names[1]},
                              {FLOPLEDGER_ATTR_SOURCE_NAMES, &names[2]}};
  for (const Required &r : strings) {
    if (read_string_attribute(file, r.name, *r.target) != 0) {
      error = path + ": damaged flopledger trace: missing or unreadable string root attribute '" +
              r.name + "'";
      return ReadFailure::Final;
    }
  }
  std::uint64_t systemic = 0;
  if (read_uint_attribute(file, FLOPLEDGER_ATTR_ORIGINAL_SYSTEMIC, systemic) != 0 || systemic > 1) {
    error = path + ": damaged flopledger trace: root attribute '" FLOPLEDGER_ATTR_ORIGINAL_SYSTEMIC
                   "' must be 0 or 1";
    return ReadFailure::Final;
  }
  header.original.systemic_risk = systemic == 1;
  if (original == "unknown") {
    header.original.compute_known = false;
    header.original.training_flops = 0;
  } else {
    const ParsedFlops parsed = parse_flops(original);
    if (!parsed.ok) {
      error = path +
              ": damaged flopledger trace: root attribute '" FLOPLEDGER_ATTR_ORIGINAL_FLOPS
              "' is '" +
              original + "': " + parsed.error;
      return ReadFailure::Final;
    }
    header.original.compute_known = true;
    header.original.training_flops = parsed.value;
  }
  header.config = decode_config(config);

  // The count columns are arrays in tag order: a file with another order cannot be read as is.
  const std::string expected[3] = {join_names(kPrecisionNames), join_names(kPhaseNames),
                                   join_names(kSourceNames)};
  const char *attribute_names[3] = {FLOPLEDGER_ATTR_PRECISION_NAMES, FLOPLEDGER_ATTR_PHASE_NAMES,
                                    FLOPLEDGER_ATTR_SOURCE_NAMES};
  for (int i = 0; i < 3; ++i) {
    if (names[i] != expected[i]) {
      error = path + ": root attribute '" + attribute_names[i] + "' is '" + names[i] +
              "', this reader's columns are '" + expected[i] + "'";
      return ReadFailure::Final;
    }
  }
  return ReadFailure::None;
}

// ---------------------------------------------------------------------------------------------
// Datasets

constexpr hsize_t kStepChunk = 64, kSegmentChunk = 16, kEventChunk = 64;

bool create_dataset(hid_t file, const char *name, hid_t memory_type, hsize_t chunk) {
  const hsize_t dims[1] = {0}, max_dims[1] = {H5S_UNLIMITED};
  Hid space(H5Screate_simple(1, dims, max_dims), H5Sclose);
  Hid dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  // On disk the compound is packed: no padding bytes between fields.
  Hid file_type(H5Tcopy(memory_type), H5Tclose);
  if (!space.valid() || !dcpl.valid() || !file_type.valid() || H5Tpack(file_type.get()) < 0 ||
      H5Pset_chunk(dcpl.get(), 1, &chunk) < 0)
    return false;
  Hid dataset(
      H5Dcreate2(file, name, file_type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      H5Dclose);
  return dataset.valid();
}

/// Opens dataset `name` and checks that it is 1-D and has every field of `memory_type`.
ReadFailure open_dataset(hid_t file, const std::string &path, const char *name, hid_t memory_type,
                         Hid &dataset, hsize_t &rows, std::string &error) {
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
    error = path + ": damaged flopledger trace: missing dataset '" + name + "'";
    return ReadFailure::Retryable;
  }
  dataset = Hid(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  Hid type(dataset.valid() ? H5Dget_type(dataset.get()) : -1, H5Tclose);
  Hid space(dataset.valid() ? H5Dget_space(dataset.get()) : -1, H5Sclose);
  if (!type.valid() || !space.valid()) {
    error = failed(path, std::string("opening dataset '") + name + "'");
    return ReadFailure::Retryable;
  }
  if (H5Tget_class(type.get()) != H5T_COMPOUND || H5Sget_simple_extent_ndims(space.get()) != 1) {
    error = path + ": damaged flopledger trace: dataset '" + name +
            "' is not a 1-D dataset of compound rows";
    return ReadFailure::Final;
  }
  const int members = H5Tget_nmembers(memory_type);
  for (int i = 0; i < members; ++i) {
    char *field = H5Tget_member_name(memory_type, static_cast<unsigned>(i));
    const bool present = field != nullptr && H5Tget_member_index(type.get(), field) >= 0;
    const std::string field_name = field != nullptr ? field : "?";
    H5free_memory(field);
    if (!present) {
      error = path + ": damaged flopledger trace: dataset '" + name + "' has no field '" +
              field_name + "'";
      return ReadFailure::Final;
    }
  }
  H5Sget_simple_extent_dims(space.get(), &rows, nullptr);
  return ReadFailure::None;
}

/// Reads rows [first, first + count) of `dataset` into `out`.
bool read_rows(hid_t dataset, hid_t memory_type, hsize_t first, hsize_t count, void *out) {
  if (count == 0) return true;
  Hid file_space(H5Dget_space(dataset), H5Sclose);
  Hid memory_space(H5Screate_simple(1, &count, nullptr), H5Sclose);
  return file_space.valid() && memory_space.valid() &&
         H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &first, nullptr, &count, nullptr) >=
             0 &&
         H5Dread(dataset, memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, out) >= 0;
}

/// Writes one row at `index`, growing the dataset first when `index` is past its end.
bool write_row(hid_t dataset, hid_t memory_type, hsize_t index, const void *record) {
  Hid file_space(H5Dget_space(dataset), H5Sclose);
  hsize_t rows = 0;
  if (!file_space.valid() || H5Sget_simple_extent_dims(file_space.get(), &rows, nullptr) < 0)
    return false;
  if (index >= rows) {
    const hsize_t new_rows = index + 1;
    if (H5Dset_extent(dataset, &new_rows) < 0) return false;
    file_space = Hid(H5Dget_space(dataset), H5Sclose);
  }
  const hsize_t one = 1;
  Hid memory_space(H5Screate_simple(1, &one, nullptr), H5Sclose);
  return file_space.valid() && memory_space.valid() &&
         H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &index, nullptr, &one, nullptr) >=
             0 &&
         H5Dwrite(dataset, memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT,
                  record) >= 0;
}

// ---------------------------------------------------------------------------------------------
// Rows <-> records

template <std::size_t N>
void put_words(const u128 (&values)[N], std::uint64_t (&lo)[N], std::uint64_t (&hi)[N]) {
  for (std::size_t i = 0; i < N; ++i) {
    lo[i] = lo_word(values[i]);
    hi[i] = hi_word(values[i]);
  }
}

template <std::size_t N>
void get_words(const std::uint64_t (&lo)[N], const std::uint64_t (&hi)[N], u128 (&values)[N]) {
  for (std::size_t i = 0; i < N; ++i)
    values[i] = from_words(lo[i], hi[i]);
}

template <std::size_t N> bool any_nonzero(const u128 (&values)[N]) {
  for (const u128 v : values)
    if (v != 0) return true;
  return false;
}

template <std::size_t N> bool checked_sum(const u128 (&values)[N], u128 &sum) {
  sum = 0;
  for (const u128 v : values)
    if (!checked_add(sum, v, sum)) return false;
  return true;
}

bool period_has_flops(const JobPeriod &period) {
  for (const auto &by_precision : period.flops)
    for (const auto &by_phase : by_precision)
      for (const u128 v : by_phase)
        if (v != 0) return true;
  return false;
}

/// The row's projections: computed from period.flops when it holds counts, else as given.
void projections(const StepRow &row, u128 (&precision)[kPrecisions], u128 (&phase)[kPhases],
                 u128 (&source)[kSources]) {
  if (!period_has_flops(row.period)) {
    std::copy(std::begin(row.by_precision), std::end(row.by_precision), precision);
    std::copy(std::begin(row.by_phase), std::end(row.by_phase), phase);
    std::copy(std::begin(row.by_source), std::end(row.by_source), source);
    return;
  }
  for (std::size_t i = 0; i < kPrecisions; ++i)
    precision[i] = row.period.flops_by_precision(i);
  for (std::size_t i = 0; i < kPhases; ++i)
    phase[i] = row.period.flops_by_phase(i);
  for (std::size_t i = 0; i < kSources; ++i)
    source[i] = row.period.flops_by_source(i);
}

/// Fills `record` from `row`; false with `error` when the row is not self-consistent.
/// `period_total` receives the period's FLOPs.
bool to_record(const StepRow &row, StepRecord &record, u128 &period_total, std::string &error) {
  record = StepRecord{};
  u128 precision[kPrecisions], phase[kPhases], source[kSources];
  projections(row, precision, phase, source);
  u128 by_phase_total = 0, by_source_total = 0;
  if (!checked_sum(precision, period_total) || !checked_sum(phase, by_phase_total) ||
      !checked_sum(source, by_source_total)) {
    error = "step row " + std::to_string(row.row) + ": period FLOPs overflow 128 bits";
    return false;
  }
  if (by_phase_total != period_total || by_source_total != period_total) {
    error = "step row " + std::to_string(row.row) + ": FLOPs by precision (" +
            to_decimal(period_total) + "), by phase (" + to_decimal(by_phase_total) +
            ") and by source (" + to_decimal(by_source_total) + ") do not add up to one total";
    return false;
  }
  for (std::size_t i = 0; i < kSources; ++i) {
    if (hi_word(row.period.calls[i]) != 0) {
      error = "step row " + std::to_string(row.row) + ": calls of source " +
              std::string(kSourceNames[i]) + " (" + to_decimal(row.period.calls[i]) +
              ") do not fit the 64-bit column";
      return false;
    }
    record.calls_by_source[i] = lo_word(row.period.calls[i]);
  }
  record.row = row.row;
  record.segment = row.segment;
  record.step_first = row.period.step_first;
  record.step_last = row.period.step_last;
  record.t_start = row.t_start;
  record.t_end = row.t_end;
  record.tokens = lo_word(row.period.tokens);
  record.tokens_hi = hi_word(row.period.tokens);
  put_words(precision, record.flops_by_precision, record.flops_by_precision_hi);
  put_words(phase, record.flops_by_phase, record.flops_by_phase_hi);
  put_words(source, record.flops_by_source, record.flops_by_source_hi);
  record.rank_flops_min = row.period.rank_flops_min;
  record.rank_flops_max = row.period.rank_flops_max;
  record.rank_tokens_min = row.period.rank_tokens_min;
  record.rank_tokens_max = row.period.rank_tokens_max;
  record.ranks = row.period.ranks;
  record.ranks_active = row.period.ranks_active;
  put(record.period_flops, to_decimal(period_total));
  put(record.cumulative_counted, to_decimal(row.cumulative_counted));
  put(record.cumulative_modification, to_decimal(row.cumulative_modification));
  record.status = static_cast<std::uint8_t>(row.status);
  record.fraction_of_threshold = row.fraction_of_threshold;
  return true;
}

/// Parses an exact-decimal string field of row `index`.
bool parse_decimal_field(const char *field_name, std::string_view text, std::uint64_t index,
                         u128 &value, std::string &error) {
  const ParsedFlops parsed = parse_flops(text);
  if (!parsed.ok) {
    error = "steps row " + std::to_string(index) + ": field '" + field_name + "' is '" +
            std::string(text) + "': " + parsed.error;
    return false;
  }
  value = parsed.value;
  return true;
}

bool from_record(const StepRecord &record, std::uint64_t index, StepRow &row, std::string &error) {
  row = StepRow{};
  row.row = record.row;
  row.segment = record.segment;
  row.t_start = record.t_start;
  row.t_end = record.t_end;
  JobPeriod &p = row.period;
  p.step_first = record.step_first;
  p.step_last = record.step_last;
  p.tokens = from_words(record.tokens, record.tokens_hi);
  for (std::size_t i = 0; i < kSources; ++i)
    p.calls[i] = record.calls_by_source[i];
  p.rank_flops_min = record.rank_flops_min;
  p.rank_flops_max = record.rank_flops_max;
  p.rank_tokens_min = record.rank_tokens_min;
  p.rank_tokens_max = record.rank_tokens_max;
  p.ranks = record.ranks;
  p.ranks_active = record.ranks_active;
  get_words(record.flops_by_precision, record.flops_by_precision_hi, row.by_precision);
  get_words(record.flops_by_phase, record.flops_by_phase_hi, row.by_phase);
  get_words(record.flops_by_source, record.flops_by_source_hi, row.by_source);
  if (!parse_decimal_field("cumulative_counted", get(record.cumulative_counted), index,
                           row.cumulative_counted, error) ||
      !parse_decimal_field("cumulative_modification", get(record.cumulative_modification), index,
                           row.cumulative_modification, error))
    return false;
  if (record.status > FLOPLEDGER_STATUS_PROVIDER_SYSTEMIC_RISK) {
    error = "steps row " + std::to_string(index) + ": status code " +
            std::to_string(record.status) + " is not 0, 1 or 2";
    return false;
  }
  row.status = static_cast<Status>(record.status);
  row.fraction_of_threshold = record.fraction_of_threshold;
  return true;
}

bool from_record(const SegmentRecord &record, std::uint64_t index, Segment &segment,
                 std::string &error) {
  if (record.state > FLOPLEDGER_SEGMENT_ERROR) {
    error = "segments row " + std::to_string(index) + ": state " + std::to_string(record.state) +
            " is not 0 (running), 1 (clean) or 2 (error)";
    return false;
  }
  segment.id = record.id;
  segment.job_id = get(record.job_id);
  segment.launcher = get(record.launcher);
  segment.hosts = get(record.hosts);
  segment.world_size = record.world_size;
  segment.start = record.start;
  segment.end = record.end;
  segment.state = record.state;
  segment.exit_status = record.exit_status;
  segment.first_row = record.first_row;
  segment.rows = record.rows;
  return true;
}

Event from_record(const EventRecord &record) {
  return Event{record.row, record.time, get(record.kind), get(record.detail)};
}

SegmentRecord to_record(const Segment &segment) {
  SegmentRecord record{};
  record.id = segment.id;
  put(record.job_id, segment.job_id);
  put(record.launcher, segment.launcher);
  put(record.hosts, segment.hosts);
  record.world_size = segment.world_size;
  record.start = segment.start;
  record.end = segment.end;
  record.state = segment.state;
  record.exit_status = segment.exit_status;
  record.first_row = segment.first_row;
  record.rows = segment.rows;
  return record;
}

EventRecord to_record(const Event &event) {
  EventRecord record{};
  record.row = event.row;
  record.time = event.time;
  put(record.kind, event.kind);
  put(record.detail, event.detail);
  return record;
}

/// The running totals of a row must be at least the previous row's plus this period: less is a
/// bug in the caller and is refused. More means periods whose rows were not written (an append
/// that failed earlier): the row is kept and `gap` describes the difference for an event, so
/// that the stored totals stay honest and the report flags the mismatch with the rows.
bool check_cumulative(const StepRow &row, const StepRecord &record, u128 period_total,
                      const RuleSet &rules, u128 previous_counted, u128 previous_modification,
                      std::string &error, std::string &gap) {
  u128 period_modification = 0;
  for (std::size_t i = 0; i < kPhases; ++i)
    if (rules.phase_counts[i])
      period_modification += from_words(record.flops_by_phase[i], record.flops_by_phase_hi[i]);
  u128 counted = 0, modification = 0;
  if (!checked_add(previous_counted, period_total, counted) ||
      !checked_add(previous_modification, period_modification, modification)) {
    error = "the ledger total would overflow 128 bits";
    return false;
  }
  if (row.cumulative_counted < counted || row.cumulative_modification < modification) {
    error = "row " + std::to_string(row.row) + " carries cumulative counted " +
            to_decimal(row.cumulative_counted) + " / modification " +
            to_decimal(row.cumulative_modification) + ", less than the previous totals plus " +
            "this period: " + to_decimal(counted) + " / " + to_decimal(modification);
    return false;
  }
  if (row.cumulative_counted != counted || row.cumulative_modification != modification)
    gap = "cumulative totals exceed the previous row's plus this period by " +
          to_decimal(row.cumulative_counted - counted) + " FLOP counted / " +
          to_decimal(row.cumulative_modification - modification) +
          " FLOP modification: periods without a row (an earlier append failed)";
  return true;
}

// ---------------------------------------------------------------------------------------------
// Reading

/// The three datasets of an open trace, with their row counts.
struct OpenDatasets {
  Hid steps, segments, events;
  hsize_t step_rows = 0, segment_rows = 0, event_rows = 0;
};

ReadFailure open_datasets(hid_t file, const std::string &path, const RowTypes &types,
                          OpenDatasets &d, std::string &error) {
  ReadFailure f = open_dataset(file, path, FLOPLEDGER_DSET_STEPS, types.step.get(), d.steps,
                               d.step_rows, error);
  if (f == ReadFailure::None)
    f = open_dataset(file, path, FLOPLEDGER_DSET_SEGMENTS, types.segment.get(), d.segments,
                     d.segment_rows, error);
  if (f == ReadFailure::None)
    f = open_dataset(file, path, FLOPLEDGER_DSET_EVENTS, types.event.get(), d.events, d.event_rows,
                     error);
  return f;
}

ReadFailure read_contents(hid_t file, const std::string &path, TraceContents &out,
                          std::string &error) {
  ReadFailure f = read_header(file, path, out.header, error);
  if (f != ReadFailure::None) return f;
  RowTypes types;
  if (!types.valid()) {
    error = failed(path, "building the row types");
    return ReadFailure::Final;
  }
  OpenDatasets d;
  f = open_datasets(file, path, types, d, error);
  if (f != ReadFailure::None) return f;

  std::vector<StepRecord> steps(d.step_rows);
  std::vector<SegmentRecord> segments(d.segment_rows);
  std::vector<EventRecord> events(d.event_rows);
  if (!read_rows(d.steps.get(), types.step.get(), 0, d.step_rows, steps.data()) ||
      !read_rows(d.segments.get(), types.segment.get(), 0, d.segment_rows, segments.data()) ||
      !read_rows(d.events.get(), types.event.get(), 0, d.event_rows, events.data())) {
    error = failed(path, "reading the rows");
    return ReadFailure::Retryable;
  }
  out.rows.resize(steps.size());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (!from_record(steps[i], i, out.rows[i], error)) {
      error = path + ": " + error;
      return ReadFailure::Final;
    }
  }
  out.segments.resize(segments.size());
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (!from_record(segments[i], i, out.segments[i], error)) {
      error = path + ": " + error;
      return ReadFailure::Final;
    }
  }
  for (const EventRecord &e : events)
    out.events.push_back(from_record(e));
  return ReadFailure::None;
}

ReadFailure read_once(const std::string &path, TraceContents &out, std::string &error) {
  // Locking is off for every read, not only live ones: the writer takes no HDF5 lock, and HDF5
  // refuses to open a file twice in one process with different locking flags.
  Hid fapl = file_access_without_locking();
  if (!fapl.valid()) {
    error = failed(path, "creating the file access properties");
    return ReadFailure::Final;
  }
  Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  if (!file.valid()) {
    if (!has_hdf5_signature(path)) {
      error = path + ": not an HDF5 file (no HDF5 signature), so not a flopledger trace";
      // A file that a writer is creating is empty for an instant; any other stays what it is.
      return file_size(path) == 0 ? ReadFailure::Retryable : ReadFailure::Final;
    }
    error = failed(path, "opening the HDF5 file for reading");
    return ReadFailure::Retryable;
  }
  return read_contents(file.get(), path, out, error);
}

} // namespace

// ---------------------------------------------------------------------------------------------
// TraceWriter

struct TraceWriter::Impl {
  std::string path;
  Hid file;
  RowTypes types;
  OpenDatasets datasets;
  const RuleSet *rules = nullptr;
  std::uint64_t next_row = 0;
  std::uint32_t next_segment = 0;
  u128 cumulative_counted = 0, cumulative_modification = 0;
  int lock_fd = -1; ///< holds the writer lock while the trace is open
  bool segment_open = false;
  Segment current;                 ///< the open segment
  std::uint64_t current_index = 0; ///< its row in the segments dataset
  std::string error;

  bool fail(const std::string &message) {
    error = message;
    return false;
  }
  bool fail_hdf5(const std::string &operation) { return fail(failed(path, operation)); }
  bool flush(const std::string &operation) {
    if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) return fail_hdf5("flushing after " + operation);
    return true;
  }
  bool require_open(const char *operation) {
    if (file.valid()) return true;
    return fail(path + ": " + operation + ": the trace is closed");
  }

  bool take_writer_lock(int fd);
  void release_writer_lock();
  bool open_or_create(const TraceHeader &header);
  bool create(const TraceHeader &header);
  bool abandon_new_file(const std::string &operation);
  bool open_existing(const TraceHeader &header);
  bool check_appendable(const TraceHeader &header);
  bool check_same_ledger(const TraceHeader &stored, const TraceHeader &header);
  bool load_position();
  bool write_segment();
};

namespace {

/// The header must describe something this writer can store and a reader can evaluate.
bool validate_header(const TraceHeader &header, std::string &error) {
  if (find_rule_set(header.rule_set) == nullptr) {
    error = "unknown rule set '" + header.rule_set + "'";
    return false;
  }
  for (const auto &[key, value] : header.config) {
    if (key.empty() || key.find_first_of("=\n") != std::string::npos ||
        value.find('\n') != std::string::npos) {
      error = "configuration entry '" + key + "=" + value +
              "' cannot be stored: keys must be non-empty without '=' or newlines, values "
              "without newlines";
      return false;
    }
  }
  return true;
}

} // namespace

// HDF5's own file locking is off (live readers must never block the writer or be blocked by it),
// so the writer takes a lock of its own: two jobs appending to one ledger at once would corrupt
// it. Where the file system has no locks, the writer goes on without one.
bool TraceWriter::Impl::take_writer_lock(int fd) {
  switch (lock_for_writing(fd)) {
  case LockResult::Locked:
    lock_fd = fd;
    return true;
  case LockResult::Unsupported:
    ::close(fd);
    return true;
  case LockResult::Busy:
    break;
  }
  ::close(fd);
  return fail(path + ": another flopledger job is writing this ledger right now; give each "
                     "running job its own ledger file (FLOPLEDGER_LEDGER)");
}

void TraceWriter::Impl::release_writer_lock() {
  if (lock_fd >= 0) ::close(lock_fd);
  lock_fd = -1;
}

bool TraceWriter::Impl::open_or_create(const TraceHeader &header) {
  // Create the file ourselves (O_EXCL) and lock it before HDF5 writes a byte; a file that
  // exists, even one another job created an instant ago, is a ledger to append to.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0 && errno == EEXIST) return open_existing(header);
  if (fd < 0) return fail(path + ": creating the trace file failed (" + std::strerror(errno) + ")");
  if (!take_writer_lock(fd)) return false;
  return create(header);
}

bool TraceWriter::Impl::create(const TraceHeader &header) {
  Hid fapl = file_access_without_locking();
  if (!fapl.valid()) return abandon_new_file("creating the file access properties");
  file = Hid(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
  if (!file.valid()) return abandon_new_file("creating the trace file");
  const std::string created = header.created_utc.empty() ? utc_now_iso8601() : header.created_utc;
  if (!write_header(file.get(), header, created))
    return abandon_new_file("writing the root attributes");
  if (!create_dataset(file.get(), FLOPLEDGER_DSET_STEPS, types.step.get(), kStepChunk) ||
      !create_dataset(file.get(), FLOPLEDGER_DSET_SEGMENTS, types.segment.get(), kSegmentChunk) ||
      !create_dataset(file.get(), FLOPLEDGER_DSET_EVENTS, types.event.get(), kEventChunk))
    return abandon_new_file("creating the datasets");
  std::string ignored;
  if (open_datasets(file.get(), path, types, datasets, ignored) != ReadFailure::None)
    return abandon_new_file("opening the new datasets");
  if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) return abandon_new_file("flushing the new trace");
  return true;
}

bool TraceWriter::Impl::abandon_new_file(const std::string &operation) {
  fail_hdf5(operation);
  // Never leave a half-made file behind: the next job would take it for a damaged ledger.
  datasets = OpenDatasets{};
  file.reset();
  ::unlink(path.c_str());
  release_writer_lock();
  return false;
}

bool TraceWriter::Impl::check_same_ledger(const TraceHeader &stored, const TraceHeader &header) {
  const std::string where = path + ": this ledger ";
  if (stored.rule_set != header.rule_set)
    return fail(where + "uses rule set '" + stored.rule_set + "' but this job uses '" +
                header.rule_set + "'; use the same rule set or a new ledger file");
  const std::string stored_flops = original_flops_text(stored.original);
  const std::string our_flops = original_flops_text(header.original);
  if (stored_flops != our_flops)
    return fail(where + "records original_flops " + stored_flops + " but this job declares " +
                our_flops + "; a ledger covers one modification of one base model");
  if (stored.original.systemic_risk != header.original.systemic_risk)
    return fail(where + "records original_systemic_risk " +
                (stored.original.systemic_risk ? "1" : "0") + " but this job declares " +
                (header.original.systemic_risk ? "1" : "0"));
  return true;
}

bool TraceWriter::Impl::load_position() {
  const hsize_t rows = datasets.step_rows;
  next_row = rows;
  if (rows > 0) {
    StepRecord last{};
    StepRow row;
    if (!read_rows(datasets.steps.get(), types.step.get(), rows - 1, 1, &last))
      return fail_hdf5("reading the last step row");
    if (!from_record(last, rows - 1, row, error)) return fail(path + ": " + error);
    if (row.row != rows - 1)
      return fail(path + ": damaged ledger: the last step row is numbered " +
                  std::to_string(row.row) + " but is row " + std::to_string(rows - 1) +
                  " of the dataset");
    cumulative_counted = row.cumulative_counted;
    cumulative_modification = row.cumulative_modification;
  }
  if (datasets.segment_rows > 0) {
    SegmentRecord last{};
    if (!read_rows(datasets.segments.get(), types.segment.get(), datasets.segment_rows - 1, 1,
                   &last))
      return fail_hdf5("reading the last segment row");
    next_segment = last.id + 1;
  }
  return true;
}

bool TraceWriter::Impl::open_existing(const TraceHeader &header) {
  // Lock before HDF5 opens the file: nothing may write into a ledger that another job is
  // appending to, not even the close of a refused open.
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return fail(path + ": opening the existing trace for appending failed (" +
                std::strerror(errno) + ")");
  if (!take_writer_lock(fd)) return false;
  // An empty file is what a job killed while creating the ledger leaves: nothing to keep.
  if (file_size(path) == 0) return create(header);
  if (!has_hdf5_signature(path))
    return fail(path + ": exists but is not an HDF5 file; refusing to overwrite it");
  if (!check_appendable(header)) return false;
  Hid fapl = file_access_without_locking();
  if (!fapl.valid()) return fail_hdf5("creating the file access properties");
  file = Hid(H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get()), H5Fclose);
  if (!file.valid()) return fail_hdf5("opening the existing trace for appending");
  if (open_datasets(file.get(), path, types, datasets, error) != ReadFailure::None) return false;
  return load_position();
}

/// Checks, read-only, that the existing file is a ledger this job may append to.
bool TraceWriter::Impl::check_appendable(const TraceHeader &header) {
  Hid fapl = file_access_without_locking();
  if (!fapl.valid()) return fail_hdf5("creating the file access properties");
  Hid readonly(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  if (!readonly.valid()) return fail_hdf5("opening the existing trace");
  TraceHeader stored;
  if (read_header(readonly.get(), path, stored, error) != ReadFailure::None) return false;
  if (stored.format_major != FLOPLEDGER_FORMAT_MAJOR ||
      stored.format_minor > FLOPLEDGER_FORMAT_MINOR)
    return fail(path + ": format " + format_version_text(stored.format_major, stored.format_minor) +
                " cannot be appended to by this writer (format " +
                format_version_text(FLOPLEDGER_FORMAT_MAJOR, FLOPLEDGER_FORMAT_MINOR) +
                "); use the flopledger that wrote it or a new ledger file");
  if (!check_same_ledger(stored, header)) return false;
  OpenDatasets present;
  return open_datasets(readonly.get(), path, types, present, error) == ReadFailure::None;
}

bool TraceWriter::Impl::write_segment() {
  const SegmentRecord record = to_record(current);
  if (!write_row(datasets.segments.get(), types.segment.get(), current_index, &record))
    return fail_hdf5("writing segment " + std::to_string(current.id));
  return true;
}

TraceWriter::TraceWriter() : impl_(std::make_unique<Impl>()) {}

TraceWriter::~TraceWriter() {
  close();
}

std::unique_ptr<TraceWriter> TraceWriter::open(const std::string &path, const TraceHeader &header,
                                               std::string &error) {
  QuietHdf5 quiet;
  if (!validate_header(header, error)) {
    error = path + ": " + error;
    return nullptr;
  }
  std::unique_ptr<TraceWriter> writer(new TraceWriter());
  Impl &impl = *writer->impl_;
  impl.path = path;
  impl.rules = find_rule_set(header.rule_set);
  if (!impl.types.valid()) {
    error = failed(path, "building the row types");
    return nullptr;
  }
  const bool ok = impl.open_or_create(header);
  if (!ok) {
    error = impl.error;
    return nullptr;
  }
  return writer;
}

std::uint64_t TraceWriter::next_row() const {
  return impl_->next_row;
}
std::uint32_t TraceWriter::next_segment_id() const {
  return impl_->next_segment;
}
u128 TraceWriter::cumulative_counted() const {
  return impl_->cumulative_counted;
}
u128 TraceWriter::cumulative_modification() const {
  return impl_->cumulative_modification;
}
const std::string &TraceWriter::error() const {
  return impl_->error;
}

bool TraceWriter::begin_segment(const Segment &segment) {
  QuietHdf5 quiet;
  Impl &m = *impl_;
  if (!m.require_open("begin_segment")) return false;
  if (m.segment_open)
    return m.fail(m.path + ": begin_segment: segment " + std::to_string(m.current.id) +
                  " is still open; end it first");
  if (segment.id != m.next_segment)
    return m.fail(m.path + ": begin_segment: segment id " + std::to_string(segment.id) +
                  ", expected " + std::to_string(m.next_segment) + " (next_segment_id())");
  // The writer owns the bookkeeping fields: a new segment is running and starts at next_row.
  m.current = segment;
  m.current.end = 0;
  m.current.state = FLOPLEDGER_SEGMENT_RUNNING;
  m.current.exit_status = 0;
  m.current.first_row = m.next_row;
  m.current.rows = 0;
  m.current_index = m.datasets.segment_rows;
  if (!m.write_segment() || !m.flush("begin_segment")) return false;
  ++m.datasets.segment_rows;
  ++m.next_segment;
  m.segment_open = true;
  return true;
}

bool TraceWriter::append(const StepRow &row) {
  QuietHdf5 quiet;
  Impl &m = *impl_;
  if (!m.require_open("append")) return false;
  const std::string where = m.path + ": append: ";
  if (!m.segment_open) return m.fail(where + "no segment is open (call begin_segment first)");
  if (row.row != m.next_row)
    return m.fail(where + "row number " + std::to_string(row.row) + ", expected " +
                  std::to_string(m.next_row) + " (next_row())");
  if (row.segment != m.current.id)
    return m.fail(where + "row " + std::to_string(row.row) + " names segment " +
                  std::to_string(row.segment) + " but the open segment is " +
                  std::to_string(m.current.id));
  StepRecord record;
  u128 period_total = 0;
  std::string error, gap;
  if (!to_record(row, record, period_total, error) ||
      !check_cumulative(row, record, period_total, *m.rules, m.cumulative_counted,
                        m.cumulative_modification, error, gap))
    return m.fail(where + error);

  if (!write_row(m.datasets.steps.get(), m.types.step.get(), m.next_row, &record))
    return m.fail_hdf5("appending step row " + std::to_string(row.row));
  ++m.next_row;
  ++m.datasets.step_rows;
  m.cumulative_counted = row.cumulative_counted;
  m.cumulative_modification = row.cumulative_modification;
  // Keep the segment's row count current, so that it is right even if the job dies.
  ++m.current.rows;
  if (!m.write_segment()) return false;
  if (!gap.empty()) {
    const EventRecord event = to_record(Event{row.row, row.t_end, "cumulative_gap", gap});
    if (!write_row(m.datasets.events.get(), m.types.event.get(), m.datasets.event_rows, &event))
      return m.fail_hdf5("appending the cumulative_gap event");
    ++m.datasets.event_rows;
  }
  return m.flush("append");
}

bool TraceWriter::add_event(const Event &event) {
  QuietHdf5 quiet;
  Impl &m = *impl_;
  if (!m.require_open("add_event")) return false;
  const EventRecord record = to_record(event);
  if (!write_row(m.datasets.events.get(), m.types.event.get(), m.datasets.event_rows, &record))
    return m.fail_hdf5("appending event '" + event.kind + "'");
  ++m.datasets.event_rows;
  return m.flush("add_event");
}

bool TraceWriter::end_segment(double end, std::uint8_t state, std::int32_t exit_status) {
  QuietHdf5 quiet;
  Impl &m = *impl_;
  if (!m.require_open("end_segment")) return false;
  if (!m.segment_open) return m.fail(m.path + ": end_segment: no segment is open");
  if (state != FLOPLEDGER_SEGMENT_CLEAN && state != FLOPLEDGER_SEGMENT_ERROR)
    return m.fail(m.path + ": end_segment: state " + std::to_string(state) +
                  " is not 1 (clean) or 2 (error)");
  m.current.end = end;
  m.current.state = state;
  m.current.exit_status = exit_status;
  if (!m.write_segment() || !m.flush("end_segment")) return false;
  m.segment_open = false;
  return true;
}

bool TraceWriter::close() {
  QuietHdf5 quiet;
  Impl &m = *impl_;
  if (!m.file.valid()) {
    m.release_writer_lock();
    return true;
  }
  const bool flushed = H5Fflush(m.file.get(), H5F_SCOPE_GLOBAL) >= 0;
  if (!flushed) m.fail_hdf5("flushing before close");
  m.datasets = OpenDatasets{};
  const bool closed = m.file.reset();
  if (flushed && !closed) m.fail_hdf5("closing the trace");
  m.release_writer_lock(); // only once HDF5 has written its last byte
  return flushed && closed;
}

// ---------------------------------------------------------------------------------------------
// read_trace

bool read_trace(const std::string &path, bool live, TraceContents &out, std::string &error) {
  QuietHdf5 quiet;
  if (!check_trace_path(path, error)) return false;
  // A live file may be caught between a row's extension and its flush: try again shortly.
  const int attempts = live ? 5 : 1;
  for (int attempt = 1;; ++attempt) {
    TraceContents contents;
    const ReadFailure f = read_once(path, contents, error);
    if (f == ReadFailure::None) {
      out = std::move(contents);
      return true;
    }
    if (f == ReadFailure::Final || attempt >= attempts) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

} // namespace flopledger::io
