#include "io/integrity.hpp"

#include <hdf5.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <type_traits>
#include <vector>

#include "io/hdf5_util.hpp"
#include "io/trace.hpp"
#include "io/trace_schema.hpp"

namespace flopledger::io {

using namespace detail;

namespace {

void put_le(std::string &out, std::uint64_t value, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i)
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void put_text(std::string &out, std::string_view text) {
  put_le(out, text.size(), 4);
  out.append(text);
}

std::uint64_t read_native(const unsigned char *p, std::size_t width) {
  // Native (memory) integers of 1, 2, 4 or 8 bytes.
  std::uint64_t value = 0;
  switch (width) {
  case 1:
    return *p;
  case 2: {
    std::uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
  }
  case 4: {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  default:
    std::memcpy(&value, p, 8);
    return value;
  }
}

} // namespace

std::string IntegrityKey::id() const {
  return to_hex(chain_hash(IntegrityKey{}, bytes)).substr(0, 16);
}

bool load_integrity_key(const std::string &path, IntegrityKey &key, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "HMAC key file '" + path + "' cannot be read";
    return false;
  }
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    error = "HMAC key file '" + path + "' cannot be read";
    return false;
  }
  if (bytes.size() < kMinKeyBytes) {
    error = "HMAC key file '" + path + "' holds " + std::to_string(bytes.size()) +
            " bytes; a key needs at least " + std::to_string(kMinKeyBytes);
    return false;
  }
  key.bytes = std::move(bytes);
  return true;
}

std::string chain_mode_name(const IntegrityKey &key) {
  return key.empty() ? "sha256" : "hmac-sha256";
}

namespace detail {

std::string to_hex(const Digest &digest) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (const std::uint8_t b : digest) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0xf]);
  }
  return out;
}

bool from_hex(std::string_view hex, Digest &digest) {
  if (hex.size() != 64) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    digest[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return true;
}

Digest chain_hash(const IntegrityKey &key, std::string_view data) {
  Digest out{};
  unsigned int length = 0;
  if (key.empty())
    EVP_Digest(data.data(), data.size(), out.data(), &length, EVP_sha256(), nullptr);
  else
    HMAC(EVP_sha256(), key.bytes.data(), static_cast<int>(key.bytes.size()),
         reinterpret_cast<const unsigned char *>(data.data()), data.size(), out.data(), &length);
  return out;
}

static_assert(std::is_same<hid_t, std::int64_t>::value, "canonical_row takes an hid_t");

CanonicalLayout::CanonicalLayout(std::int64_t memory_type, std::string_view dataset,
                                 std::uint32_t minor) {
  const int members = H5Tget_nmembers(memory_type);
  for (int i = 0; i < members; ++i) {
    const auto index = static_cast<unsigned>(i);
    char *name = H5Tget_member_name(memory_type, index);
    const bool is_hash = name != nullptr && std::strcmp(name, "hash") == 0;
    const bool newer = name != nullptr && !dataset.empty() && added_in_minor(dataset, name) > minor;
    H5free_memory(name);
    if (is_hash || newer) continue;
    Hid member(H5Tget_member_type(memory_type, index), H5Tclose);
    add(member.get(), H5Tget_member_offset(memory_type, index));
  }
}

/// The fields of one value of `type` stored at `offset`.
void CanonicalLayout::add(std::int64_t type, std::size_t offset) {
  const std::size_t size = H5Tget_size(type);
  switch (H5Tget_class(type)) {
  case H5T_INTEGER:
    fields_.push_back({Kind::Integer, offset, size});
    bytes_ += size;
    return;
  case H5T_FLOAT:
    fields_.push_back({Kind::Float, offset, sizeof(double)});
    bytes_ += sizeof(double);
    return;
  case H5T_STRING:
    fields_.push_back({Kind::String, offset, size});
    bytes_ += 4 + size;
    return;
  case H5T_ARRAY: {
    Hid base(H5Tget_super(type), H5Tclose);
    const std::size_t element = H5Tget_size(base.get());
    for (std::size_t at = 0; element > 0 && at < size; at += element)
      add(base.get(), offset + at);
    return;
  }
  default:
    fields_.push_back({Kind::Raw, offset, size});
    bytes_ += size;
  }
}

std::string CanonicalLayout::row(const void *record) const {
  const auto *base = static_cast<const unsigned char *>(record);
  std::string out;
  out.reserve(bytes_);
  for (const Field &field : fields_) {
    const unsigned char *p = base + field.offset;
    switch (field.kind) {
    case Kind::Integer:
      put_le(out, read_native(p, field.size), field.size);
      break;
    case Kind::Float: {
      std::uint64_t bits = 0;
      double value = 0;
      std::memcpy(&value, p, sizeof value);
      std::memcpy(&bits, &value, sizeof bits);
      put_le(out, bits, 8);
      break;
    }
    case Kind::String: {
      const char *text = reinterpret_cast<const char *>(p);
      put_le(out, strnlen(text, field.size), 4);
      out.append(text, field.size);
      break;
    }
    case Kind::Raw:
      out.append(reinterpret_cast<const char *>(p), field.size);
      break;
    }
  }
  return out;
}

std::string canonical_row(std::int64_t memory_type, const void *record, std::string_view dataset,
                          std::uint32_t minor) {
  return CanonicalLayout(memory_type, dataset, minor).row(record);
}

std::string canonical_header(const TraceHeader &header) {
  std::string out;
  put_text(out, FLOPLEDGER_FORMAT_TAG);
  put_text(out, header.rule_set);
  put_text(out, header.rule_set_text);
  put_text(out, original_flops_text(header.original));
  out.push_back(header.original.systemic_risk ? 1 : 0);
  put_text(out, header.base_model);
  put_text(out, header.created_utc);
  return out;
}

Digest chain_genesis(const IntegrityKey &key, const std::string &header_bytes,
                     std::string_view dataset) {
  std::string data = header_bytes;
  put_text(data, dataset);
  return chain_hash(key, data);
}

Digest link(const IntegrityKey &key, const Digest &previous, const std::string &row_bytes) {
  std::string data(previous.begin(), previous.end());
  data += row_bytes;
  return chain_hash(key, data);
}

Digest chain_head(const IntegrityKey &key, const Digest &steps, const Digest &segments,
                  const Digest &events, const Digest &environment) {
  std::string data;
  for (const Digest *d : {&steps, &segments, &events, &environment})
    data.append(d->begin(), d->end());
  return chain_hash(key, data);
}

} // namespace detail

} // namespace flopledger::io
