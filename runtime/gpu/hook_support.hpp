// What every cuBLAS / cuBLASLt hook does around the real call: find the real function in the
// loaded library (never loading one), count only the outermost hooked call of the thread and only
// when it succeeded, send the FLOPs of a call issued during a stream capture to the graph, and
// bracket the call for CUPTI attribution (correlation.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include <cublas_api.h>

#include "accounting/exact.hpp"
#include "correlation.hpp"
#include "graph_cupti.hpp"
#include "graph_events.hpp"
#include "hook_guard.hpp"
#include "record.hpp"

namespace flopledger::runtime::gpu {

/// The library a hooked symbol belongs to: its symbol versions, newest first.
enum class Library { Cublas, CublasLt };

/// The real `name` in the loaded cuBLAS / cuBLASLt (versioned lookup first: the symbols are
/// name@@libcublas.so.13), or nullptr. On the first failure for a name it logs once.
void *find_real(const char *name, Library library);

/// The cached real function of a hook; nullptr when no loaded object defines it.
template <typename Fn> Fn real_function(std::atomic<Fn> &slot, const char *name, Library library) {
  Fn fn = slot.load(std::memory_order_acquire);
  if (fn != nullptr) return fn;
  fn = reinterpret_cast<Fn>(find_real(name, library));
  if (fn != nullptr) slot.store(fn, std::memory_order_release);
  return fn;
}

/// The stream a cuBLAS handle issues its work on (the real cublasGetStream_v2); 0 when unknown.
std::uintptr_t stream_of_handle(cublasHandle_t handle);

/// What the hook knows before the call: its FLOPs (nullopt: arguments cuBLAS would reject, never
/// counted) and their precision class.
struct Planned {
  Planned(const std::optional<u128> &flops_or_invalid, flopledger_precision precision_class)
      : valid(flops_or_invalid.has_value()), precision(precision_class) {
    // Not value_or(0): GCC 12 with the sanitizers warns (maybe-uninitialized) on a disengaged
    // temporary passed here.
    if (flops_or_invalid) flops = *flops_or_invalid;
  }
  bool valid;
  u128 flops = 0;
  flopledger_precision precision;
};

/// Runs `call()` (which returns the real function's status) and counts `plan` under `source` when
/// this is the outermost hooked call of the thread and the call returned CUBLAS_STATUS_SUCCESS.
template <typename StreamOf, typename Call>
cublasStatus_t metered(flopledger_source source, const Planned &plan, StreamOf &&stream_of,
                       Call &&call) {
  HookGuard guard;
  if (!guard.outermost()) return call();
  start_graph_tracking(); // once per process: the first cuBLAS call means CUDA is in use
  const std::uint64_t flops = hot_path_flops(plan.flops);
  counted_call_begin(flops, plan.precision);
  const cublasStatus_t status = call();
  const bool counted = status == CUBLAS_STATUS_SUCCESS && plan.valid;
  // The capture state is read after the call: a call that failed adds nothing to any graph.
  if (counted && !captured(stream_of, source, plan.precision, flops))
    record(source, plan.precision, plan.flops);
  counted_call_end(counted);
  return status;
}

} // namespace flopledger::runtime::gpu
