#include "kernel_times.hpp"

#include <cupti_activity.h>

#include <string>

namespace flopledger::runtime::gpu {

namespace {

constexpr std::size_t kMaxPendingCorrelations = 1u << 16; // bounds memory (about 2 MB)

bool contains(const std::string &haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

std::uint64_t add_saturated(std::uint64_t a, std::uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

} // namespace

KernelClass classify_kernel(std::string_view name) {
  std::string lower(name);
  for (char &c : lower)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (contains(lower, "nccl")) return KernelClass::Nccl;
  for (std::string_view family : {"flash", "fmha", "attn", "attention", "sdpa"})
    if (contains(lower, family)) return KernelClass::Attention;
  return KernelClass::Other;
}

KernelTimes &KernelTimes::operator+=(const KernelTimes &other) {
  counted_ns = add_saturated(counted_ns, other.counted_ns);
  attention_ns = add_saturated(attention_ns, other.attention_ns);
  nccl_ns = add_saturated(nccl_ns, other.nccl_ns);
  unattributed_ns = add_saturated(unattributed_ns, other.unattributed_ns);
  kernels = add_saturated(kernels, other.kernels);
  dropped_records = add_saturated(dropped_records, other.dropped_records);
  return *this;
}

void KernelTimeAggregator::consume(std::uint8_t *buffer, std::size_t valid_size,
                                   std::size_t dropped) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.dropped_records = add_saturated(pending_.dropped_records, dropped);
  if (!buffer || valid_size == 0) return;
  // Pass 1: which CUPTI correlation ids belong to a flopledger-counted call.
  void *record = nullptr;
  while (next_(buffer, valid_size, &record)) {
    const auto *activity = static_cast<const CUpti_Activity *>(record);
    if (activity->kind != CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION) continue;
    const auto *external = static_cast<const CUpti_ActivityExternalCorrelation *>(record);
    if (static_cast<std::uint32_t>(external->externalKind) != kFlopledgerExternalKind) continue;
    if (external_of_.size() >= kMaxPendingCorrelations) external_of_.clear();
    external_of_[external->correlationId] = external->externalId;
  }
  // Pass 2: the kernels.
  record = nullptr;
  while (next_(buffer, valid_size, &record)) {
    const auto *activity = static_cast<const CUpti_Activity *>(record);
    if (activity->kind != CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) continue;
    const auto *kernel = static_cast<const CUpti_ActivityKernel10 *>(record);
    const std::uint64_t ns = kernel->end > kernel->start ? kernel->end - kernel->start : 0;
    pending_.kernels = add_saturated(pending_.kernels, 1);
    // A counted call may launch several kernels under one correlation id: keep the entry.
    if (external_of_.count(kernel->correlationId) != 0) {
      pending_.counted_ns = add_saturated(pending_.counted_ns, ns);
      continue;
    }
    switch (classify_kernel(kernel->name ? kernel->name : "")) {
    case KernelClass::Attention:
      pending_.attention_ns = add_saturated(pending_.attention_ns, ns);
      break;
    case KernelClass::Nccl:
      pending_.nccl_ns = add_saturated(pending_.nccl_ns, ns);
      break;
    case KernelClass::Other:
      pending_.unattributed_ns = add_saturated(pending_.unattributed_ns, ns);
      break;
    }
  }
}

KernelTimes KernelTimeAggregator::take() {
  std::lock_guard<std::mutex> lock(mutex_);
  const KernelTimes out = pending_;
  pending_ = KernelTimes{};
  return out;
}

} // namespace flopledger::runtime::gpu
