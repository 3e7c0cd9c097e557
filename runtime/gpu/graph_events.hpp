// The process's graph ledger and what the runtime does with it: the hooks ask it whether a call's
// stream is being captured, and a launch of an executable graph counts the FLOPs captured into it.
// The capture, instantiate, clone, destroy and launch events come from CUPTI callbacks
// (graph_cupti.cpp) or, in tests, from whatever calls these functions.
#pragma once

#include <cstdint>

#include "flopledger/tags.h"
#include "graph_ledger.hpp"

namespace flopledger::runtime::gpu {

/// The process-wide ledger.
GraphLedger &graph_ledger();

/// Hot path, for a counted call issued on `stream` (resolved lazily: `stream_of()` is called only
/// while some stream of the process is being captured). True when the stream is being captured:
/// the FLOPs were added to its graph and must not be counted now.
template <typename StreamOf>
bool captured(StreamOf &&stream_of, flopledger_source source, flopledger_precision precision,
              std::uint64_t flops) {
  GraphLedger &ledger = graph_ledger();
  if (!ledger.any_capture()) return false;
  return ledger.add_to_capture(stream_of(), source, precision, flops);
}

/// An executable graph was launched successfully: counts its FLOPs (under their hook source and
/// precision, in the current phase) into the calling thread's counters.
void count_graph_launch(GraphLedger::Handle exec);

} // namespace flopledger::runtime::gpu
