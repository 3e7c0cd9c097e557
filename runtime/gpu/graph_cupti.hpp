// CUDA Graphs events from CUPTI callbacks: stream capture begin/end, graph launch and executable
// update (runtime and driver API callbacks; a driver call made inside a runtime call is not
// applied twice) and the graph resource callbacks (cloned, destroyed, executable created /
// destroyed) feed the graph ledger. libcupti is loaded with dlopen at run time; nothing links it.
#pragma once

#include <cstdint>

#include <cuda.h>
#include <cupti_callbacks.h>

#include "graph_ledger.hpp"

namespace flopledger::runtime::gpu {

// The parameter structs CUPTI passes for the calls handled here, as generated_cuda_meta.h (driver)
// and generated_cuda_runtime_api_meta.h (runtime) lay them out: the two agree on these leading
// members (the driver header does not compile outside the driver's own build: it names internal
// types). Only the leading members are read.
struct StreamCaptureParams { ///< cuStreamBeginCapture*_params: the stream comes first
  CUstream hStream;
};
struct StreamEndCaptureParams { ///< cuStreamEndCapture_params
  CUstream hStream;
  CUgraph *phGraph;
};
struct GraphLaunchParams { ///< cuGraphLaunch_params
  CUgraphExec hGraph;
  CUstream hStream;
};
struct GraphExecUpdateParams { ///< cuGraphExecUpdate_params and _v2_params: leading members
  CUgraphExec hGraphExec;
  CUgraph hGraph;
};

/// Applies one CUPTI callback to `ledger`. Returns the FLOPs to count now: those of a successful
/// graph launch, empty for every other callback (ignored callbacks included).
GraphFlops on_graph_callback(GraphLedger &ledger, CUpti_CallbackDomain domain,
                             CUpti_CallbackId cbid, const void *cbdata);

/// The callbacks on_graph_callback handles: calls `enable(domain, cbid)` for each (to enable them
/// on a CUPTI subscriber shared with other users of CUPTI). Returns false when one `enable` did.
bool enable_graph_callbacks(bool (*enable)(void *context, CUpti_CallbackDomain, CUpti_CallbackId),
                            void *context);

/// Subscribes to CUPTI once per process (dlopen of libcupti.so.13, then .so.12, then .so) and
/// enables the graph callbacks, feeding graph_ledger() and counting launches. (The CUPTI setting
/// that turns CUPTI off belongs to the configuration added with CUPTI activity; it must gate this
/// call when the two halves merge.) Failure (no CUPTI, another subscriber such as a profiler)
/// is logged once: graphs are then not tracked, and a GEMM captured into a graph is counted once
/// at capture time instead of at every launch. Never throws; cheap after the first call.
void start_graph_tracking() noexcept;

} // namespace flopledger::runtime::gpu
