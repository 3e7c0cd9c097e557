// Rank 0's trace writer, loaded on demand from libflopledger_trace.so with RTLD_LOCAL so that
// HDF5 never enters the metered process's global symbol scope (h5py, or another HDF5 the
// application uses, keeps its own). Other ranks never load it. The runtime sees the writer only
// through this abstract interface, so it does not link io/ or HDF5.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "io/trace.hpp"

namespace flopledger::runtime {

class TraceSink {
public:
  virtual ~TraceSink() = default;
  virtual std::uint64_t next_row() const = 0;
  virtual std::uint32_t next_segment_id() const = 0;
  virtual u128 cumulative_counted() const = 0;
  virtual u128 cumulative_modification() const = 0;
  virtual io::StepRow last_row() const = 0;
  virtual u128 replica_tokens_total() const = 0;
  virtual std::string hdf5_version() const = 0;
  virtual bool add_environment(const io::EnvironmentEntry &entry) = 0;
  virtual bool begin_segment(const io::Segment &segment) = 0;
  virtual bool append(const io::StepRow &row) = 0;
  virtual bool add_event(const io::Event &event) = 0;
  virtual bool end_segment(double end, std::uint8_t state, std::int32_t exit_status) = 0;
  /// The integrity chain's head as written at the last flush (64 hex digits).
  virtual std::string chain_head() const = 0;
  virtual const std::string &error() const = 0;
};

/// What the plugin exports, by name, with C linkage: nullptr with `error` set on failure.
using OpenTraceFn = TraceSink *(*)(const std::string &path, const io::TraceHeader &header,
                                   const io::IntegrityKey &key, std::string &error);
constexpr const char *kOpenTraceSymbol = "flopledger_plugin_open_trace";

/// Loads the plugin next to this runtime (or FLOPLEDGER_INTERNAL_TRACE_PLUGIN) and opens the
/// ledger (`key`: empty for the SHA-256 chain, else the HMAC key). Returns nullptr with `error`
/// set when the plugin or the file cannot be opened.
std::unique_ptr<TraceSink> open_trace(const std::string &path, const io::TraceHeader &header,
                                      const io::IntegrityKey &key, std::string &error);

} // namespace flopledger::runtime
