// The process's own CUPTI subscriber for the graph callbacks (see graph_cupti.hpp).
#include <dlfcn.h>

#include <atomic>
#include <cstdint>

#include <cupti_callbacks.h>

#include "counters.hpp"
#include "gpu_meter.hpp"
#include "graph_cupti.hpp"
#include "graph_events.hpp"
#include "log.hpp"

namespace flopledger::runtime::gpu {

namespace {

// ---- the process's own subscriber ------------------------------------------------------------

struct Cupti {
  CUptiResult (*subscribe)(CUpti_SubscriberHandle *, CUpti_CallbackFunc, void *) = nullptr;
  CUptiResult (*enable_callback)(uint32_t, CUpti_SubscriberHandle, CUpti_CallbackDomain,
                                 CUpti_CallbackId) = nullptr;
  CUpti_SubscriberHandle subscriber = nullptr;
};

void CUPTIAPI process_callback(void *, CUpti_CallbackDomain domain, CUpti_CallbackId cbid,
                               const void *cbdata) {
  const GraphFlops launch = on_graph_callback(graph_ledger(), domain, cbid, cbdata);
  if (launch.calls == 0 || !counting_enabled()) return;
  launch.for_each([](flopledger_source source, flopledger_precision precision,
                     std::uint64_t flops) { count(source, precision, flops); });
}

bool enable_on(void *context, CUpti_CallbackDomain domain, CUpti_CallbackId cbid) {
  const auto *cupti = static_cast<const Cupti *>(context);
  return cupti->enable_callback(1, cupti->subscriber, domain, cbid) == CUPTI_SUCCESS;
}

void subscribe() {
  void *lib = nullptr;
  for (const char *name : {"libcupti.so.13", "libcupti.so.12", "libcupti.so"})
    if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
  if (lib == nullptr) {
    log_line("CUDA graphs not tracked: libcupti could not be loaded (%s); a GEMM captured into a "
             "graph is counted once, when captured",
             dlerror());
    return;
  }
  static Cupti cupti;
  cupti.subscribe = reinterpret_cast<decltype(cupti.subscribe)>(dlsym(lib, "cuptiSubscribe"));
  cupti.enable_callback =
      reinterpret_cast<decltype(cupti.enable_callback)>(dlsym(lib, "cuptiEnableCallback"));
  if (cupti.subscribe == nullptr || cupti.enable_callback == nullptr) {
    log_line("CUDA graphs not tracked: libcupti lacks cuptiSubscribe / cuptiEnableCallback");
    return;
  }
  const CUptiResult result = cupti.subscribe(&cupti.subscriber, process_callback, nullptr);
  if (result != CUPTI_SUCCESS) {
    log_line("CUDA graphs not tracked: cuptiSubscribe failed (CUPTI result %d%s); a GEMM "
             "captured into a graph is counted once, when captured",
             static_cast<int>(result),
             result == CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED
                 ? ": another CUPTI client, such as a profiler, holds CUPTI"
                 : "");
    return;
  }
  if (!enable_graph_callbacks(enable_on, &cupti))
    log_line("CUDA graphs: some CUPTI graph callbacks could not be enabled");
}

} // namespace

void start_graph_tracking() noexcept {
  static std::atomic<bool> started{false};
  if (started.load(std::memory_order_relaxed)) return;
  // CUPTI activity first (it checks that no other CUPTI client is present), then the process's
  // one subscriber; neither when FLOPLEDGER_CUPTI=0. Before the meter has read the configuration,
  // nothing is decided and a later call asks again.
  bool allowed = false;
  if (!gpu_first_cuda_call(allowed) || started.exchange(true)) return;
  if (allowed) {
    subscribe();
  } else {
    log_line("CUDA graphs not tracked (%s); a GEMM captured into a graph is counted once, when "
             "captured",
             gpu_cupti_status().c_str());
  }
}

} // namespace flopledger::runtime::gpu
