#include "counters.hpp"

#include "hook_guard.hpp"

#include <atomic>
#include <mutex>

namespace flopledger::runtime {

namespace {

using detail::CounterBlock;
using detail::g_enabled;
using detail::g_phase;
using detail::t_block;
using detail::t_shared;

// Threads beyond the pool share the last block through atomic read-modify-write: slower, never
// lost. 255 private blocks cover the threads that call BLAS in any realistic training process.
constexpr int kPrivateBlocks = 255;
constexpr int kSharedBlock = kPrivateBlocks;
CounterBlock g_blocks[kPrivateBlocks + 1];
std::atomic<int> g_blocks_claimed{0};

std::atomic<std::uint64_t> g_steps{0};
std::atomic<std::uint64_t> g_tokens{0};
std::atomic<std::uint64_t> g_oversized{0};
std::atomic<std::uint64_t> g_step_number{0}; // ledger numbering: continues across jobs
std::atomic<bool> g_reports_tokens{true};
std::atomic<std::uint64_t> g_replica_tokens{0}, g_sequence_sq{0}, g_unsequenced{0};
// Sequence lengths reported for the step in progress (flopledger_add_sequences).
std::mutex g_sequence_mutex;
std::uint64_t g_pending_tokens = 0, g_pending_sq = 0;

// What the harvester saw last; guarded by g_harvest_mutex.
std::mutex g_harvest_mutex;
struct Seen {
  std::uint64_t flops[kSources][kPrecisions][kPhases];
  std::uint64_t calls[kSources];
};
Seen g_seen[kPrivateBlocks + 1];
std::uint64_t g_seen_steps = 0, g_seen_tokens = 0, g_seen_oversized = 0;
std::uint64_t g_seen_replica = 0, g_seen_sequence_sq = 0, g_seen_unsequenced = 0;

CounterBlock *claim_block() {
  int index = g_blocks_claimed.fetch_add(1, std::memory_order_acq_rel);
  if (index >= kPrivateBlocks) {
    g_blocks_claimed.store(kPrivateBlocks, std::memory_order_release);
    t_shared = true;
    index = kSharedBlock;
  }
  t_block = &g_blocks[index];
  return t_block;
}

} // namespace

std::atomic<int> detail::g_phase{FLOPLEDGER_PHASE_TRAIN};
std::atomic<bool> detail::g_enabled{false};
__thread detail::CounterBlock *detail::t_block = nullptr;
__thread bool detail::t_shared = false;

void detail::count_slow(flopledger_source source, flopledger_precision precision, int phase,
                        std::uint64_t flops) {
  CounterBlock *block = t_block;
  if (block == nullptr) block = claim_block();
  if (!t_shared) { // a block just claimed: the fast path from now on
    count_in_phase(source, precision, phase, flops);
    return;
  }
  block->flops[source][precision][phase].fetch_add(flops, std::memory_order_relaxed);
  block->calls[source].fetch_add(1, std::memory_order_relaxed);
}

int current_phase() {
  return g_phase.load(std::memory_order_relaxed);
}
void set_current_phase(int phase) {
  g_phase.store(phase, std::memory_order_relaxed);
}

void count_oversized_call() {
  g_oversized.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t count_step(std::uint64_t tokens) {
  std::uint64_t pending_tokens = 0, pending_sq = 0;
  {
    std::lock_guard<std::mutex> lock(g_sequence_mutex);
    pending_tokens = g_pending_tokens;
    pending_sq = g_pending_sq;
    g_pending_tokens = g_pending_sq = 0;
  }
  // The analytic basis: training tokens, once per model replica.
  if (g_reports_tokens.load(std::memory_order_relaxed) &&
      g_phase.load(std::memory_order_relaxed) == FLOPLEDGER_PHASE_TRAIN) {
    g_replica_tokens.fetch_add(tokens, std::memory_order_relaxed);
    g_sequence_sq.fetch_add(pending_sq, std::memory_order_relaxed);
    if (tokens > pending_tokens)
      g_unsequenced.fetch_add(tokens - pending_tokens, std::memory_order_relaxed);
  }
  g_tokens.fetch_add(tokens, std::memory_order_relaxed);
  g_step_number.fetch_add(1, std::memory_order_relaxed);
  return g_steps.fetch_add(1, std::memory_order_relaxed) + 1;
}

bool add_sequences(const std::uint64_t *lengths, std::size_t count) {
  std::uint64_t tokens = 0, sq = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const unsigned __int128 square = static_cast<unsigned __int128>(lengths[i]) * lengths[i];
    if (lengths[i] > UINT32_MAX || tokens + lengths[i] < tokens || sq + square < sq) return false;
    tokens += lengths[i];
    sq += static_cast<std::uint64_t>(square);
  }
  std::lock_guard<std::mutex> lock(g_sequence_mutex);
  if (g_pending_tokens + tokens < g_pending_tokens || g_pending_sq + sq < g_pending_sq)
    return false;
  g_pending_tokens += tokens;
  g_pending_sq += sq;
  return true;
}

void set_reports_tokens(bool reports) {
  g_reports_tokens.store(reports, std::memory_order_relaxed);
}

std::uint64_t step_number() {
  return g_step_number.load(std::memory_order_relaxed);
}
void set_step_number(std::uint64_t step) {
  g_step_number.store(step, std::memory_order_relaxed);
}

void harvest(RankPeriod &out, std::uint64_t &oversized_calls) {
  std::lock_guard<std::mutex> lock(g_harvest_mutex);
  int claimed = g_blocks_claimed.load(std::memory_order_acquire);
  if (claimed > kPrivateBlocks) claimed = kPrivateBlocks;
  auto take = [&](int index) {
    CounterBlock &block = g_blocks[index];
    Seen &seen = g_seen[index];
    for (std::size_t s = 0; s < kSources; ++s) {
      for (std::size_t p = 0; p < kPrecisions; ++p)
        for (std::size_t f = 0; f < kPhases; ++f) {
          std::uint64_t now = block.flops[s][p][f].load(std::memory_order_relaxed);
          out.flops[s][p][f] += now - seen.flops[s][p][f]; // modulo 2^64 by design
          seen.flops[s][p][f] = now;
        }
      std::uint64_t calls = block.calls[s].load(std::memory_order_relaxed);
      out.calls[s] += calls - seen.calls[s];
      seen.calls[s] = calls;
    }
  };
  for (int i = 0; i < claimed; ++i)
    take(i);
  take(kSharedBlock);

  std::uint64_t steps = g_steps.load(std::memory_order_relaxed);
  std::uint64_t tokens = g_tokens.load(std::memory_order_relaxed);
  std::uint64_t oversized = g_oversized.load(std::memory_order_relaxed);
  out.steps += steps - g_seen_steps;
  out.tokens += tokens - g_seen_tokens;
  out.last_step = g_step_number.load(std::memory_order_relaxed);
  const std::uint64_t replica = g_replica_tokens.load(std::memory_order_relaxed);
  const std::uint64_t sequence_sq = g_sequence_sq.load(std::memory_order_relaxed);
  const std::uint64_t unsequenced = g_unsequenced.load(std::memory_order_relaxed);
  out.replica_tokens += replica - g_seen_replica;
  out.sequence_sq += sequence_sq - g_seen_sequence_sq;
  out.unsequenced_tokens += unsequenced - g_seen_unsequenced;
  g_seen_replica = replica;
  g_seen_sequence_sq = sequence_sq;
  g_seen_unsequenced = unsequenced;
  oversized_calls += oversized - g_seen_oversized;
  g_seen_steps = steps;
  g_seen_tokens = tokens;
  g_seen_oversized = oversized;
}

void set_counting_enabled(bool enabled) {
  g_enabled.store(enabled, std::memory_order_relaxed);
}

__thread int t_hook_depth = 0;

} // namespace flopledger::runtime
