#include "graph_ledger.hpp"

#include <limits>

namespace flopledger::runtime::gpu {

namespace {

std::uint64_t saturating(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

int source_index(flopledger_source source) {
  if (source == FLOPLEDGER_SOURCE_CUBLAS) return 0;
  if (source == FLOPLEDGER_SOURCE_CUBLASLT) return 1;
  return -1;
}

} // namespace

bool GraphFlops::add(flopledger_source source, flopledger_precision precision,
                     std::uint64_t amount) {
  const int s = source_index(source);
  if (s < 0 || precision < 0 || precision >= FLOPLEDGER_PRECISION_COUNT) return false;
  flops[s][precision] = saturating(flops[s][precision], amount);
  calls = saturating(calls, 1);
  return true;
}

void GraphFlops::merge(const GraphFlops &other) {
  for (int s = 0; s < kSources; ++s)
    for (int p = 0; p < FLOPLEDGER_PRECISION_COUNT; ++p)
      flops[s][p] = saturating(flops[s][p], other.flops[s][p]);
  calls = saturating(calls, other.calls);
}

std::uint64_t GraphFlops::total() const {
  std::uint64_t sum = 0;
  for (const auto &row : flops)
    for (const std::uint64_t v : row)
      sum = saturating(sum, v);
  return sum;
}

void GraphLedger::capture_begin(Handle stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  const bool fresh = captures_.find(stream) == captures_.end();
  captures_[stream] = GraphFlops{};
  if (fresh) active_captures_.fetch_add(1, std::memory_order_relaxed);
}

void GraphLedger::capture_end(Handle stream, Handle graph) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = captures_.find(stream);
  if (it == captures_.end()) return;
  if (graph != 0) {
    graphs_[graph].merge(it->second); // cudaStreamBeginCaptureToGraph adds to an existing graph
  } else {
    dropped_calls_ = saturating(dropped_calls_, it->second.calls);
  }
  captures_.erase(it);
  active_captures_.fetch_sub(1, std::memory_order_relaxed);
}

bool GraphLedger::add_to_capture(Handle stream, flopledger_source source,
                                 flopledger_precision precision, std::uint64_t flops) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = captures_.find(stream);
  if (it == captures_.end()) return false;
  it->second.add(source, precision, flops);
  return true;
}

void GraphLedger::graph_cloned(Handle original, Handle clone) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = graphs_.find(original);
  if (it == graphs_.end()) return; // a graph with no counted call: its clone has none either
  graphs_[clone] = it->second;
}

void GraphLedger::graph_destroyed(Handle graph) {
  std::lock_guard<std::mutex> lock(mutex_);
  graphs_.erase(graph);
}

void GraphLedger::instantiated(Handle graph, Handle exec) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = graphs_.find(graph);
  if (it == graphs_.end()) {
    execs_.erase(exec); // a recycled handle must not keep an older executable's FLOPs
    return;
  }
  execs_[exec] = it->second;
}

void GraphLedger::exec_updated(Handle exec, Handle graph) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = graphs_.find(graph);
  if (it == graphs_.end()) {
    execs_.erase(exec);
    return;
  }
  execs_[exec] = it->second;
}

void GraphLedger::exec_destroyed(Handle exec) {
  std::lock_guard<std::mutex> lock(mutex_);
  execs_.erase(exec);
}

GraphFlops GraphLedger::launched(Handle exec) const {
  return exec_flops(exec);
}

GraphFlops GraphLedger::graph_flops(Handle graph) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = graphs_.find(graph);
  return it == graphs_.end() ? GraphFlops{} : it->second;
}

GraphFlops GraphLedger::exec_flops(Handle exec) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = execs_.find(exec);
  return it == execs_.end() ? GraphFlops{} : it->second;
}

std::size_t GraphLedger::tracked() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return captures_.size() + graphs_.size() + execs_.size();
}

std::uint64_t GraphLedger::dropped_calls() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return dropped_calls_;
}

} // namespace flopledger::runtime::gpu
