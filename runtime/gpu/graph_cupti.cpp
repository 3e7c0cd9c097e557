#include "graph_cupti.hpp"

#include <cupti_driver_cbid.h>

namespace flopledger::runtime::gpu {

namespace {

using Handle = GraphLedger::Handle;

template <typename T> Handle handle(T value) {
  return reinterpret_cast<Handle>(value);
}

const CUpti_CallbackId kDriverCallbacks[] = {
    CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture,
    CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture_ptsz,
    CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture_v2,
    CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture_v2_ptsz,
    CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCaptureToGraph,
    CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCaptureToGraph_ptsz,
    CUPTI_DRIVER_TRACE_CBID_cuStreamEndCapture,
    CUPTI_DRIVER_TRACE_CBID_cuStreamEndCapture_ptsz,
    CUPTI_DRIVER_TRACE_CBID_cuGraphLaunch,
    CUPTI_DRIVER_TRACE_CBID_cuGraphLaunch_ptsz,
    CUPTI_DRIVER_TRACE_CBID_cuGraphExecUpdate,
    CUPTI_DRIVER_TRACE_CBID_cuGraphExecUpdate_v2,
};

const CUpti_CallbackId kResourceCallbacks[] = {
    CUPTI_CBID_RESOURCE_GRAPH_CLONED,
    CUPTI_CBID_RESOURCE_GRAPH_DESTROY_STARTING,
    CUPTI_CBID_RESOURCE_GRAPHEXEC_CREATED,
    CUPTI_CBID_RESOURCE_GRAPHEXEC_DESTROY_STARTING,
};

// Every parameter struct of the capture calls starts with the stream.
Handle first_stream(const CUpti_CallbackData *data) {
  return handle(static_cast<const StreamCaptureParams *>(data->functionParams)->hStream);
}

GraphFlops on_driver_exit(GraphLedger &ledger, CUpti_CallbackId cbid,
                          const CUpti_CallbackData *data) {
  const bool ok = data->functionReturnValue != nullptr &&
                  *static_cast<const CUresult *>(data->functionReturnValue) == CUDA_SUCCESS;
  switch (cbid) {
  case CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture:
  case CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture_ptsz:
  case CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture_v2:
  case CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture_v2_ptsz:
  case CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCaptureToGraph:
  case CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCaptureToGraph_ptsz:
    if (ok) ledger.capture_begin(first_stream(data));
    break;
  case CUPTI_DRIVER_TRACE_CBID_cuStreamEndCapture:
  case CUPTI_DRIVER_TRACE_CBID_cuStreamEndCapture_ptsz: {
    const auto *p = static_cast<const StreamEndCaptureParams *>(data->functionParams);
    const Handle graph = ok && p->phGraph != nullptr ? handle(*p->phGraph) : 0;
    ledger.capture_end(handle(p->hStream), graph); // a failed end invalidates the capture
    break;
  }
  case CUPTI_DRIVER_TRACE_CBID_cuGraphLaunch:
  case CUPTI_DRIVER_TRACE_CBID_cuGraphLaunch_ptsz:
    if (ok)
      return ledger.launched(
          handle(static_cast<const GraphLaunchParams *>(data->functionParams)->hGraph));
    break;
  case CUPTI_DRIVER_TRACE_CBID_cuGraphExecUpdate:
  case CUPTI_DRIVER_TRACE_CBID_cuGraphExecUpdate_v2: {
    // Both parameter structs start with (hGraphExec, hGraph).
    const auto *p = static_cast<const GraphExecUpdateParams *>(data->functionParams);
    if (ok) ledger.exec_updated(handle(p->hGraphExec), handle(p->hGraph));
    break;
  }
  default:
    break;
  }
  return {};
}

void on_resource(GraphLedger &ledger, CUpti_CallbackId cbid, const CUpti_ResourceData *data) {
  const auto *g = static_cast<const CUpti_GraphData *>(data->resourceDescriptor);
  if (g == nullptr) return;
  switch (cbid) {
  case CUPTI_CBID_RESOURCE_GRAPH_CLONED:
    ledger.graph_cloned(handle(g->originalGraph), handle(g->graph));
    break;
  case CUPTI_CBID_RESOURCE_GRAPH_DESTROY_STARTING:
    ledger.graph_destroyed(handle(g->graph));
    break;
  case CUPTI_CBID_RESOURCE_GRAPHEXEC_CREATED:
    ledger.instantiated(handle(g->graph), handle(g->graphExec));
    break;
  case CUPTI_CBID_RESOURCE_GRAPHEXEC_DESTROY_STARTING:
    ledger.exec_destroyed(handle(g->graphExec));
    break;
  default:
    break;
  }
}

} // namespace

GraphFlops on_graph_callback(GraphLedger &ledger, CUpti_CallbackDomain domain,
                             CUpti_CallbackId cbid, const void *cbdata) {
  if (cbdata == nullptr) return {};
  if (domain == CUPTI_CB_DOMAIN_DRIVER_API) {
    const auto *data = static_cast<const CUpti_CallbackData *>(cbdata);
    if (data->callbackSite != CUPTI_API_EXIT || data->functionParams == nullptr) return {};
    return on_driver_exit(ledger, cbid, data);
  }
  if (domain == CUPTI_CB_DOMAIN_RESOURCE)
    on_resource(ledger, cbid, static_cast<const CUpti_ResourceData *>(cbdata));
  return {};
}

bool enable_graph_callbacks(bool (*enable)(void *, CUpti_CallbackDomain, CUpti_CallbackId),
                            void *context) {
  bool all = true;
  for (const CUpti_CallbackId cbid : kDriverCallbacks)
    all = enable(context, CUPTI_CB_DOMAIN_DRIVER_API, cbid) && all;
  for (const CUpti_CallbackId cbid : kResourceCallbacks)
    all = enable(context, CUPTI_CB_DOMAIN_RESOURCE, cbid) && all;
  return all;
}

} // namespace flopledger::runtime::gpu
