#include "io/hdf5_util.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <sys/stat.h>

namespace flopledger::io::detail {

namespace {

herr_t innermost_error(unsigned n, const H5E_error2_t *err, void *data) {
  if (n == 0 && err != nullptr && err->desc != nullptr)
    *static_cast<std::string *>(data) = err->desc;
  return 0;
}

} // namespace

std::string hdf5_detail() {
  std::string desc;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_error, &desc);
  // Some HDF5 messages span lines (a failed write lists its arguments): keep the error on one.
  for (char &c : desc)
    if (c == '\n' || c == '\r') c = ' ';
  return desc.empty() ? std::string() : " (HDF5: " + desc + ")";
}

std::string failed(const std::string &path, const std::string &operation) {
  return path + ": " + operation + " failed" + hdf5_detail();
}

// ---------------------------------------------------------------------------------------------
// Files

std::uint64_t file_size(const std::string &path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

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

Hid file_access_without_locking() {
  Hid fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
#if H5_VERSION_GE(1, 10, 7)
  if (fapl.valid() && H5Pset_file_locking(fapl.get(), false, true) < 0) fapl.reset();
#endif
  return fapl;
}

// ---------------------------------------------------------------------------------------------
// Fixed-length strings inside rows

std::string fit(std::string_view text, std::size_t capacity) {
  if (text.size() <= capacity) return std::string(text);
  std::size_t cut = capacity - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  return std::string(text.substr(0, cut)) + "...";
}

Hid string_type(std::size_t size) {
  Hid type(H5Tcopy(H5T_C_S1), H5Tclose);
  if (!type.valid() || H5Tset_size(type.get(), size) < 0 ||
      H5Tset_strpad(type.get(), H5T_STR_NULLPAD) < 0 || H5Tset_cset(type.get(), H5T_CSET_UTF8) < 0)
    type.reset();
  return type;
}

// ---------------------------------------------------------------------------------------------
// Attributes

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

int read_uint_attribute(hid_t object, const char *name, std::uint64_t &value) {
  if (H5Aexists(object, name) <= 0) return 1;
  Hid attribute(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  Hid type(attribute.valid() ? H5Aget_type(attribute.get()) : -1, H5Tclose);
  if (!type.valid() || H5Tget_class(type.get()) != H5T_INTEGER) return -1;
  return H5Aread(attribute.get(), H5T_NATIVE_UINT64, &value) >= 0 ? 0 : -1;
}

// ---------------------------------------------------------------------------------------------
// Rows

bool read_rows(hid_t dataset, hid_t memory_type, hsize_t first, hsize_t count, void *out) {
  if (count == 0) return true;
  Hid file_space(H5Dget_space(dataset), H5Sclose);
  Hid memory_space(H5Screate_simple(1, &count, nullptr), H5Sclose);
  return file_space.valid() && memory_space.valid() &&
         H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &first, nullptr, &count, nullptr) >=
             0 &&
         H5Dread(dataset, memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, out) >= 0;
}

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
  // The memory record has padding and the file type is packed, so HDF5 converts the row through
  // a type-conversion and a background buffer, each as large as the transfer's buffer size (1 MiB
  // by default), allocated and zeroed on every H5Dwrite. One row needs one record's worth.
  Hid transfer(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  Hid file_type(H5Dget_type(dataset), H5Tclose);
  const std::size_t record_size =
      file_type.valid() ? std::max(H5Tget_size(memory_type), H5Tget_size(file_type.get())) : 0;
  return file_space.valid() && memory_space.valid() && transfer.valid() && record_size > 0 &&
         H5Pset_buffer(transfer.get(), record_size, nullptr, nullptr) >= 0 &&
         H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &index, nullptr, &one, nullptr) >=
             0 &&
         H5Dwrite(dataset, memory_type, memory_space.get(), file_space.get(), transfer.get(),
                  record) >= 0;
}

} // namespace flopledger::io::detail
