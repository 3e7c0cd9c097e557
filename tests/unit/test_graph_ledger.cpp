// The CUDA Graphs ledger fed by an injected capture / instantiate / launch sequence (in production
// the events come from CUPTI callbacks): FLOPs captured into a graph are counted on every launch
// of every executable instantiated from it, and never at capture time.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

#include "gpu/graph_ledger.hpp"

using flopledger::runtime::gpu::GraphFlops;
using flopledger::runtime::gpu::GraphLedger;

namespace {

constexpr GraphLedger::Handle kStream = 0x1000, kOther = 0x2000, kGraph = 0xa0, kClone = 0xa1,
                              kExec = 0xe0, kExec2 = 0xe1;

std::uint64_t at(const GraphFlops &f, int source_index, flopledger_precision p) {
  return f.flops[source_index][p];
}

} // namespace

TEST_CASE("graph ledger: a call is captured only while its stream is capturing") {
  GraphLedger ledger;
  CHECK_FALSE(ledger.any_capture());
  CHECK_FALSE(
      ledger.add_to_capture(kStream, FLOPLEDGER_SOURCE_CUBLAS, FLOPLEDGER_PRECISION_FP32, 8));
  ledger.capture_begin(kStream);
  CHECK(ledger.any_capture());
  CHECK(ledger.add_to_capture(kStream, FLOPLEDGER_SOURCE_CUBLAS, FLOPLEDGER_PRECISION_FP32, 48));
  CHECK(
      ledger.add_to_capture(kStream, FLOPLEDGER_SOURCE_CUBLASLT, FLOPLEDGER_PRECISION_BF16, 1000));
  CHECK_FALSE(ledger.add_to_capture(kOther, FLOPLEDGER_SOURCE_CUBLAS, FLOPLEDGER_PRECISION_FP32,
                                    7)); // another stream runs now
  ledger.capture_end(kStream, kGraph);
  CHECK_FALSE(ledger.any_capture());
  CHECK_FALSE(
      ledger.add_to_capture(kStream, FLOPLEDGER_SOURCE_CUBLAS, FLOPLEDGER_PRECISION_FP32, 8));
  const GraphFlops g = ledger.graph_flops(kGraph);
  CHECK(at(g, 0, FLOPLEDGER_PRECISION_FP32) == 48);
  CHECK(at(g, 1, FLOPLEDGER_PRECISION_BF16) == 1000);
  CHECK(g.total() == 1048);
  CHECK(g.calls == 2);
}

TEST_CASE("graph ledger: every launch of every executable counts the graph's FLOPs") {
  GraphLedger ledger;
  ledger.capture_begin(kStream);
  ledger.add_to_capture(kStream, FLOPLEDGER_SOURCE_CUBLAS, FLOPLEDGER_PRECISION_FP16,
                        2 * 64 * 64 * 64);
  ledger.capture_end(kStream, kGraph);
  CHECK(ledger.launched(kExec).total() == 0); // not instantiated yet
  ledger.instantiated(kGraph, kExec);
  ledger.instantiated(kGraph, kExec2); // a graph instantiated twice
  std::uint64_t counted = 0;
  for (int replay = 0; replay < 5; ++replay)
    counted += ledger.launched(kExec).total();
  counted += ledger.launched(kExec2).total();
  CHECK(counted == 6u * 2 * 64 * 64 * 64);
  std::uint64_t fp16 = 0;
  ledger.launched(kExec).for_each(
      [&](flopledger_source s, flopledger_precision p, std::uint64_t flops) {
        CHECK(s == FLOPLEDGER_SOURCE_CUBLAS);
        CHECK(p == FLOPLEDGER_PRECISION_FP16);
        fp16 += flops;
      });
  CHECK(fp16 == 2u * 64 * 64 * 64);
  // The graph may be destroyed once instantiated: its executables keep running.
  ledger.graph_destroyed(kGraph);
  CHECK(ledger.launched(kExec).total() == 2u * 64 * 64 * 64);
  ledger.exec_destroyed(kExec);
  CHECK(ledger.launched(kExec).total() == 0);
  CHECK(ledger.launched(kExec2).total() == 2u * 64 * 64 * 64);
  ledger.exec_destroyed(kExec2);
  CHECK(ledger.tracked() == 0);
}

TEST_CASE("graph ledger: clone, exec update, failed capture, recycled handles") {
  GraphLedger ledger;
  ledger.capture_begin(kStream);
  ledger.add_to_capture(kStream, FLOPLEDGER_SOURCE_CUBLASLT, FLOPLEDGER_PRECISION_FP8, 300);
  ledger.capture_end(kStream, kGraph);
  ledger.graph_cloned(kGraph, kClone);
  ledger.graph_destroyed(kGraph);
  ledger.instantiated(kClone, kExec);
  CHECK(ledger.launched(kExec).total() == 300);

  // A second capture makes another graph; updating the executable to it changes what a launch adds.
  ledger.capture_begin(kOther);
  ledger.add_to_capture(kOther, FLOPLEDGER_SOURCE_CUBLAS, FLOPLEDGER_PRECISION_TF32, 70);
  ledger.add_to_capture(kOther, FLOPLEDGER_SOURCE_CUBLAS, FLOPLEDGER_PRECISION_TF32, 30);
  ledger.capture_end(kOther, kGraph); // the handle of the destroyed graph, reused
  ledger.exec_updated(kExec, kGraph);
  CHECK(ledger.launched(kExec).total() == 100);
  CHECK(ledger.launched(kExec).flops[0][FLOPLEDGER_PRECISION_TF32] == 100);

  // A failed capture drops its calls (they never run) and reports them.
  ledger.capture_begin(kStream);
  ledger.add_to_capture(kStream, FLOPLEDGER_SOURCE_CUBLAS, FLOPLEDGER_PRECISION_FP32, 5);
  ledger.capture_end(kStream, 0);
  CHECK(ledger.dropped_calls() == 1);
  CHECK_FALSE(ledger.any_capture());

  // Capture into an existing graph (cudaStreamBeginCaptureToGraph) adds to it.
  ledger.capture_begin(kStream);
  ledger.add_to_capture(kStream, FLOPLEDGER_SOURCE_CUBLAS, FLOPLEDGER_PRECISION_TF32, 11);
  ledger.capture_end(kStream, kGraph);
  CHECK(ledger.graph_flops(kGraph).total() == 111);
  CHECK(ledger.launched(kExec).total() == 100); // the executable keeps its snapshot

  // An executable handle reused for a graph with no counted call holds nothing.
  ledger.instantiated(0xdead, kExec);
  CHECK(ledger.launched(kExec).total() == 0);
  // Ends and events for unknown handles are harmless.
  ledger.capture_end(0x9999, kGraph);
  ledger.graph_cloned(0x9999, 0x9998);
  CHECK(ledger.graph_flops(0x9998).total() == 0);
}

TEST_CASE("graph flops: saturating, only GPU sources") {
  GraphFlops f;
  CHECK_FALSE(f.add(FLOPLEDGER_SOURCE_BLAS_GEMM, FLOPLEDGER_PRECISION_FP32, 1));
  CHECK(f.add(FLOPLEDGER_SOURCE_CUBLAS, FLOPLEDGER_PRECISION_FP32,
              std::numeric_limits<std::uint64_t>::max()));
  CHECK(f.add(FLOPLEDGER_SOURCE_CUBLAS, FLOPLEDGER_PRECISION_FP32, 1));
  CHECK(f.total() == std::numeric_limits<std::uint64_t>::max());
  CHECK(f.calls == 2);
}
