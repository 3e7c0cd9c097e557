// One counted call into the per-thread counters, with the 64-bit hot-path limit: a call of more
// than 2^63 FLOPs is clamped and reported as oversized. Shared by every hook family.
#pragma once

#include <cstdint>
#include <optional>

#include "accounting/exact.hpp"
#include "counters.hpp"

namespace flopledger::runtime {

/// The FLOPs of one call as the hot path carries them: clamped to 2^63.
inline std::uint64_t hot_path_flops(u128 flops) {
  constexpr u128 kLimit = static_cast<u128>(1) << 63;
  return flops > kLimit ? std::uint64_t{1} << 63 : static_cast<std::uint64_t>(flops);
}

/// Counts `flops` (nothing when nullopt or counting is off); clamps and reports oversized calls.
inline void record(flopledger_source source, flopledger_precision precision, u128 flops) {
  if (!counting_enabled()) return;
  if (flops > (static_cast<u128>(1) << 63)) count_oversized_call();
  count(source, precision, hot_path_flops(flops));
}

inline void record(flopledger_source source, flopledger_precision precision,
                   const std::optional<u128> &flops) {
  if (flops) record(source, precision, *flops);
}

} // namespace flopledger::runtime
