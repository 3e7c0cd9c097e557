// Counter sources: each hook family (BLAS, cuBLAS, cuBLASLt, the C API, ...) registers itself
// once with the core, like a Darshan module. The core lists them in the trace's configuration;
// a source counts through counters.hpp with its own flopledger_source tag.
#pragma once

#include "flopledger/tags.h"

namespace flopledger::runtime {

struct CounterSource {
  flopledger_source id;
  const char *symbols; ///< the entry points it hooks, for people
};

/// Registers `source` (call from a static initialiser). Returns true; false when the registry
/// is full (then the source still counts but is not listed).
bool register_source(const CounterSource &source);

/// "blas_gemm(sgemm_ dgemm_ ...), api(...)" — the registered sources, for the configuration line.
const char *registered_sources();

} // namespace flopledger::runtime
