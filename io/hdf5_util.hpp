// HDF5 helpers shared by the trace writer and reader: an owning handle, quiet error stacks,
// files, fixed-length strings, attributes and row I/O.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace flopledger::io::detail {

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

/// " (HDF5: <most specific message>)" from the current error stack, or "".
std::string hdf5_detail();

/// "<path>: <operation> failed (HDF5: ...)".
std::string failed(const std::string &path, const std::string &operation);

// ---------------------------------------------------------------------------------------------
// Files

std::uint64_t file_size(const std::string &path);

/// HDF5 files start with this signature at offset 0, 512, 1024, 2048, ... (user block).
bool has_hdf5_signature(const std::string &path);

/// File access: sec2 driver, default format bounds, and no file locking, so that a live
/// reader and the writer never block each other (HDF5 1.10 locks by default).
Hid file_access_without_locking();

// ---------------------------------------------------------------------------------------------
// Fixed-length strings inside rows

/// `text` if it fits in `capacity` bytes, else its start cut at a UTF-8 character boundary and
/// ending with "..." (documented in docs/trace-format.md).
std::string fit(std::string_view text, std::size_t capacity);

template <std::size_t N> void put(char (&field)[N], std::string_view text) {
  const std::string fitted = fit(text, N);
  std::memset(field, 0, N);
  std::memcpy(field, fitted.data(), fitted.size());
}

template <std::size_t N> std::string get(const char (&field)[N]) {
  return std::string(field, strnlen(field, N));
}

Hid string_type(std::size_t size);

// ---------------------------------------------------------------------------------------------
// Attributes

bool write_string_attribute(hid_t object, const char *name, std::string_view value);

template <typename T>
bool write_scalar_attribute(hid_t object, const char *name, hid_t type, T value) {
  Hid space(H5Screate(H5S_SCALAR), H5Sclose);
  if (!space.valid()) return false;
  Hid attribute(H5Acreate2(object, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  return attribute.valid() && H5Awrite(attribute.get(), type, &value) >= 0;
}

/// Reads a string attribute, fixed-length (as flopledger writes them) or variable-length (as
/// other tools may). 0: read; 1: missing; -1: unreadable or not a string.
int read_string_attribute(hid_t object, const char *name, std::string &value);

/// Reads an integer attribute of any integer type. 0: read; 1: missing; -1: unreadable.
int read_uint_attribute(hid_t object, const char *name, std::uint64_t &value);

// ---------------------------------------------------------------------------------------------
// Rows

/// Reads rows [first, first + count) of `dataset` into `out`.
bool read_rows(hid_t dataset, hid_t memory_type, hsize_t first, hsize_t count, void *out);

/// Writes one row at `index`, growing the dataset first when `index` is past its end.
bool write_row(hid_t dataset, hid_t memory_type, hsize_t index, const void *record);

} // namespace flopledger::io::detail
