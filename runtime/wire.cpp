#include "wire.hpp"

#include <algorithm>

namespace flopledger::runtime::wire {

namespace {

constexpr std::size_t kCallsAt = kCells;
constexpr std::size_t kTokensAt = kCallsAt + kSources;
constexpr std::size_t kReplicaTokensAt = kTokensAt + 1;
constexpr std::size_t kSequenceSqAt = kReplicaTokensAt + 1;
constexpr std::size_t kUnsequencedAt = kSequenceSqAt + 1;
constexpr std::size_t kRanksAt = kUnsequencedAt + 1;
constexpr std::size_t kActiveAt = kRanksAt + 1;
constexpr std::size_t kDoneAt = kActiveAt + 1;
constexpr std::size_t kLeavingAt = kDoneAt + 1;
constexpr std::size_t kOversizedAt = kLeavingAt + 1;
constexpr std::size_t kEnergyAt = kOversizedAt + 1;
constexpr std::size_t kCountedNsAt = kEnergyAt + 1;
constexpr std::size_t kAttentionNsAt = kCountedNsAt + 1;
constexpr std::size_t kNcclNsAt = kAttentionNsAt + 1;
constexpr std::size_t kUnattributedNsAt = kNcclNsAt + 1;
constexpr std::size_t kBoundExtraAt = kUnattributedNsAt + 1;
constexpr std::size_t kNvmlRanksAt = kBoundExtraAt + 1;
constexpr std::size_t kCuptiRanksAt = kNvmlRanksAt + 1;
constexpr std::size_t kBoundRanksAt = kCuptiRanksAt + 1;
static_assert(kBoundRanksAt + 1 == kSumValues, "sum layout");
constexpr std::size_t kMinAt = 2 * kSumValues;
constexpr std::size_t kMaxAt = kMinAt + kMinWords;

void put_sum(Record &r, std::size_t index, std::uint64_t value) {
  r.words[2 * index] = value;
  r.words[2 * index + 1] = 0;
}
void put_sum128(Record &r, std::size_t index, u128 value) {
  r.words[2 * index] = lo_word(value);
  r.words[2 * index + 1] = hi_word(value);
}
u128 get_sum(const Record &r, std::size_t index) {
  return from_words(r.words[2 * index], r.words[2 * index + 1]);
}

std::uint64_t clamp64(u128 v) {
  return v > UINT64_MAX ? UINT64_MAX : static_cast<std::uint64_t>(v);
}

} // namespace

void pack(const RankPeriod &period, const RankFlags &flags, Record &out) {
  const std::uint64_t *cells = &period.flops[0][0][0];
  for (std::size_t i = 0; i < kCells; ++i)
    put_sum(out, i, cells[i]);
  for (std::size_t s = 0; s < kSources; ++s)
    put_sum(out, kCallsAt + s, period.calls[s]);
  const u128 total = period.total_flops();
  put_sum(out, kTokensAt, period.tokens);
  put_sum(out, kReplicaTokensAt, period.replica_tokens);
  put_sum(out, kSequenceSqAt, period.sequence_sq);
  put_sum(out, kUnsequencedAt, period.unsequenced_tokens);
  put_sum(out, kRanksAt, 1);
  put_sum(out, kActiveAt, total > 0 ? 1 : 0);
  put_sum(out, kDoneAt, flags.done ? 1 : 0);
  put_sum(out, kLeavingAt, flags.leaving ? 1 : 0);
  put_sum(out, kOversizedAt, flags.oversized_calls);
  const RankGpu &gpu = period.gpu;
  put_sum(out, kEnergyAt, gpu.energy_mj);
  put_sum(out, kCountedNsAt, gpu.counted_ns);
  put_sum(out, kAttentionNsAt, gpu.attention_ns);
  put_sum(out, kNcclNsAt, gpu.nccl_ns);
  put_sum(out, kUnattributedNsAt, gpu.unattributed_ns);
  // Clamped at 2^100 per rank so that the sum over any number of ranks stays below 2^128.
  const u128 extra_cap = static_cast<u128>(1) << 100;
  put_sum128(out, kBoundExtraAt,
             gpu.bound_known ? std::min(gpu.bound_extra_flops, extra_cap) : u128{0});
  put_sum(out, kNvmlRanksAt, gpu.nvml_active ? 1 : 0);
  put_sum(out, kCuptiRanksAt, gpu.cupti_active ? 1 : 0);
  put_sum(out, kBoundRanksAt, gpu.bound_known ? 1 : 0);
  const std::uint64_t extremes[] = {clamp64(total), period.tokens, period.last_step};
  for (std::size_t i = 0; i < kMinWords; ++i)
    out.words[kMinAt + i] = extremes[i];
  for (std::size_t i = 0; i < kMinWords; ++i)
    out.words[kMaxAt + i] = extremes[i];
  out.words[kMaxAt + 3] = flags.leaving ? static_cast<std::uint32_t>(flags.exit_status) : 0;
}

void combine(const Record &in, Record &inout) {
  for (std::size_t i = 0; i < kSumValues; ++i) {
    std::uint64_t &lo = inout.words[2 * i];
    std::uint64_t &hi = inout.words[2 * i + 1];
    const std::uint64_t sum = lo + in.words[2 * i];
    hi += in.words[2 * i + 1] + (sum < lo ? 1 : 0); // carry; 2^128 per cell is out of reach
    lo = sum;
  }
  for (std::size_t i = 0; i < kMinWords; ++i)
    inout.words[kMinAt + i] = std::min(inout.words[kMinAt + i], in.words[kMinAt + i]);
  for (std::size_t i = 0; i < kMaxWords; ++i)
    inout.words[kMaxAt + i] = std::max(inout.words[kMaxAt + i], in.words[kMaxAt + i]);
}

void unpack(const Record &record, JobPeriod &period, JobFlags &flags) {
  period = JobPeriod{};
  u128 *cells = &period.flops[0][0][0];
  for (std::size_t i = 0; i < kCells; ++i)
    cells[i] = get_sum(record, i);
  for (std::size_t s = 0; s < kSources; ++s)
    period.calls[s] = get_sum(record, kCallsAt + s);
  period.tokens = get_sum(record, kTokensAt);
  period.replica_tokens = get_sum(record, kReplicaTokensAt);
  period.sequence_sq = get_sum(record, kSequenceSqAt);
  period.unsequenced_tokens = get_sum(record, kUnsequencedAt);
  period.ranks = static_cast<std::uint32_t>(get_sum(record, kRanksAt));
  period.ranks_active = static_cast<std::uint32_t>(get_sum(record, kActiveAt));
  period.rank_flops_min = record.words[kMinAt];
  period.rank_tokens_min = record.words[kMinAt + 1];
  period.step_first = record.words[kMinAt + 2];
  period.rank_flops_max = record.words[kMaxAt];
  period.rank_tokens_max = record.words[kMaxAt + 1];
  period.step_last = record.words[kMaxAt + 2];
  flags.ranks_done = static_cast<std::uint64_t>(get_sum(record, kDoneAt));
  flags.ranks_leaving = static_cast<std::uint64_t>(get_sum(record, kLeavingAt));
  flags.max_exit_status = record.words[kMaxAt + 3];
  flags.oversized_calls = get_sum(record, kOversizedAt);
  JobGpu &gpu = period.gpu;
  gpu.energy_mj = get_sum(record, kEnergyAt);
  gpu.counted_ns = get_sum(record, kCountedNsAt);
  gpu.attention_ns = get_sum(record, kAttentionNsAt);
  gpu.nccl_ns = get_sum(record, kNcclNsAt);
  gpu.unattributed_ns = get_sum(record, kUnattributedNsAt);
  gpu.bound_extra_flops = get_sum(record, kBoundExtraAt);
  gpu.nvml_ranks = static_cast<std::uint32_t>(get_sum(record, kNvmlRanksAt));
  gpu.cupti_ranks = static_cast<std::uint32_t>(get_sum(record, kCuptiRanksAt));
  gpu.bound_ranks = static_cast<std::uint32_t>(get_sum(record, kBoundRanksAt));
}

} // namespace flopledger::runtime::wire
