// Reading a trace (read_trace), and the checks that an HDF5 file is a flopledger trace this
// reader can read, which the writer also runs before it appends to a ledger.
#include "io/trace.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "io/hdf5_util.hpp"
#include "io/trace_schema.hpp"

namespace flopledger::io {

namespace detail {

// ---------------------------------------------------------------------------------------------
// Opening and validating

namespace {

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

} // namespace

std::string format_version_text(std::uint64_t major, std::uint64_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

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
  if (minor >= 1 &&
      read_string_attribute(file, FLOPLEDGER_ATTR_RULE_SET_TEXT, header.rule_set_text) != 0) {
    error = path + ": damaged flopledger trace: missing or unreadable string root attribute '" +
            FLOPLEDGER_ATTR_RULE_SET_TEXT + "'";
    return ReadFailure::Final;
  }
  if (minor >= 2) {
    if (read_string_attribute(file, FLOPLEDGER_ATTR_CHAIN_MODE, header.chain_mode) != 0 ||
        read_string_attribute(file, FLOPLEDGER_ATTR_CHAIN_HEAD, header.chain_head) != 0) {
      error = path + ": damaged flopledger trace: missing or unreadable string root attributes '" +
              FLOPLEDGER_ATTR_CHAIN_MODE + "' and '" + FLOPLEDGER_ATTR_CHAIN_HEAD + "'";
      return ReadFailure::Retryable; // a file being created has them an instant later
    }
    if (header.chain_mode == "hmac-sha256" &&
        read_string_attribute(file, FLOPLEDGER_ATTR_HMAC_KEY_ID, header.hmac_key_id) != 0) {
      error = path + ": damaged flopledger trace: missing or unreadable string root attribute '" +
              FLOPLEDGER_ATTR_HMAC_KEY_ID + "'";
      return ReadFailure::Final;
    }
  }

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

namespace {

/// Opens dataset `name` and checks that it is 1-D and has every field of `memory_type` (a file
/// of format 1.0 may lack the fields added in 1.1). `adapted` receives the memory type reduced to
/// the fields the file has: HDF5 converts compound rows by field name, and leaves the others be.
ReadFailure open_dataset(hid_t file, const std::string &path, std::uint32_t minor, const char *name,
                         hid_t memory_type, Hid &dataset, hsize_t &rows, Hid *adapted,
                         std::string &error) {
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
  Hid reduced(H5Tcreate(H5T_COMPOUND, H5Tget_size(memory_type)), H5Tclose);
  const int members = H5Tget_nmembers(memory_type);
  for (int i = 0; i < members; ++i) {
    const auto index = static_cast<unsigned>(i);
    char *field = H5Tget_member_name(memory_type, index);
    const bool present = field != nullptr && H5Tget_member_index(type.get(), field) >= 0;
    const std::string field_name = field != nullptr ? field : "?";
    H5free_memory(field);
    if (present) {
      Hid member(H5Tget_member_type(memory_type, index), H5Tclose);
      if (!member.valid() || !reduced.valid() ||
          H5Tinsert(reduced.get(), field_name.c_str(), H5Tget_member_offset(memory_type, index),
                    member.get()) < 0) {
        error = failed(path, "building the row type of dataset '" + std::string(name) + "'");
        return ReadFailure::Final;
      }
    } else if (minor >= added_in_minor(name, field_name)) {
      error = path + ": damaged flopledger trace: dataset '" + name + "' has no field '" +
              field_name + "'";
      return ReadFailure::Final;
    }
  }
  H5Sget_simple_extent_dims(space.get(), &rows, nullptr);
  if (adapted != nullptr) *adapted = std::move(reduced);
  return ReadFailure::None;
}

} // namespace

ReadFailure open_datasets(hid_t file, const std::string &path, std::uint32_t minor,
                          const RowTypes &types, OpenDatasets &d, std::string &error) {
  ReadFailure f = open_dataset(file, path, minor, FLOPLEDGER_DSET_STEPS, types.step.get(), d.steps,
                               d.step_rows, &d.step_type, error);
  if (f == ReadFailure::None)
    f = open_dataset(file, path, minor, FLOPLEDGER_DSET_SEGMENTS, types.segment.get(), d.segments,
                     d.segment_rows, &d.segment_type, error);
  if (f == ReadFailure::None)
    f = open_dataset(file, path, minor, FLOPLEDGER_DSET_EVENTS, types.event.get(), d.events,
                     d.event_rows, &d.event_type, error);
  if (f == ReadFailure::None && minor >= 1)
    f = open_dataset(file, path, minor, FLOPLEDGER_DSET_ENVIRONMENT, types.environment.get(),
                     d.environment, d.environment_rows, &d.environment_type, error);
  return f;
}

bool step_record_unwritten(const StepRecord &record) {
  return record.period_flops[0] == '\0' && record.cumulative_counted[0] == '\0' &&
         record.t_start == 0.0 && record.t_end == 0.0;
}

std::string unwritten_rows_detail(std::uint64_t count) {
  return std::to_string(count) +
         " step row(s) at the end of the ledger were allocated but never written (the disk "
         "filled or the job was killed while appending); they are left out";
}

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
  // Else HDF5 fails to open it and the signature check cannot read it either: "not HDF5" would
  // send the user after the wrong problem.
  if (::access(path.c_str(), R_OK) != 0) {
    error = path + ": cannot be read (" + std::strerror(errno) + ")";
    return false;
  }
  return true;
}

} // namespace detail

using namespace detail;

namespace {

// ---------------------------------------------------------------------------------------------
// Reading

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
  f = open_datasets(file, path, out.header.format_minor, types, d, error);
  if (f != ReadFailure::None) return f;

  // Value-initialised records: the fields a 1.0 file lacks stay zero.
  std::vector<StepRecord> steps(d.step_rows, StepRecord{});
  std::vector<SegmentRecord> segments(d.segment_rows, SegmentRecord{});
  std::vector<EventRecord> events(d.event_rows, EventRecord{});
  std::vector<EnvironmentRecord> environment(d.environment_rows, EnvironmentRecord{});
  if (!read_rows(d.steps.get(), d.step_type.get(), 0, d.step_rows, steps.data()) ||
      !read_rows(d.segments.get(), d.segment_type.get(), 0, d.segment_rows, segments.data()) ||
      !read_rows(d.events.get(), d.event_type.get(), 0, d.event_rows, events.data()) ||
      (d.environment.valid() && !read_rows(d.environment.get(), d.environment_type.get(), 0,
                                           d.environment_rows, environment.data()))) {
    error = failed(path, "reading the rows");
    return ReadFailure::Retryable;
  }
  // Trailing rows that never reached the disk are left out, and said so with an event.
  std::size_t written = steps.size();
  while (written > 0 && step_record_unwritten(steps[written - 1]))
    --written;
  const std::size_t unwritten = steps.size() - written;
  steps.resize(written);
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
  out.events.resize(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (!from_record(events[i], i, out.events[i], error)) {
      error = path + ": " + error;
      return ReadFailure::Final;
    }
  }
  if (unwritten > 0) {
    Event event;
    event.row = written;
    event.time = out.rows.empty() ? 0.0 : out.rows.back().t_end;
    event.kind = "unwritten_rows";
    event.detail = unwritten_rows_detail(unwritten);
    out.events.push_back(event);
  }
  for (const EnvironmentRecord &e : environment) {
    EnvironmentEntry entry = from_record(e);
    if (entry.key.empty())
      ++out.empty_environment_rows;
    else
      out.environment.push_back(std::move(entry));
  }
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
