#include "graph_cupti.hpp"

#include <cupti_driver_cbid.h>
#include <cupti_runtime_cbid.h>

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

const CUpti_CallbackId kRuntimeCallbacks[] = {
    CUPTI_RUNTIME_TRACE_CBID_cudaStreamBeginCapture_v10000,
    CUPTI_RUNTIME_TRACE_CBID_cudaStreamBeginCapture_ptsz_v10000,
    CUPTI_RUNTIME_TRACE_CBID_cudaStreamBeginCaptureToGraph_v12030,
    CUPTI_RUNTIME_TRACE_CBID_cudaStreamBeginCaptureToGraph_ptsz_v12030,
    CUPTI_RUNTIME_TRACE_CBID_cudaStreamEndCapture_v10000,
    CUPTI_RUNTIME_TRACE_CBID_cudaStreamEndCapture_ptsz_v10000,
    CUPTI_RUNTIME_TRACE_CBID_cudaGraphLaunch_v10000,
    CUPTI_RUNTIME_TRACE_CBID_cudaGraphLaunch_ptsz_v10000,
    CUPTI_RUNTIME_TRACE_CBID_cudaGraphExecUpdate_v10020,
};

enum class Event { None, Begin, End, Launch, Update };

Event driver_event(CUpti_CallbackId cbid) {
  switch (cbid) {
  case CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture:
  case CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture_ptsz:
  case CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture_v2:
  case CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture_v2_ptsz:
  case CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCaptureToGraph:
  case CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCaptureToGraph_ptsz:
    return Event::Begin;
  case CUPTI_DRIVER_TRACE_CBID_cuStreamEndCapture:
  case CUPTI_DRIVER_TRACE_CBID_cuStreamEndCapture_ptsz:
    return Event::End;
  case CUPTI_DRIVER_TRACE_CBID_cuGraphLaunch:
  case CUPTI_DRIVER_TRACE_CBID_cuGraphLaunch_ptsz:
    return Event::Launch;
  case CUPTI_DRIVER_TRACE_CBID_cuGraphExecUpdate:
  case CUPTI_DRIVER_TRACE_CBID_cuGraphExecUpdate_v2:
    return Event::Update;
  default:
    return Event::None;
  }
}

Event runtime_event(CUpti_CallbackId cbid) {
  switch (cbid) {
  case CUPTI_RUNTIME_TRACE_CBID_cudaStreamBeginCapture_v10000:
  case CUPTI_RUNTIME_TRACE_CBID_cudaStreamBeginCapture_ptsz_v10000:
  case CUPTI_RUNTIME_TRACE_CBID_cudaStreamBeginCaptureToGraph_v12030:
  case CUPTI_RUNTIME_TRACE_CBID_cudaStreamBeginCaptureToGraph_ptsz_v12030:
    return Event::Begin;
  case CUPTI_RUNTIME_TRACE_CBID_cudaStreamEndCapture_v10000:
  case CUPTI_RUNTIME_TRACE_CBID_cudaStreamEndCapture_ptsz_v10000:
    return Event::End;
  case CUPTI_RUNTIME_TRACE_CBID_cudaGraphLaunch_v10000:
  case CUPTI_RUNTIME_TRACE_CBID_cudaGraphLaunch_ptsz_v10000:
    return Event::Launch;
  case CUPTI_RUNTIME_TRACE_CBID_cudaGraphExecUpdate_v10020:
    return Event::Update;
  default:
    return Event::None;
  }
}

// Runtime calls of this thread in progress whose driver calls must not be applied again: whether
// CUPTI reports the driver calls the runtime makes is not documented, so both domains are
// subscribed and the outer (runtime) one wins.
thread_local int t_runtime_depth = 0;

// Applies an exit callback. The runtime and driver parameter structs of these calls agree on
// their leading members (graph_cupti.hpp), and both results are 0 on success.
GraphFlops apply(GraphLedger &ledger, Event event, const CUpti_CallbackData *data) {
  const bool ok = data->functionReturnValue != nullptr &&
                  *static_cast<const int *>(data->functionReturnValue) == 0;
  switch (event) {
  case Event::Begin:
    if (ok)
      ledger.capture_begin(
          handle(static_cast<const StreamCaptureParams *>(data->functionParams)->hStream));
    break;
  case Event::End: {
    const auto *p = static_cast<const StreamEndCaptureParams *>(data->functionParams);
    const Handle graph = ok && p->phGraph != nullptr ? handle(*p->phGraph) : 0;
    ledger.capture_end(handle(p->hStream), graph); // a failed end invalidates the capture
    break;
  }
  case Event::Launch:
    if (ok)
      return ledger.launched(
          handle(static_cast<const GraphLaunchParams *>(data->functionParams)->hGraph));
    break;
  case Event::Update: {
    const auto *p = static_cast<const GraphExecUpdateParams *>(data->functionParams);
    if (ok) ledger.exec_updated(handle(p->hGraphExec), handle(p->hGraph));
    break;
  }
  case Event::None:
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
  if (domain == CUPTI_CB_DOMAIN_RESOURCE) {
    on_resource(ledger, cbid, static_cast<const CUpti_ResourceData *>(cbdata));
    return {};
  }
  const bool runtime = domain == CUPTI_CB_DOMAIN_RUNTIME_API;
  if (!runtime && domain != CUPTI_CB_DOMAIN_DRIVER_API) return {};
  const Event event = runtime ? runtime_event(cbid) : driver_event(cbid);
  const auto *data = static_cast<const CUpti_CallbackData *>(cbdata);
  if (event == Event::None) return {};
  if (runtime) {
    if (data->callbackSite == CUPTI_API_ENTER) {
      ++t_runtime_depth;
      return {};
    }
    if (t_runtime_depth > 0) --t_runtime_depth;
  } else if (data->callbackSite != CUPTI_API_EXIT || t_runtime_depth > 0) {
    return {};
  }
  if (data->functionParams == nullptr) return {};
  return apply(ledger, event, data);
}

bool enable_graph_callbacks(bool (*enable)(void *, CUpti_CallbackDomain, CUpti_CallbackId),
                            void *context) {
  bool all = true;
  for (const CUpti_CallbackId cbid : kDriverCallbacks)
    all = enable(context, CUPTI_CB_DOMAIN_DRIVER_API, cbid) && all;
  for (const CUpti_CallbackId cbid : kRuntimeCallbacks)
    all = enable(context, CUPTI_CB_DOMAIN_RUNTIME_API, cbid) && all;
  for (const CUpti_CallbackId cbid : kResourceCallbacks)
    all = enable(context, CUPTI_CB_DOMAIN_RESOURCE, cbid) && all;
  return all;
}

} // namespace flopledger::runtime::gpu
