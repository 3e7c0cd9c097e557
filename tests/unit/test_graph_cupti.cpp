// The CUPTI graph callbacks fed with synthetic callback data, laid out by the real CUPTI headers
// (and, for the driver calls' parameters, as generated_cuda_meta.h lays them out): capture begin /
// end, instantiate, clone, launch, exec update and destroy drive the graph ledger, and only a
// successful launch returns FLOPs to count. (No GPU: CUPTI itself never calls this here;
// docs/gpu.md says what was not verified.)
#include <doctest/doctest.h>

#include <cupti_callbacks.h>
#include <cupti_driver_cbid.h>
#include <cupti_runtime_cbid.h>

#include "gpu/graph_cupti.hpp"

using namespace flopledger::runtime::gpu;

namespace {

CUstream const kStream = reinterpret_cast<CUstream>(0x5000);
CUgraph const kGraph = reinterpret_cast<CUgraph>(0x6000),
              kClone = reinterpret_cast<CUgraph>(0x6001);
CUgraphExec const kExec = reinterpret_cast<CUgraphExec>(0x7000);

// A driver API callback at `site` with `params` and result `result`.
GraphFlops driver(GraphLedger &ledger, CUpti_CallbackId cbid, const void *params,
                  CUresult result = CUDA_SUCCESS, CUpti_ApiCallbackSite site = CUPTI_API_EXIT) {
  CUpti_CallbackData data{};
  data.callbackSite = site;
  data.functionParams = params;
  data.functionReturnValue = &result;
  return on_graph_callback(ledger, CUPTI_CB_DOMAIN_DRIVER_API, cbid, &data);
}

void resource(GraphLedger &ledger, CUpti_CallbackId cbid, CUgraph graph, CUgraph original,
              CUgraphExec exec) {
  CUpti_GraphData graph_data{};
  graph_data.graph = graph;
  graph_data.originalGraph = original;
  graph_data.graphExec = exec;
  CUpti_ResourceData data{};
  data.resourceDescriptor = &graph_data;
  on_graph_callback(ledger, CUPTI_CB_DOMAIN_RESOURCE, cbid, &data);
}

GraphFlops launch(GraphLedger &ledger, CUgraphExec exec, CUresult result = CUDA_SUCCESS) {
  const GraphLaunchParams params{exec, kStream};
  return driver(ledger, CUPTI_DRIVER_TRACE_CBID_cuGraphLaunch, &params, result);
}

} // namespace

TEST_CASE("graph callbacks: capture, instantiate, replay, clone, update, destroy") {
  GraphLedger ledger;
  const StreamCaptureParams begin{kStream};
  // The enter callback of a call is ignored; the exit callback of a failed call too.
  driver(ledger, CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture_v2, &begin, CUDA_SUCCESS,
         CUPTI_API_ENTER);
  driver(ledger, CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture_v2, &begin, CUDA_ERROR_INVALID_VALUE);
  CHECK_FALSE(ledger.any_capture());
  driver(ledger, CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture_v2, &begin);
  CHECK(ledger.any_capture());
  // What a hooked cublasSgemm (2*64*32*16 FLOP) on the capturing stream does.
  CHECK(ledger.add_to_capture(reinterpret_cast<GraphLedger::Handle>(kStream),
                              FLOPLEDGER_SOURCE_CUBLAS, FLOPLEDGER_PRECISION_FP32, 65536));
  CUgraph produced = kGraph;
  const StreamEndCaptureParams end{kStream, &produced};
  driver(ledger, CUPTI_DRIVER_TRACE_CBID_cuStreamEndCapture, &end);
  CHECK_FALSE(ledger.any_capture());
  resource(ledger, CUPTI_CBID_RESOURCE_GRAPHEXEC_CREATED, kGraph, nullptr, kExec);

  std::uint64_t counted = 0;
  for (int replay = 0; replay < 10; ++replay)
    counted += launch(ledger, kExec).total();
  CHECK(counted == 10u * 65536);
  CHECK(launch(ledger, kExec).flops[0][FLOPLEDGER_PRECISION_FP32] == 65536);
  CHECK(launch(ledger, kExec, CUDA_ERROR_LAUNCH_FAILED).total() == 0); // a failed launch

  resource(ledger, CUPTI_CBID_RESOURCE_GRAPH_CLONED, kClone, kGraph, nullptr);
  CHECK(ledger.graph_flops(reinterpret_cast<GraphLedger::Handle>(kClone)).total() == 65536);
  resource(ledger, CUPTI_CBID_RESOURCE_GRAPH_DESTROY_STARTING, kGraph, nullptr, nullptr);
  CHECK(launch(ledger, kExec).total() == 65536); // the executable outlives its graph

  // A second capture into a new graph; the executable is updated to it.
  CUgraph second = reinterpret_cast<CUgraph>(0x6002);
  driver(ledger, CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture_v2, &begin);
  ledger.add_to_capture(reinterpret_cast<GraphLedger::Handle>(kStream), FLOPLEDGER_SOURCE_CUBLASLT,
                        FLOPLEDGER_PRECISION_BF16, 1000);
  const StreamEndCaptureParams end2{kStream, &second};
  driver(ledger, CUPTI_DRIVER_TRACE_CBID_cuStreamEndCapture, &end2);
  const GraphExecUpdateParams update{kExec, second};
  driver(ledger, CUPTI_DRIVER_TRACE_CBID_cuGraphExecUpdate_v2, &update);
  const GraphFlops after = launch(ledger, kExec);
  CHECK(after.total() == 1000);
  CHECK(after.flops[1][FLOPLEDGER_PRECISION_BF16] == 1000);

  resource(ledger, CUPTI_CBID_RESOURCE_GRAPHEXEC_DESTROY_STARTING, nullptr, nullptr, kExec);
  CHECK(launch(ledger, kExec).total() == 0);
}

TEST_CASE("graph callbacks: a failed end of capture drops the captured calls") {
  GraphLedger ledger;
  const StreamCaptureParams begin{kStream};
  driver(ledger, CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture, &begin);
  ledger.add_to_capture(reinterpret_cast<GraphLedger::Handle>(kStream), FLOPLEDGER_SOURCE_CUBLAS,
                        FLOPLEDGER_PRECISION_FP16, 10);
  CUgraph none = nullptr;
  const StreamEndCaptureParams end{kStream, &none};
  driver(ledger, CUPTI_DRIVER_TRACE_CBID_cuStreamEndCapture, &end,
         CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
  CHECK_FALSE(ledger.any_capture());
  CHECK(ledger.dropped_calls() == 1);
  CHECK(ledger.tracked() == 0);
  // Unrelated callbacks and null data are ignored.
  CHECK(on_graph_callback(ledger, CUPTI_CB_DOMAIN_RUNTIME_API, 1, nullptr).total() == 0);
  CHECK(driver(ledger, CUPTI_DRIVER_TRACE_CBID_cuMemAlloc, &begin).total() == 0);
}

TEST_CASE("graph callbacks: a driver call inside a runtime call is applied once") {
  GraphLedger ledger;
  const StreamCaptureParams begin{kStream};
  auto runtime = [&](CUpti_CallbackId cbid, const void *params, CUpti_ApiCallbackSite site,
                     int result = 0) {
    CUpti_CallbackData data{};
    data.callbackSite = site;
    data.functionParams = params;
    data.functionReturnValue = &result;
    return on_graph_callback(ledger, CUPTI_CB_DOMAIN_RUNTIME_API, cbid, &data);
  };
  runtime(CUPTI_RUNTIME_TRACE_CBID_cudaStreamBeginCapture_v10000, &begin, CUPTI_API_ENTER);
  driver(ledger, CUPTI_DRIVER_TRACE_CBID_cuStreamBeginCapture_v2, &begin);
  runtime(CUPTI_RUNTIME_TRACE_CBID_cudaStreamBeginCapture_v10000, &begin, CUPTI_API_EXIT);
  ledger.add_to_capture(reinterpret_cast<GraphLedger::Handle>(kStream), FLOPLEDGER_SOURCE_CUBLAS,
                        FLOPLEDGER_PRECISION_FP32, 40);
  CUgraph produced = kGraph;
  const StreamEndCaptureParams end{kStream, &produced};
  runtime(CUPTI_RUNTIME_TRACE_CBID_cudaStreamEndCapture_v10000, &end, CUPTI_API_ENTER);
  driver(ledger, CUPTI_DRIVER_TRACE_CBID_cuStreamEndCapture, &end);
  runtime(CUPTI_RUNTIME_TRACE_CBID_cudaStreamEndCapture_v10000, &end, CUPTI_API_EXIT);
  resource(ledger, CUPTI_CBID_RESOURCE_GRAPHEXEC_CREATED, kGraph, nullptr, kExec);
  const GraphLaunchParams params{kExec, kStream};
  std::uint64_t counted = 0;
  counted +=
      runtime(CUPTI_RUNTIME_TRACE_CBID_cudaGraphLaunch_v10000, &params, CUPTI_API_ENTER).total();
  counted += driver(ledger, CUPTI_DRIVER_TRACE_CBID_cuGraphLaunch, &params).total();
  counted +=
      runtime(CUPTI_RUNTIME_TRACE_CBID_cudaGraphLaunch_v10000, &params, CUPTI_API_EXIT).total();
  CHECK(counted == 40);
  // A failed runtime launch counts nothing; a driver launch on its own counts.
  CHECK(runtime(CUPTI_RUNTIME_TRACE_CBID_cudaGraphLaunch_ptsz_v10000, &params, CUPTI_API_ENTER)
            .total() == 0);
  CHECK(runtime(CUPTI_RUNTIME_TRACE_CBID_cudaGraphLaunch_ptsz_v10000, &params, CUPTI_API_EXIT, 1)
            .total() == 0);
  CHECK(driver(ledger, CUPTI_DRIVER_TRACE_CBID_cuGraphLaunch_ptsz, &params).total() == 40);
}

TEST_CASE("graph callbacks: the callbacks to enable") {
  int counts[3] = {0, 0, 0}; // driver, runtime, resource
  CHECK(enable_graph_callbacks(
      [](void *context, CUpti_CallbackDomain domain, CUpti_CallbackId) {
        int *c = static_cast<int *>(context);
        ++c[domain == CUPTI_CB_DOMAIN_DRIVER_API    ? 0
            : domain == CUPTI_CB_DOMAIN_RUNTIME_API ? 1
                                                    : 2];
        return true;
      },
      counts));
  CHECK(counts[0] == 12);
  CHECK(counts[1] == 9);
  CHECK(counts[2] == 4);
  CHECK_FALSE(enable_graph_callbacks(
      [](void *, CUpti_CallbackDomain, CUpti_CallbackId) { return false; }, nullptr));
}
