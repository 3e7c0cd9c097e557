// The integrity chain of a trace (format 1.2, docs/trace-format.md "Integrity chain"): the
// canonical bytes of rows and of the header, and the SHA-256 / HMAC-SHA256 that links them.
// The runtime includes this header (through io/trace.hpp) without linking io/: IntegrityKey is a
// plain struct it fills and hands to the trace plugin.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flopledger::io {

struct TraceHeader;

/// A secret key for the keyed chain (HMAC-SHA256). Empty: the plain SHA-256 chain. The bytes are
/// never printed nor stored; only id() goes into the trace.
struct IntegrityKey {
  std::string bytes;

  bool empty() const { return bytes.empty(); }
  /// First 16 hex digits of SHA-256(bytes): names the key without revealing it.
  std::string id() const;
};

/// Minimum key length accepted from a key file.
constexpr std::size_t kMinKeyBytes = 16;

/// Reads a key file (its bytes, as is). False with `error` naming the file when it cannot be
/// read or holds fewer than kMinKeyBytes bytes; the content is never quoted.
bool load_integrity_key(const std::string &path, IntegrityKey &key, std::string &error);

/// "sha256" or "hmac-sha256": the chain_mode attribute for `key`.
std::string chain_mode_name(const IntegrityKey &key);

namespace detail {

using Digest = std::array<std::uint8_t, 32>;

std::string to_hex(const Digest &digest);
/// False unless `hex` is 64 lower- or upper-case hex digits.
bool from_hex(std::string_view hex, Digest &digest);

/// SHA-256(data), or HMAC-SHA256(key, data) when the key is not empty.
Digest chain_hash(const IntegrityKey &key, std::string_view data);

/// The canonical bytes of one row: every member of `memory_type` in schema order except "hash",
/// read from `record` (a struct laid out as `memory_type`). Integers: little-endian, their width;
/// doubles: the IEEE-754 bits as a little-endian uint64; arrays: their elements in order;
/// fixed-length strings: the length up to the first NUL as a little-endian uint32, then every
/// byte of the field (padding included, so that no stored byte escapes the hash).
/// Members that `dataset` gained after format 1.`minor` are left out, so that a row of an older
/// file hashes as its writer hashed it (dataset "" : every member).
/// (`memory_type` is an hid_t; this header stays free of HDF5 for the runtime's sake.)
std::string canonical_row(std::int64_t memory_type, const void *record,
                          std::string_view dataset = {}, std::uint32_t minor = ~0u);

/// canonical_row's walk of `memory_type`, done once: the fields to serialise, in order. Walking
/// an HDF5 compound type costs several times more than hashing the row, so the writer and
/// `verify` compile it once per dataset. row(record) == canonical_row(memory_type, record,
/// dataset, minor) for the type it was built from (which must stay open while it is used).
class CanonicalLayout {
public:
  explicit CanonicalLayout(std::int64_t memory_type, std::string_view dataset = {},
                           std::uint32_t minor = ~0u);
  std::string row(const void *record) const;

private:
  enum class Kind : std::uint8_t { Integer, Float, String, Raw };
  struct Field {
    Kind kind;
    std::size_t offset, size;
  };
  void add(std::int64_t type, std::size_t offset);
  std::vector<Field> fields_;
  std::size_t bytes_ = 0; ///< the canonical row's length when no string is short
};

/// The canonical bytes of the header: format tag, rule set name, rule set text, original
/// compute (decimal or "unknown"), systemic flag (1 byte), base model, created time; each string
/// as a little-endian uint32 length and its bytes.
std::string canonical_header(const TraceHeader &header);

/// The first "previous hash" of the chain of dataset `dataset`: H(header bytes || dataset name).
Digest chain_genesis(const IntegrityKey &key, const std::string &header_bytes,
                     std::string_view dataset);

/// A row's hash: H(previous || canonical row).
Digest link(const IntegrityKey &key, const Digest &previous, const std::string &row_bytes);

/// The head of the whole trace: H(steps || segments || events || environment chain heads).
Digest chain_head(const IntegrityKey &key, const Digest &steps, const Digest &segments,
                  const Digest &events, const Digest &environment);

} // namespace detail

} // namespace flopledger::io
