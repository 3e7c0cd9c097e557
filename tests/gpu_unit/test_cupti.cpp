// The CUPTI activity handler fed synthetic records: real CUpti_ActivityKernel10 and
// CUpti_ActivityExternalCorrelation structs (cupti_activity.h) packed into a buffer, walked by a
// test walker in place of cuptiActivityGetNextRecord. And the seam (correlation.hpp) with a fake
// push/pop table.
#include <doctest/doctest.h>

#include <cupti_activity.h>

#include <dlfcn.h>

#include <cstring>
#include <string>
#include <vector>

#include "accounting/device_peaks.hpp"
#include "gpu/correlation.hpp"
#include "gpu/cupti_activity.hpp"
#include "gpu/kernel_times.hpp"

using namespace flopledger::runtime::gpu;

namespace {

// A buffer of records, each at an 8-aligned offset; the walker knows each kind's size.
class SyntheticBuffer {
public:
  void kernel(std::uint32_t correlation, std::uint64_t start, std::uint64_t end, const char *name) {
    CUpti_ActivityKernel10 record{};
    record.kind = CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL;
    record.correlationId = correlation;
    record.start = start;
    record.end = end;
    record.name = name;
    append(&record, sizeof record);
  }
  void external(std::uint32_t correlation, std::uint64_t id,
                CUpti_ExternalCorrelationKind kind = CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0) {
    CUpti_ActivityExternalCorrelation record{};
    record.kind = CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION;
    record.externalKind = kind;
    record.externalId = id;
    record.correlationId = correlation;
    append(&record, sizeof record);
  }
  void memcpy_record() { // a kind the handler ignores
    CUpti_ActivityMemcpy6 record{};
    record.kind = CUPTI_ACTIVITY_KIND_MEMCPY;
    record.start = 0;
    record.end = 1000000;
    append(&record, sizeof record);
  }
  std::uint8_t *data() { return reinterpret_cast<std::uint8_t *>(words_.data()); }
  std::size_t size() const { return words_.size() * 8; }

  static bool walk(std::uint8_t *buffer, std::size_t valid, void **record) {
    std::size_t offset = 0;
    if (*record != nullptr) {
      offset = static_cast<std::size_t>(static_cast<std::uint8_t *>(*record) - buffer);
      offset += (size_of(*static_cast<CUpti_Activity *>(*record)) + 7) / 8 * 8;
    }
    if (offset >= valid) return false;
    *record = buffer + offset;
    return true;
  }

private:
  static std::size_t size_of(const CUpti_Activity &activity) {
    switch (activity.kind) {
    case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL:
      return sizeof(CUpti_ActivityKernel10);
    case CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION:
      return sizeof(CUpti_ActivityExternalCorrelation);
    default:
      return sizeof(CUpti_ActivityMemcpy6);
    }
  }
  void append(const void *record, std::size_t bytes) {
    const std::size_t at = words_.size();
    words_.resize(at + (bytes + 7) / 8);
    std::memcpy(words_.data() + at, record, bytes);
  }
  std::vector<std::uint64_t> words_;
};

} // namespace

TEST_CASE("kernel names classify into attention, NCCL and other") {
  CHECK(classify_kernel("flash_fwd_kernel<Flash_fwd_kernel_traits<128, 64>>") ==
        KernelClass::Attention);
  CHECK(classify_kernel("fmha_cutlassF_f16_aligned_64x64_rf_sm80") == KernelClass::Attention);
  CHECK(classify_kernel("cudnn_generated_fort_native_sdpa_sm90_knob_7_64x128x64_4x1x1_kernel0") ==
        KernelClass::Attention);
  CHECK(classify_kernel("_attn_fwd") == KernelClass::Attention);
  CHECK(classify_kernel("pytorch_flash::flash_bwd_dq_dk_dv_loop_seqk_parallel_kernel") ==
        KernelClass::Attention);
  CHECK(classify_kernel(
            "ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)") ==
        KernelClass::Nccl);
  CHECK(classify_kernel("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64") ==
        KernelClass::Other);
  CHECK(classify_kernel("void at::native::vectorized_elementwise_kernel<4>") == KernelClass::Other);
  CHECK(classify_kernel("") == KernelClass::Other);
}

TEST_CASE("the buffer handler attributes kernels through external ids and sums times exactly") {
  KernelTimeAggregator aggregator(SyntheticBuffer::walk);
  SyntheticBuffer first;
  first.external(101, 1);                                           // counted call 1
  first.external(102, 2);                                           // counted call 2
  first.external(103, 77, CUPTI_EXTERNAL_CORRELATION_KIND_OPENACC); // someone else's id
  first.kernel(101, 1000, 4000, "sm90_xmma_gemm_bf16bf16");         // counted: 3000
  first.kernel(101, 4000, 4500, "cublasLt::splitKreduce_kernel");   // same call: 500
  first.kernel(102, 5000, 12000, "ampere_sgemm_128x64_nn");         // counted: 7000
  first.kernel(103, 12000, 12100, "elementwise_kernel");            // not ours: other, 100
  first.kernel(200, 13000, 23000, "flash_fwd_kernel");              // attention: 10000
  first.kernel(201, 20000, 60000, "ncclDevKernel_AllReduce_Sum");   // NCCL: 40000
  first.kernel(202, 61000, 61250, "vectorized_elementwise_kernel"); // other: 250
  first.kernel(203, 70000, 69000, "clock went back");               // end < start: 0
  first.memcpy_record();                                            // ignored
  aggregator.consume(first.data(), first.size(), 0);

  const KernelTimes period1 = aggregator.take();
  CHECK(period1.counted_ns == 10500);
  CHECK(period1.attention_ns == 10000);
  CHECK(period1.nccl_ns == 40000);
  CHECK(period1.unattributed_ns == 350);
  CHECK(period1.kernels == 8);
  CHECK(period1.dropped_records == 0);

  // The next buffer: a late kernel of call 2 (its correlation record came in the first buffer),
  // and a kernel whose correlation record is in the same buffer, after it.
  SyntheticBuffer second;
  second.kernel(102, 100000, 100600, "gemm_epilogue");
  second.kernel(104, 101000, 102000, "sm80_xmma_gemm_f16f16");
  second.external(104, 3);
  aggregator.consume(second.data(), second.size(), 5);
  const KernelTimes period2 = aggregator.take();
  CHECK(period2.counted_ns == 1600);
  CHECK(period2.unattributed_ns == 0);
  CHECK(period2.kernels == 2);
  CHECK(period2.dropped_records == 5);
  CHECK(aggregator.take().kernels == 0);

  // Upper bound of period 1 on an H100 SXM running bf16: counted FLOPs + (350 + 10000) ns at
  // 989.5 TFLOP/s = 10350e-9 s * 989.5e12 = 10241325000 FLOP exactly.
  const flopledger::u128 counted = 123456789;
  std::array<bool, flopledger::kPrecisions> in_use{};
  in_use[FLOPLEDGER_PRECISION_BF16] = true;
  const auto peak = flopledger::peak_for_precisions(0, "NVIDIA H100 80GB HBM3", in_use);
  CHECK(flopledger::upper_bound_flops(counted, period1.unattributed_ns, period1.attention_ns,
                                      peak.flops_per_second) ==
        counted + static_cast<flopledger::u128>(10241325000u));
}

namespace {

struct FakeCupti {
  std::vector<std::string> calls;
  std::vector<std::uint64_t> stack;
};
FakeCupti fake;

int fake_push(std::uint32_t kind, std::uint64_t id) {
  fake.calls.push_back("push " + std::to_string(kind));
  fake.stack.push_back(id);
  return 0;
}
int fake_pop(std::uint32_t kind, std::uint64_t *last) {
  fake.calls.push_back("pop " + std::to_string(kind));
  *last = fake.stack.back();
  fake.stack.pop_back();
  return 0;
}
int failing_push(std::uint32_t, std::uint64_t) {
  fake.calls.push_back("failed push");
  return 1;
}

} // namespace

TEST_CASE("the seam pushes a CUSTOM0 id around each counted call, and nothing when off") {
  fake = FakeCupti{};
  counted_call_begin(100, FLOPLEDGER_PRECISION_BF16); // no table: a no-op
  counted_call_end(true);
  CHECK(fake.calls.empty());

  static const CorrelationApi api{fake_push, fake_pop};
  set_correlation_api(&api);
  counted_call_begin(2 * 64 * 64 * 64, FLOPLEDGER_PRECISION_BF16);
  CHECK(fake.stack.size() == 1);
  counted_call_end(true);
  counted_call_begin(10, FLOPLEDGER_PRECISION_FP32);
  counted_call_end(false); // a failed call pops too: the stack stays balanced
  CHECK(fake.calls == std::vector<std::string>{"push 3", "pop 3", "push 3", "pop 3"});
  CHECK(fake.stack.empty());

  // Nested (cuBLAS calling cuBLASLt if the depth guard let it through): balanced.
  fake.calls.clear();
  counted_call_begin(1, FLOPLEDGER_PRECISION_FP16);
  counted_call_begin(1, FLOPLEDGER_PRECISION_FP16);
  counted_call_end(true);
  counted_call_end(true);
  CHECK(fake.calls.size() == 4);
  CHECK(fake.stack.empty());

  // Turned off between begin and end (CUPTI stopped): no pop is attempted.
  fake.calls.clear();
  counted_call_begin(1, FLOPLEDGER_PRECISION_FP16);
  set_correlation_api(nullptr);
  counted_call_end(true);
  CHECK(fake.calls == std::vector<std::string>{"push 3"});
  fake.stack.clear();

  // A push that fails is not popped; an unbalanced end is ignored.
  static const CorrelationApi refusing{failing_push, fake_pop};
  set_correlation_api(&refusing);
  fake.calls.clear();
  counted_call_begin(1, FLOPLEDGER_PRECISION_FP16);
  counted_call_end(true);
  counted_call_end(true);
  CHECK(fake.calls == std::vector<std::string>{"failed push"});
  set_correlation_api(nullptr);
}

TEST_CASE("CUPTI is not started in a process without CUDA, and taking gives zeros") {
  std::string detail;
  CHECK_FALSE(cupti_start(detail));
  CHECK(detail == "not started: no CUDA library (libcuda, libcudart) loaded in the process");
  CHECK(cupti_take().kernels == 0);
  cupti_stop();
}

// Run in a process of its own (ctest gpu_unit_tests_libcupti): it loads libcudart globally.
TEST_CASE("CUPTI with the real libcupti: every function resolves, the version matches") {
  if (dlopen("libcudart.so.13", RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    MESSAGE("libcudart.so.13 not installed: nothing to check");
    return;
  }
  std::string detail;
  const bool active = cupti_start(detail);
  if (detail.find("libcupti.so.13 not loaded") != std::string::npos) {
    MESSAGE("libcupti.so.13 not installed: nothing to check");
    return;
  }
  MESSAGE("cupti_start: " << detail);
  // No symbol missing and no version mismatch: what is left depends on the machine (no driver
  // here: cuptiSubscribe fails; on a GPU: active, or backed off under a profiler).
  CHECK(detail.find("lacks a function") == std::string::npos);
  CHECK(detail.find("API version") == std::string::npos);
  if (!active)
    CHECK((detail.rfind("not started: cuptiSubscribe failed with CUPTI error", 0) == 0 ||
           detail.rfind("backed off", 0) == 0));
  cupti_stop();
}
