// Per-thread counters: the hot path. A thread claims one block from a static pool on its first
// count and is its only writer, so adding is a relaxed load and store: no lock, no allocation,
// no syscall. The harvester reads every block's monotonically growing counters and keeps the
// last values it saw, so a period's delta is exact modulo 2^64 (a cell would have to grow by
// 2^64 FLOPs between two harvests to be wrong).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "accounting/period.hpp"
#include "flopledger/tags.h"

namespace flopledger::runtime {

namespace detail {
struct alignas(64) CounterBlock {
  std::atomic<std::uint64_t> flops[kSources][kPrecisions][kPhases];
  std::atomic<std::uint64_t> calls[kSources];
};
// The calling thread's block (null until its first count) and whether it is the shared one.
// __thread, not thread_local: constant-initialised, so no TLS wrapper call on each access.
extern __thread __attribute__((tls_model("initial-exec"))) CounterBlock *t_block;
extern __thread __attribute__((tls_model("initial-exec"))) bool t_shared;
extern std::atomic<int> g_phase;
extern std::atomic<bool> g_enabled;
/// The slow path: claims the thread's block on its first count, or adds to the shared block.
void count_slow(flopledger_source source, flopledger_precision precision, int phase,
                std::uint64_t flops);
} // namespace detail

/// Adds `flops` to the calling thread's counters for (source, precision, phase) and one call to
/// the source. Inline: every hooked call runs it. Async-signal-unsafe only in that it may claim
/// a block on first use.
inline void count_in_phase(flopledger_source source, flopledger_precision precision, int phase,
                           std::uint64_t flops) {
  detail::CounterBlock *block = detail::t_block;
  if (__builtin_expect(block == nullptr || detail::t_shared, 0)) {
    detail::count_slow(source, precision, phase, flops);
    return;
  }
  // Single writer: a plain load and store, no locked instruction on the hot path.
  std::atomic<std::uint64_t> &cell = block->flops[source][precision][phase];
  cell.store(cell.load(std::memory_order_relaxed) + flops, std::memory_order_relaxed);
  std::atomic<std::uint64_t> &calls = block->calls[source];
  calls.store(calls.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

/// Same in the current phase.
inline void count(flopledger_source source, flopledger_precision precision, std::uint64_t flops) {
  count_in_phase(source, precision, detail::g_phase.load(std::memory_order_relaxed), flops);
}

/// The phase new counts are attributed to (process-wide).
int current_phase();
void set_current_phase(int phase);

/// Counts a call whose FLOPs did not fit the 64-bit hot path (more than 2^63 in one call): the
/// FLOPs are clamped and the event is reported by rank 0 as a gap.
void count_oversized_call();

/// Adds a finished step with its tokens (called from flopledger_step_end); returns the number of
/// steps this process has ended so far, this one included. Advances the ledger step number, and
/// in the train phase adds the tokens to the replica (analytic) tokens when this rank reports.
std::uint64_t count_step(std::uint64_t tokens);

/// Sequence lengths of the step in progress (packed sequences): their squares make the analytic
/// attention term. False (nothing added) when a length exceeds 2^32-1 or the sums overflow.
bool add_sequences(const std::uint64_t *lengths, std::size_t count);

/// Whether this rank's tokens count toward the analytic estimate (default true; false on
/// tensor- or pipeline-parallel peers of a replica's reporting rank).
void set_reports_tokens(bool reports);

/// The ledger step number of the last ended step (continues the ledger's numbering on resume).
std::uint64_t step_number();
void set_step_number(std::uint64_t step);

/// Moves everything counted since the previous harvest into `out` (adds to it). Thread-safe
/// with respect to counting threads and other harvesters.
void harvest(RankPeriod &out, std::uint64_t &oversized_calls);

/// Whether counting is on in this process (off before init, in forked children, when disabled).
inline bool counting_enabled() {
  return detail::g_enabled.load(std::memory_order_relaxed);
}
void set_counting_enabled(bool enabled);

} // namespace flopledger::runtime
