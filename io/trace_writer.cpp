// The HDF5 trace, schema v1 (docs/trace-format.md). C API only, default sec2 driver, default
// format bounds, no SWMR: rank 0 is the only writer and flushes after every mutating call, so a
// job killed at any point leaves a file that opens as is with every flushed row.
#include "io/trace.hpp"

#include <hdf5.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "io/hdf5_util.hpp"
#include "io/integrity.hpp"
#include "io/trace_schema.hpp"

#ifndef FLOPLEDGER_VERSION
#define FLOPLEDGER_VERSION "0.0.0-dev"
#endif

namespace flopledger::io {

using namespace detail;

namespace {

// ---------------------------------------------------------------------------------------------
// The one-writer lock

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
// Root attributes and datasets of a new trace

std::string encode_config(const std::vector<std::pair<std::string, std::string>> &config) {
  std::string out;
  for (const auto &[key, value] : config)
    out += key + "=" + value + "\n";
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
         write_string_attribute(file, FLOPLEDGER_ATTR_RULE_SET_TEXT, header.rule_set_text) &&
         write_string_attribute(file, FLOPLEDGER_ATTR_PRECISION_NAMES,
                                join_names(kPrecisionNames)) &&
         write_string_attribute(file, FLOPLEDGER_ATTR_PHASE_NAMES, join_names(kPhaseNames)) &&
         write_string_attribute(file, FLOPLEDGER_ATTR_SOURCE_NAMES, join_names(kSourceNames));
}

constexpr hsize_t kStepChunk = 64, kSegmentChunk = 16, kEventChunk = 64, kEnvironmentChunk = 16;

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

// ---------------------------------------------------------------------------------------------
// A row's running totals

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

} // namespace

// ---------------------------------------------------------------------------------------------
// TraceWriter

struct TraceWriter::Impl {
  std::string path;
  Hid file;
  RowTypes types;
  OpenDatasets datasets;
  RuleSet rules;
  std::uint64_t next_row = 0;
  std::uint32_t next_segment = 0;
  u128 cumulative_counted = 0, cumulative_modification = 0;
  StepRow last_row;
  u128 replica_tokens_total = 0;
  int lock_fd = -1;      ///< holds the writer lock while the trace is open
  dev_t file_device = 0; ///< the inode this writer opened (O_NOFOLLOW): HDF5 opens by path and
  ino_t file_inode = 0;  ///< must find the same file there
  bool segment_open = false;
  Segment current;                 ///< the open segment
  std::uint64_t current_index = 0; ///< its row in the segments dataset
  std::string error;
  // The integrity chain (format 1.2): the hash of the last row of each dataset.
  IntegrityKey key;
  std::string header_bytes; ///< canonical bytes of the ledger's header, as stored
  Digest step_head{}, segment_head{}, event_head{}, environment_head{};
  // canonical_row's walks of the step and segment types, which every append hashes.
  CanonicalLayout step_layout{types.step.get()}, segment_layout{types.segment.get()};
  Digest segment_previous{}; ///< the hash the open segment's row chains from

  bool fail(const std::string &message) {
    error = message;
    return false;
  }
  bool fail_hdf5(const std::string &operation) { return fail(failed(path, operation)); }
  bool flush(const std::string &operation) {
    if (!write_chain_head()) return fail_hdf5("writing the chain head before " + operation);
    if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) return fail_hdf5("flushing after " + operation);
    return true;
  }
  bool require_open(const char *operation) {
    if (file.valid()) return true;
    return fail(path + ": " + operation + ": the trace is closed");
  }

  bool take_writer_lock(int fd);
  bool remember_file(int fd);
  bool same_file_at_path(const char *when);
  void release_writer_lock();
  bool open_or_create(const TraceHeader &header);
  bool create(const TraceHeader &header);
  bool abandon_new_file(const std::string &operation);
  bool open_existing(const TraceHeader &header);
  bool check_appendable(const TraceHeader &header);
  bool check_same_ledger(const TraceHeader &stored, const TraceHeader &header);
  bool drop_unwritten_rows();
  bool record_unwritten_rows();
  hsize_t unwritten_rows = 0;
  bool load_position();
  bool load_chain_heads();
  bool check_chain_mode(const TraceHeader &stored);
  bool write_segment();
  bool write_event(EventRecord &record);
  bool write_chain_head();
  void start_chains();
};

namespace {

/// The header must describe something this writer can store and a reader can evaluate.
bool validate_header(const TraceHeader &header, RuleSet &rules, std::string &error) {
  if (!ledger_rule_set(header.rule_set, header.rule_set_text, rules, error)) return false;
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

// The writer never follows a symbolic link at the ledger's path (an attacker's link would make
// it overwrite or append to another file): creation is O_EXCL, opening is O_NOFOLLOW, and since
// HDF5 opens by path, the path must name the inode this writer opened before and after HDF5 opens
// it. A new ledger is 0640 (less where the umask says so): it tells who ran what on which model.
bool TraceWriter::Impl::open_or_create(const TraceHeader &header) {
  // Create the file ourselves (O_EXCL) and lock it before HDF5 writes a byte; a file that
  // exists, even one another job created an instant ago, is a ledger to append to.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (fd < 0 && errno == EEXIST) return open_existing(header);
  if (fd < 0) return fail(path + ": creating the trace file failed (" + std::strerror(errno) + ")");
  if (!remember_file(fd) || !take_writer_lock(fd)) return false;
  return create(header);
}

bool TraceWriter::Impl::remember_file(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int saved = errno;
    ::close(fd);
    return fail(path + ": reading the status of the trace file failed (" + std::strerror(saved) +
                ")");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(path + ": is not a regular file; refusing to write a ledger into it");
  }
  file_device = st.st_dev;
  file_inode = st.st_ino;
  return true;
}

bool TraceWriter::Impl::same_file_at_path(const char *when) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == file_device &&
      st.st_ino == file_inode)
    return true;
  return fail(path + ": the path no longer names the file this writer opened (" + when +
              "; replaced, or now a symbolic link); the ledger writer never follows symbolic "
              "links: refusing to write");
}

bool TraceWriter::Impl::create(const TraceHeader &header) {
  Hid fapl = file_access_without_locking();
  if (!fapl.valid()) return abandon_new_file("creating the file access properties");
  if (!same_file_at_path("before HDF5 created the trace")) {
    release_writer_lock();
    return false;
  }
  file = Hid(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
  if (!file.valid()) return abandon_new_file("creating the trace file");
  if (!same_file_at_path("after HDF5 created the trace")) {
    // Not ours to unlink: the path names another file now.
    file.reset();
    release_writer_lock();
    return false;
  }
  const std::string created = header.created_utc.empty() ? utc_now_iso8601() : header.created_utc;
  if (!write_header(file.get(), header, created))
    return abandon_new_file("writing the root attributes");
  TraceHeader stored = header;
  stored.created_utc = created;
  header_bytes = canonical_header(stored);
  start_chains();
  if (!write_string_attribute(file.get(), FLOPLEDGER_ATTR_CHAIN_MODE, chain_mode_name(key)) ||
      (!key.empty() &&
       !write_string_attribute(file.get(), FLOPLEDGER_ATTR_HMAC_KEY_ID, key.id())) ||
      !write_chain_head())
    return abandon_new_file("writing the chain attributes");
  if (!create_dataset(file.get(), FLOPLEDGER_DSET_STEPS, types.step.get(), kStepChunk) ||
      !create_dataset(file.get(), FLOPLEDGER_DSET_SEGMENTS, types.segment.get(), kSegmentChunk) ||
      !create_dataset(file.get(), FLOPLEDGER_DSET_EVENTS, types.event.get(), kEventChunk) ||
      !create_dataset(file.get(), FLOPLEDGER_DSET_ENVIRONMENT, types.environment.get(),
                      kEnvironmentChunk))
    return abandon_new_file("creating the datasets");
  std::string ignored;
  if (open_datasets(file.get(), path, FLOPLEDGER_FORMAT_MINOR, types, datasets, ignored) !=
      ReadFailure::None)
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
  if (!stored.rule_set_text.empty() && !header.rule_set_text.empty() &&
      stored.rule_set_text != header.rule_set_text)
    return fail(where + "stores another text of rule set '" + stored.rule_set +
                "' than this job's; a ledger is evaluated under one set of rules");
  const std::string stored_flops = original_flops_text(stored.original);
  const std::string our_flops = original_flops_text(header.original);
  if (stored_flops != our_flops)
    return fail(where + "records original_flops " + stored_flops + " but this job declares " +
                our_flops + "; a ledger covers one modification of one base model");
  if (stored.original.systemic_risk != header.original.systemic_risk)
    return fail(where + "records original_systemic_risk " +
                (stored.original.systemic_risk ? "1" : "0") + " but this job declares " +
                (header.original.systemic_risk ? "1" : "0"));
  if (stored.base_model != header.base_model)
    return fail(where + "records base model '" + stored.base_model + "' but this job declares '" +
                header.base_model + "'; a ledger covers one modification of one base model");
  return true;
}

// A job that filled the disk (or died) between extending the steps dataset and writing the row
// leaves rows of zeros at its end: they are cut off before this job appends, with an event.
bool TraceWriter::Impl::drop_unwritten_rows() {
  hsize_t rows = datasets.step_rows;
  while (rows > 0) {
    StepRecord last{};
    if (!read_rows(datasets.steps.get(), types.step.get(), rows - 1, 1, &last))
      return fail_hdf5("reading the last step row");
    if (!step_record_unwritten(last)) break;
    --rows;
  }
  const hsize_t unwritten = datasets.step_rows - rows;
  if (unwritten == 0) return true;
  if (H5Dset_extent(datasets.steps.get(), &rows) < 0)
    return fail_hdf5("cutting off the unwritten step rows");
  datasets.step_rows = rows;
  unwritten_rows = unwritten; // recorded as an event once the chains are loaded
  return true;
}

// The event of drop_unwritten_rows, chained like every other event.
bool TraceWriter::Impl::record_unwritten_rows() {
  if (unwritten_rows == 0) return true;
  EventRecord event = to_record(Event{datasets.step_rows, 0.0, "unwritten_rows",
                                      unwritten_rows_detail(unwritten_rows), 0, 0});
  if (!write_event(event)) return fail_hdf5("recording the unwritten step rows");
  unwritten_rows = 0;
  return flush("cutting off the unwritten step rows");
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
    last_row = row;
    // The token basis of the forecast: one 16-byte field of every row.
    struct Tokens {
      std::uint64_t lo, hi;
    };
    Hid type(H5Tcreate(H5T_COMPOUND, sizeof(Tokens)), H5Tclose);
    std::vector<Tokens> tokens(rows);
    if (!type.valid() ||
        H5Tinsert(type.get(), "replica_tokens", HOFFSET(Tokens, lo), H5T_NATIVE_UINT64) < 0 ||
        H5Tinsert(type.get(), "replica_tokens_hi", HOFFSET(Tokens, hi), H5T_NATIVE_UINT64) < 0 ||
        !read_rows(datasets.steps.get(), type.get(), 0, rows, tokens.data()))
      return fail_hdf5("reading the replica tokens of the step rows");
    for (const Tokens &t : tokens)
      replica_tokens_total = saturating_add(replica_tokens_total, from_words(t.lo, t.hi));
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
  const int fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ELOOP)
    return fail(path + ": is a symbolic link; the ledger writer never follows one (name the "
                       "real file in FLOPLEDGER_LEDGER)");
  if (fd < 0)
    return fail(path + ": opening the existing trace for appending failed (" +
                std::strerror(errno) + ")");
  if (!remember_file(fd) || !take_writer_lock(fd)) return false;
  // An empty file is what a job killed while creating the ledger leaves: nothing to keep.
  if (!same_file_at_path("before HDF5 opened the trace")) return false;
  if (file_size(path) == 0) return create(header);
  if (!has_hdf5_signature(path))
    return fail(path + ": exists but is not an HDF5 file; refusing to overwrite it");
  if (!check_appendable(header)) return false;
  Hid fapl = file_access_without_locking();
  if (!fapl.valid()) return fail_hdf5("creating the file access properties");
  file = Hid(H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get()), H5Fclose);
  if (!file.valid()) return fail_hdf5("opening the existing trace for appending");
  if (!same_file_at_path("after HDF5 opened the trace")) {
    file.reset();
    return false;
  }
  if (open_datasets(file.get(), path, FLOPLEDGER_FORMAT_MINOR, types, datasets, error) !=
      ReadFailure::None)
    return false;
  return drop_unwritten_rows() && load_position() && load_chain_heads() && record_unwritten_rows();
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
      stored.format_minor != FLOPLEDGER_FORMAT_MINOR)
    return fail(path + ": format " + format_version_text(stored.format_major, stored.format_minor) +
                " cannot be appended to by this writer (format " +
                format_version_text(FLOPLEDGER_FORMAT_MAJOR, FLOPLEDGER_FORMAT_MINOR) +
                (stored.format_minor < FLOPLEDGER_FORMAT_MINOR
                     ? "); upgrade it first with 'flopledger merge --output NEW.h5 " + path + "'"
                     : "); use the flopledger that wrote it or a new ledger file"));
  if (!check_same_ledger(stored, header) || !check_chain_mode(stored)) return false;
  header_bytes = canonical_header(stored);
  OpenDatasets present;
  return open_datasets(readonly.get(), path, stored.format_minor, types, present, error) ==
         ReadFailure::None;
}

void TraceWriter::Impl::start_chains() {
  step_head = chain_genesis(key, header_bytes, FLOPLEDGER_DSET_STEPS);
  segment_head = chain_genesis(key, header_bytes, FLOPLEDGER_DSET_SEGMENTS);
  event_head = chain_genesis(key, header_bytes, FLOPLEDGER_DSET_EVENTS);
  environment_head = chain_genesis(key, header_bytes, FLOPLEDGER_DSET_ENVIRONMENT);
}

/// A keyed ledger takes only its own key; a plain one only plain appends.
bool TraceWriter::Impl::check_chain_mode(const TraceHeader &stored) {
  const std::string where = path + ": this ledger ";
  if (stored.chain_mode == "hmac-sha256" && key.empty())
    return fail(where + "has a keyed chain (hmac-sha256, key id " + stored.hmac_key_id +
                "): set FLOPLEDGER_HMAC_KEY_FILE to its key to append to it");
  if (stored.chain_mode == "hmac-sha256" && stored.hmac_key_id != key.id())
    return fail(where + "is keyed with key id " + stored.hmac_key_id +
                " but this job's HMAC key has id " + key.id() + ": wrong key");
  if (stored.chain_mode == "sha256" && !key.empty())
    return fail(where + "has a plain sha256 chain; a job with an HMAC key cannot append to it "
                        "(use a new ledger file, or no key)");
  if (stored.chain_mode != "sha256" && stored.chain_mode != "hmac-sha256")
    return fail(where + "has chain_mode '" + stored.chain_mode +
                "'; this writer knows 'sha256' and 'hmac-sha256'");
  return true;
}

/// Continues each chain from the hash stored in the last row of its dataset.
bool TraceWriter::Impl::load_chain_heads() {
  start_chains();
  struct Last {
    hid_t dataset;
    hsize_t rows;
    Digest *head;
    const char *name;
  };
  const Last chains[] = {
      {datasets.steps.get(), datasets.step_rows, &step_head, FLOPLEDGER_DSET_STEPS},
      {datasets.segments.get(), datasets.segment_rows, &segment_head, FLOPLEDGER_DSET_SEGMENTS},
      {datasets.events.get(), datasets.event_rows, &event_head, FLOPLEDGER_DSET_EVENTS},
      {datasets.environment.get(), datasets.environment_rows, &environment_head,
       FLOPLEDGER_DSET_ENVIRONMENT}};
  for (const Last &c : chains) {
    if (c.rows == 0) continue;
    struct HashOnly {
      char hash[FLOPLEDGER_HASH_LEN];
    } last{};
    Hid type(H5Tcreate(H5T_COMPOUND, sizeof(HashOnly)), H5Tclose);
    Hid text = string_type(FLOPLEDGER_HASH_LEN);
    if (!type.valid() || !text.valid() ||
        H5Tinsert(type.get(), "hash", HOFFSET(HashOnly, hash), text.get()) < 0 ||
        !read_rows(c.dataset, type.get(), c.rows - 1, 1, &last))
      return fail_hdf5(std::string("reading the last hash of dataset '") + c.name + "'");
    if (!from_hex(get(last.hash), *c.head))
      return fail(path + ": damaged ledger: the last row of dataset '" + c.name +
                  "' has no valid chain hash; run 'flopledger verify " + path + "'");
  }
  return true;
}

bool TraceWriter::Impl::write_chain_head() {
  const std::string head =
      to_hex(detail::chain_head(key, step_head, segment_head, event_head, environment_head));
  if (H5Aexists(file.get(), FLOPLEDGER_ATTR_CHAIN_HEAD) <= 0)
    return write_string_attribute(file.get(), FLOPLEDGER_ATTR_CHAIN_HEAD, head);
  Hid attribute(H5Aopen(file.get(), FLOPLEDGER_ATTR_CHAIN_HEAD, H5P_DEFAULT), H5Aclose);
  Hid type = string_type(head.size());
  return attribute.valid() && type.valid() &&
         H5Awrite(attribute.get(), type.get(), head.data()) >= 0;
}

bool TraceWriter::Impl::write_event(EventRecord &record) {
  const Digest hash = link(key, event_head, canonical_row(types.event.get(), &record));
  put(record.hash, to_hex(hash));
  if (!write_row(datasets.events.get(), types.event.get(), datasets.event_rows, &record))
    return false;
  event_head = hash;
  ++datasets.event_rows;
  return true;
}

bool TraceWriter::Impl::write_segment() {
  // Only the last segment is ever rewritten: it chains from the one before it.
  SegmentRecord record = to_record(current);
  const Digest hash = link(key, segment_previous, segment_layout.row(&record));
  put(record.hash, to_hex(hash));
  segment_head = hash;
  if (!write_row(datasets.segments.get(), types.segment.get(), current_index, &record))
    return fail_hdf5("writing segment " + std::to_string(current.id));
  return true;
}

TraceWriter::TraceWriter() : impl_(std::make_unique<Impl>()) {}

TraceWriter::~TraceWriter() {
  close();
}

std::unique_ptr<TraceWriter> TraceWriter::open(const std::string &path, const TraceHeader &header,
                                               std::string &error, const IntegrityKey &key) {
  QuietHdf5 quiet;
  RuleSet rules;
  if (!validate_header(header, rules, error)) {
    error = path + ": " + error;
    return nullptr;
  }
  std::unique_ptr<TraceWriter> writer(new TraceWriter());
  Impl &impl = *writer->impl_;
  impl.path = path;
  impl.rules = rules;
  impl.key = key;
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
const StepRow &TraceWriter::last_row() const {
  return impl_->last_row;
}
u128 TraceWriter::replica_tokens_total() const {
  return impl_->replica_tokens_total;
}
std::string TraceWriter::chain_head() const {
  const Impl &m = *impl_;
  return to_hex(
      detail::chain_head(m.key, m.step_head, m.segment_head, m.event_head, m.environment_head));
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
  m.segment_previous = m.segment_head;
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
      !check_cumulative(row, record, period_total, m.rules, m.cumulative_counted,
                        m.cumulative_modification, error, gap))
    return m.fail(where + error);

  const Digest hash = link(m.key, m.step_head, m.step_layout.row(&record));
  put(record.hash, to_hex(hash));
  if (!write_row(m.datasets.steps.get(), m.types.step.get(), m.next_row, &record))
    return m.fail_hdf5("appending step row " + std::to_string(row.row));
  m.step_head = hash;
  ++m.next_row;
  ++m.datasets.step_rows;
  m.cumulative_counted = row.cumulative_counted;
  m.cumulative_modification = row.cumulative_modification;
  m.last_row = row;
  m.replica_tokens_total = saturating_add(m.replica_tokens_total, row.replica_tokens);
  // Keep the segment's row count current, so that it is right even if the job dies.
  ++m.current.rows;
  if (!m.write_segment()) return false;
  if (!gap.empty()) {
    EventRecord event = to_record(Event{row.row, row.t_end, "cumulative_gap", gap});
    if (!m.write_event(event)) return m.fail_hdf5("appending the cumulative_gap event");
  }
  return m.flush("append");
}

bool TraceWriter::add_event(const Event &event) {
  QuietHdf5 quiet;
  Impl &m = *impl_;
  if (!m.require_open("add_event")) return false;
  EventRecord record = to_record(event);
  if (!m.write_event(record)) return m.fail_hdf5("appending event '" + event.kind + "'");
  return m.flush("add_event");
}

bool TraceWriter::add_environment(const EnvironmentEntry &entry) {
  QuietHdf5 quiet;
  Impl &m = *impl_;
  if (!m.require_open("add_environment")) return false;
  EnvironmentRecord record = to_record(entry);
  const Digest hash =
      link(m.key, m.environment_head, canonical_row(m.types.environment.get(), &record));
  put(record.hash, to_hex(hash));
  if (!write_row(m.datasets.environment.get(), m.types.environment.get(),
                 m.datasets.environment_rows, &record))
    return m.fail_hdf5("appending environment entry '" + entry.key + "'");
  m.environment_head = hash;
  ++m.datasets.environment_rows;
  return m.flush("add_environment");
}

bool TraceWriter::end_segment(double end, std::uint8_t state, std::int32_t exit_status) {
  QuietHdf5 quiet;
  Impl &m = *impl_;
  if (!m.require_open("end_segment")) return false;
  if (!m.segment_open) return m.fail(m.path + ": end_segment: no segment is open");
  if (state != FLOPLEDGER_SEGMENT_CLEAN && state != FLOPLEDGER_SEGMENT_ERROR &&
      state != FLOPLEDGER_SEGMENT_TERMINATED)
    return m.fail(m.path + ": end_segment: state " + std::to_string(state) +
                  " is not 1 (clean), 2 (error) or 3 (terminated)");
  m.current.end = end;
  m.current.state = state;
  m.current.exit_status = exit_status;
  if (!m.write_segment() || !m.flush("end_segment")) return false;
  m.segment_open = false;
  return true;
}

bool TraceWriter::stamp_last_segment(const std::string &job_id, double end, std::uint8_t state,
                                     std::int32_t exit_status, bool &already) {
  QuietHdf5 quiet;
  Impl &m = *impl_;
  already = false;
  if (!m.require_open("stamp_last_segment")) return false;
  if (m.segment_open) return m.fail(m.path + ": stamp: this writer has a segment open");
  if (state != FLOPLEDGER_SEGMENT_CANCELLED && state != FLOPLEDGER_SEGMENT_TIMEOUT &&
      state != FLOPLEDGER_SEGMENT_KILLED)
    return m.fail(m.path + ": stamp: state " + std::to_string(state) +
                  " is not 4 (cancelled), 5 (timeout) or 6 (killed)");
  const hsize_t rows = m.datasets.segment_rows;
  if (rows == 0) return m.fail(m.path + ": stamp: the ledger has no segment");
  SegmentRecord last{};
  if (!read_rows(m.datasets.segments.get(), m.types.segment.get(), rows - 1, 1, &last))
    return m.fail_hdf5("reading the last segment row");
  Segment segment;
  if (!from_record(last, rows - 1, segment, m.error)) return false;
  if (segment.job_id != job_id)
    return m.fail(m.path + ": stamp: the last segment (" + std::to_string(segment.id) +
                  ") belongs to job '" + segment.job_id + "', not '" + job_id +
                  "' (only the last segment can be rewritten without breaking the chain)");
  const bool open = segment.state == FLOPLEDGER_SEGMENT_RUNNING;
  const bool refinable =
      segment.state == FLOPLEDGER_SEGMENT_TERMINATED && state != FLOPLEDGER_SEGMENT_KILLED;
  if (!open && !refinable) {
    already = true;
    return m.fail(m.path + ": stamp: segment " + std::to_string(segment.id) + " of job " + job_id +
                  " is already closed (state " + std::to_string(segment.state) + ")");
  }
  // Its row chains from the segment row before it, exactly as when the job wrote it.
  Digest previous = chain_genesis(m.key, m.header_bytes, FLOPLEDGER_DSET_SEGMENTS);
  if (rows > 1) {
    SegmentRecord before{};
    if (!read_rows(m.datasets.segments.get(), m.types.segment.get(), rows - 2, 1, &before))
      return m.fail_hdf5("reading the segment row before the last");
    if (!from_hex(get(before.hash), previous))
      return m.fail(m.path + ": damaged ledger: segment row " + std::to_string(rows - 2) +
                    " has no valid chain hash; run 'flopledger verify " + m.path + "'");
  }
  m.current = segment;
  if (open) m.current.end = end; // a terminated segment keeps the end its job recorded
  m.current.state = state;
  if (open) m.current.exit_status = exit_status;
  m.current_index = rows - 1;
  m.segment_previous = previous;
  return m.write_segment() && m.flush("stamp");
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

bool TraceWriter::copy_segment(const Segment &segment, const std::vector<StepRow> &rows) {
  QuietHdf5 quiet;
  Impl &m = *impl_;
  if (segment.state > FLOPLEDGER_SEGMENT_LAST_STATE)
    return m.fail(m.path + ": copy_segment: state " + std::to_string(segment.state) +
                  " is not a segment state (0 to " + std::to_string(FLOPLEDGER_SEGMENT_LAST_STATE) +
                  ")");
  if (!begin_segment(segment)) return false;
  for (const StepRow &row : rows)
    if (!append(row)) return false;
  // The recorded end, even "running": a copy says what the job left, not what the copy did.
  m.current.end = segment.end;
  m.current.state = segment.state;
  m.current.exit_status = segment.exit_status;
  if (!m.write_segment() || !m.flush("copy_segment")) return false;
  m.segment_open = false;
  return true;
}

} // namespace flopledger::io
