// flopledger merge: ledgers written separately for one modification of one base model (SFT on one
// cluster, preference tuning on another, synthetic data elsewhere) combined into one new ledger
// with exact totals and an auditable provenance. docs/merge.md states the semantics.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/trace.hpp"

namespace flopledger::io {

struct MergeOptions {
  bool force = false;            ///< replace an existing output file (never one of the inputs)
  bool allow_concurrent = false; ///< accept segments of different inputs that overlap in time
  double now = 0;                ///< time of the provenance events; 0: the current time
  IntegrityKey key;              ///< the output's chain key (empty: the sha256 chain)
};

/// What one input contributed.
struct MergedInput {
  std::string path;
  std::string format;                      ///< "1.0", "1.1", ...
  std::vector<std::uint32_t> segments_in;  ///< the input's segment ids, in merged order
  std::vector<std::uint32_t> segments_out; ///< the ids they received in the output
  std::uint64_t rows = 0;
  u128 counted = 0;      ///< the input's own last cumulative_counted (0 without rows)
  u128 modification = 0; ///< the input's own last cumulative_modification
};

struct MergeSummary {
  std::vector<MergedInput> inputs; ///< in the order given
  std::uint32_t segments = 0;
  std::uint64_t rows = 0;
  std::uint64_t events = 0; ///< events written, provenance included
  std::uint32_t concurrent_pairs = 0;
  u128 counted = 0;      ///< the output's last cumulative_counted
  u128 modification = 0; ///< the output's last cumulative_modification
  Verdict verdict;       ///< evaluate() on the merged modification
};

/// Merges `inputs` (one or more ledgers of the same rule set, original model and base model) into
/// the new ledger `output`. Returns true with `summary` filled; on failure false with `error`
/// naming the file(s) and the problem, and `output` untouched (the new ledger is written under a
/// temporary name beside it and renamed into place only when complete). Refused: an output that
/// exists (unless options.force) or is one of the inputs, an input given twice, inputs of
/// different ledgers, one segment in two inputs, segments of different inputs overlapping in
/// time (unless options.allow_concurrent), and an input whose stored cumulative totals disagree
/// with its rows where no "cumulative_gap" event explains it.
bool merge_ledgers(const std::vector<std::string> &inputs, const std::string &output,
                   const MergeOptions &options, MergeSummary &summary, std::string &error);

} // namespace flopledger::io
