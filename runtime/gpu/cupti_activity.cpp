#include "cupti_activity.hpp"

#include <cupti.h>
#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <memory>

#include "correlation.hpp"

namespace flopledger::runtime::gpu {

namespace {

std::atomic<const CorrelationApi *> g_correlation{nullptr};

// Which depths of the calling thread pushed an id (the table may change between begin and end).
thread_local std::uint64_t t_pushed_mask = 0;
thread_local unsigned t_depth = 0;
thread_local std::uint64_t t_next_id = 0;

// ---- the CUPTI library, resolved by name ----

struct Cupti {
  void *library = nullptr;
  CUptiResult (*get_version)(uint32_t *) = nullptr;
  CUptiResult (*subscribe)(CUpti_SubscriberHandle *, CUpti_CallbackFunc, void *) = nullptr;
  CUptiResult (*unsubscribe)(CUpti_SubscriberHandle) = nullptr;
  CUptiResult (*register_callbacks)(CUpti_BuffersCallbackRequestFunc,
                                    CUpti_BuffersCallbackCompleteFunc) = nullptr;
  CUptiResult (*enable)(CUpti_ActivityKind) = nullptr;
  CUptiResult (*disable)(CUpti_ActivityKind) = nullptr;
  CUptiResult (*next_record)(uint8_t *, size_t, CUpti_Activity **) = nullptr;
  CUptiResult (*dropped)(CUcontext, uint32_t, size_t *) = nullptr;
  CUptiResult (*flush_all)(uint32_t) = nullptr;
  CUptiResult (*push)(CUpti_ExternalCorrelationKind, uint64_t) = nullptr;
  CUptiResult (*pop)(CUpti_ExternalCorrelationKind, uint64_t *) = nullptr;
  CUptiResult (*result_string)(CUptiResult, const char **) = nullptr; // optional
};

Cupti g_cupti;
std::unique_ptr<KernelTimeAggregator> g_aggregator;
std::atomic<bool> g_active{false};
CorrelationApi g_real_api;

constexpr std::size_t kBufferBytes = 1u << 20;

bool next_record(std::uint8_t *buffer, std::size_t valid, void **record) {
  auto **activity = reinterpret_cast<CUpti_Activity **>(record);
  return g_cupti.next_record(buffer, valid, activity) == CUPTI_SUCCESS;
}

void CUPTIAPI buffer_requested(uint8_t **buffer, size_t *size, size_t *max_records) {
  *buffer = static_cast<uint8_t *>(std::aligned_alloc(8, kBufferBytes));
  *size = *buffer ? kBufferBytes : 0;
  *max_records = 0;
}

void CUPTIAPI buffer_completed(CUcontext context, uint32_t stream, uint8_t *buffer, size_t,
                               size_t valid) {
  size_t dropped = 0;
  if (g_cupti.dropped) g_cupti.dropped(context, stream, &dropped);
  if (g_aggregator) g_aggregator->consume(buffer, valid, dropped);
  std::free(buffer);
}

void CUPTIAPI ignore_callback(void *, CUpti_CallbackDomain, CUpti_CallbackId, const void *) {}

int real_push(std::uint32_t kind, std::uint64_t id) {
  return g_cupti.push(static_cast<CUpti_ExternalCorrelationKind>(kind), id);
}
int real_pop(std::uint32_t kind, std::uint64_t *last) {
  return g_cupti.pop(static_cast<CUpti_ExternalCorrelationKind>(kind), last);
}

template <typename Fn> bool resolve(Fn &fn, const char *name) {
  fn = reinterpret_cast<Fn>(dlsym(g_cupti.library, name));
  return fn != nullptr;
}

std::string result_text(CUptiResult result) {
  const char *text = nullptr;
  if (g_cupti.result_string && g_cupti.result_string(result, &text) == CUPTI_SUCCESS && text)
    return "CUPTI error " + std::to_string(static_cast<int>(result)) + " (" + text + ")";
  return "CUPTI error " + std::to_string(static_cast<int>(result));
}

} // namespace

bool cupti_cuda_loaded() noexcept {
  for (const char *name : {"libcuda.so.1", "libcudart.so.13", "libcudart.so.12"}) {
    if (void *handle = dlopen(name, RTLD_LAZY | RTLD_NOLOAD)) {
      dlclose(handle);
      return true;
    }
  }
  return false;
}

namespace {} // namespace

void set_correlation_api(const CorrelationApi *api) noexcept {
  g_correlation.store(api, std::memory_order_release);
}

void counted_call_begin(std::uint64_t, flopledger_precision) noexcept {
  const unsigned depth = t_depth++;
  const CorrelationApi *api = g_correlation.load(std::memory_order_acquire);
  if (api == nullptr || depth >= 64) return;
  // Any CUSTOM0 id marks "launched by a counted call"; unique per thread is enough.
  if (api->push(kFlopledgerExternalKind, ++t_next_id) == 0) t_pushed_mask |= 1ull << depth;
}

void counted_call_end(bool) noexcept {
  if (t_depth == 0) return; // unbalanced: never pop what was not pushed
  const unsigned depth = --t_depth;
  if (depth >= 64 || (t_pushed_mask & (1ull << depth)) == 0) return;
  t_pushed_mask &= ~(1ull << depth);
  const CorrelationApi *api = g_correlation.load(std::memory_order_acquire);
  std::uint64_t last = 0;
  if (api != nullptr) api->pop(kFlopledgerExternalKind, &last);
}

bool cupti_start(std::string &detail) {
  if (g_active.load()) {
    detail = "already active";
    return true;
  }
  if (const char *injection = std::getenv("CUDA_INJECTION64_PATH"); injection && *injection) {
    detail = std::string("backed off: another CUPTI client is injected (CUDA_INJECTION64_PATH=") +
             injection + ", e.g. Nsight)";
    return false;
  }
  if (!cupti_cuda_loaded()) {
    detail = "not started: no CUDA library (libcuda, libcudart) loaded in the process";
    return false;
  }
  g_cupti.library = dlopen("libcupti.so.13", RTLD_NOW | RTLD_LOCAL);
  if (!g_cupti.library) {
    const char *why = dlerror();
    detail = std::string("not started: libcupti.so.13 not loaded: ") + (why ? why : "?");
    return false;
  }
  auto give_up = [&](std::string why) {
    detail = std::move(why);
    dlclose(g_cupti.library);
    g_cupti = Cupti{};
    return false;
  };
  if (!(resolve(g_cupti.get_version, "cuptiGetVersion") &&
        resolve(g_cupti.subscribe, "cuptiSubscribe") &&
        resolve(g_cupti.unsubscribe, "cuptiUnsubscribe") &&
        resolve(g_cupti.register_callbacks, "cuptiActivityRegisterCallbacks") &&
        resolve(g_cupti.enable, "cuptiActivityEnable") &&
        resolve(g_cupti.disable, "cuptiActivityDisable") &&
        resolve(g_cupti.next_record, "cuptiActivityGetNextRecord") &&
        resolve(g_cupti.dropped, "cuptiActivityGetNumDroppedRecords") &&
        resolve(g_cupti.flush_all, "cuptiActivityFlushAll") &&
        resolve(g_cupti.push, "cuptiActivityPushExternalCorrelationId") &&
        resolve(g_cupti.pop, "cuptiActivityPopExternalCorrelationId")))
    return give_up("not started: libcupti.so.13 lacks a function used");
  resolve(g_cupti.result_string, "cuptiGetResultString");
  uint32_t version = 0;
  if (g_cupti.get_version(&version) != CUPTI_SUCCESS ||
      version / 10000 != CUPTI_API_VERSION / 10000)
    return give_up("not started: CUPTI API version " + std::to_string(version) + ", built for " +
                   std::to_string(CUPTI_API_VERSION));
  // Only one subscriber may exist: if it is taken, someone else (PyTorch's profiler, Nsight)
  // holds CUPTI and registering activity callbacks would steal their records.
  CUpti_SubscriberHandle probe = nullptr;
  const CUptiResult probed = g_cupti.subscribe(&probe, ignore_callback, nullptr);
  if (probed == CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED)
    return give_up("backed off: another CUPTI client holds CUPTI (a subscriber exists: PyTorch "
                   "profiler/kineto or Nsight)");
  if (probed != CUPTI_SUCCESS)
    return give_up("not started: cuptiSubscribe failed with " + result_text(probed));
  g_cupti.unsubscribe(probe);
  g_aggregator = std::make_unique<KernelTimeAggregator>(next_record);
  if (g_cupti.register_callbacks(buffer_requested, buffer_completed) != CUPTI_SUCCESS ||
      g_cupti.enable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) != CUPTI_SUCCESS ||
      g_cupti.enable(CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION) != CUPTI_SUCCESS) {
    g_cupti.disable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
    g_aggregator.reset();
    return give_up("not started: enabling CUPTI activity records failed");
  }
  g_real_api.push = real_push;
  g_real_api.pop = real_pop;
  set_correlation_api(&g_real_api);
  g_active.store(true);
  detail = "active: libcupti.so.13, API version " + std::to_string(version);
  return true;
}

KernelTimes cupti_take() {
  if (!g_active.load() || !g_aggregator) return KernelTimes{};
  g_cupti.flush_all(0); // completed buffers only: no device synchronisation
  return g_aggregator->take();
}

void cupti_stop() {
  if (!g_active.exchange(false)) return;
  set_correlation_api(nullptr);
  g_cupti.flush_all(0);
  g_cupti.disable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
  g_cupti.disable(CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION);
  // The library stays loaded and the aggregator alive: CUPTI may still deliver a buffer.
}

} // namespace flopledger::runtime::gpu
