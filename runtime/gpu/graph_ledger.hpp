// CUDA Graphs: a GEMM issued on a stream that is being captured executes nothing then; its kernels
// run each time an executable instantiated from the captured graph is launched. The ledger keeps,
// per graph and per executable graph, the FLOPs of the counted calls captured into it, and turns a
// launch into those FLOPs. Pure bookkeeping (no CUDA, no CUPTI): fed by CUPTI callbacks in
// production (graph_events.hpp) and by the tests directly. Handles are opaque integers (the
// cudaStream_t / cudaGraph_t / cudaGraphExec_t pointer values).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "flopledger/tags.h"

namespace flopledger::runtime::gpu {

/// FLOPs by (hook source, precision): what one graph contains, or one launch adds.
struct GraphFlops {
  static constexpr int kSources = 2; ///< index 0: cublas, 1: cublaslt
  std::array<std::array<std::uint64_t, FLOPLEDGER_PRECISION_COUNT>, kSources> flops{};
  std::uint64_t calls = 0; ///< counted hooked calls captured

  /// Adds `amount` (saturating at 2^64-1) under (source, precision); false for a source other
  /// than cublas / cublaslt or a precision out of range (nothing added).
  bool add(flopledger_source source, flopledger_precision precision, std::uint64_t amount);
  void merge(const GraphFlops &other); ///< saturating
  std::uint64_t total() const;         ///< saturating
  /// Calls `fn(source, precision, flops)` for every non-zero cell.
  template <typename Fn> void for_each(Fn &&fn) const {
    for (int s = 0; s < kSources; ++s)
      for (int p = 0; p < FLOPLEDGER_PRECISION_COUNT; ++p)
        if (flops[s][p] != 0)
          fn(s == 0 ? FLOPLEDGER_SOURCE_CUBLAS : FLOPLEDGER_SOURCE_CUBLASLT,
             static_cast<flopledger_precision>(p), flops[s][p]);
  }
};

class GraphLedger {
public:
  using Handle = std::uintptr_t;

  /// A capture begins on `stream` (cudaStreamBeginCapture / cuStreamBeginCapture returned).
  /// A second begin on a stream already capturing restarts its capture.
  void capture_begin(Handle stream);
  /// The capture on `stream` ended: `graph` is the graph it produced or added to (capture into an
  /// existing graph: its FLOPs are added to the graph's), 0 when the capture failed
  /// (invalidated, or ended with an error) and its FLOPs are dropped. No-op for a stream that was
  /// not capturing.
  void capture_end(Handle stream, Handle graph);
  /// Whether some stream is being captured: the hooks' cheap test before asking which one.
  bool any_capture() const { return active_captures_.load(std::memory_order_relaxed) > 0; }
  /// Adds a counted call's FLOPs to the capture in progress on `stream`; false (nothing added)
  /// when `stream` is not being captured, so that the caller counts the call now.
  bool add_to_capture(Handle stream, flopledger_source source, flopledger_precision precision,
                      std::uint64_t flops);

  /// cudaGraphClone: the clone holds the FLOPs of the original.
  void graph_cloned(Handle original, Handle clone);
  /// cudaGraphDestroy. Executables already instantiated from the graph keep their FLOPs.
  void graph_destroyed(Handle graph);
  /// cudaGraphInstantiate: the executable holds a snapshot of the graph's FLOPs (a graph may be
  /// instantiated many times; each executable is independent of later changes to the graph).
  void instantiated(Handle graph, Handle exec);
  /// cudaGraphExecUpdate succeeded: the executable now runs `graph`.
  void exec_updated(Handle exec, Handle graph);
  /// cudaGraphExecDestroy.
  void exec_destroyed(Handle exec);
  /// A launch of `exec` (cudaGraphLaunch / cuGraphLaunch returned success): the FLOPs it adds.
  /// Empty for an executable that holds no counted call or is unknown.
  GraphFlops launched(Handle exec) const;

  /// The FLOPs a graph / an executable holds (tests, diagnostics).
  GraphFlops graph_flops(Handle graph) const;
  GraphFlops exec_flops(Handle exec) const;
  std::size_t tracked() const; ///< captures + graphs + executables held
  /// Counted calls issued while their stream was capturing whose graph was then lost (failed
  /// capture); for diagnostics.
  std::uint64_t dropped_calls() const;

private:
  mutable std::mutex mutex_;
  std::atomic<int> active_captures_{0};
  std::unordered_map<Handle, GraphFlops> captures_, graphs_, execs_;
  std::uint64_t dropped_calls_ = 0;
};

} // namespace flopledger::runtime::gpu
