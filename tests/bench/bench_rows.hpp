// Realistic ledger content for the benchmarks (trace_bench, reduce_bench): one period of an
// 8-rank GPU fine-tuning job per row, as rank 0 hands it to the writer. Three precisions (bf16,
// fp32, fp16), three phases (train, recompute, eval) and three sources are non-zero, the counts
// vary from row to row, and the running totals are kept as the runtime keeps them.
#pragma once

#include <cstdint>

#include "accounting/rules.hpp"
#include "io/trace.hpp"

namespace fl_bench {

using flopledger::u128;

inline flopledger::io::TraceHeader bench_header() {
  flopledger::io::TraceHeader header;
  header.writer_version = "bench";
  header.rule_set = std::string(flopledger::default_rule_set().name);
  header.original.compute_known = true;
  header.original.training_flops = static_cast<u128>(1000000000000000000ULL) * 100000; // 1e23
  header.base_model = "bench/base-7b";
  header.config = {{"EVERY_STEPS", "1"}, {"LEDGER", "bench.h5"}, {"ORIGINAL_FLOPS", "1e23"}};
  return header;
}

inline flopledger::io::Segment bench_segment(std::uint32_t id, std::uint32_t world_size) {
  flopledger::io::Segment segment;
  segment.id = id;
  segment.job_id = "4242";
  segment.launcher = "mpirun";
  segment.hosts = "node01,node02";
  segment.world_size = world_size;
  segment.start = 1752825600.0;
  return segment;
}

/// Builds the rows of one ledger in order: next() returns row `row` with the totals carried.
class RowMaker {
public:
  explicit RowMaker(std::uint32_t segment) : segment_(segment) {}

  const flopledger::io::StepRow &next(double now) {
    using namespace flopledger;
    io::StepRow &r = row_;
    const std::uint64_t i = next_row_;
    const std::uint64_t jitter = (i * 2654435761ULL) % 1000; // deterministic variation
    r.row = i;
    r.segment = segment_;
    r.t_start = r.t_end == 0 ? now : r.t_end;
    r.t_end = now;
    r.period = JobPeriod{};
    JobPeriod &p = r.period;
    const std::uint64_t train = 5400000000000000ULL + jitter * 1000000000ULL; // ~5.4e15 per step
    p.flops[FLOPLEDGER_SOURCE_CUBLASLT][FLOPLEDGER_PRECISION_BF16][FLOPLEDGER_PHASE_TRAIN] = train;
    p.flops[FLOPLEDGER_SOURCE_CUBLAS][FLOPLEDGER_PRECISION_FP32][FLOPLEDGER_PHASE_TRAIN] =
        train / 1000;
    p.flops[FLOPLEDGER_SOURCE_CUBLASLT][FLOPLEDGER_PRECISION_BF16][FLOPLEDGER_PHASE_RECOMPUTE] =
        train / 3;
    if (i % 100 == 99)
      p.flops[FLOPLEDGER_SOURCE_CUBLAS][FLOPLEDGER_PRECISION_FP16][FLOPLEDGER_PHASE_EVAL] =
          train / 2;
    p.calls[FLOPLEDGER_SOURCE_CUBLASLT] = 8 * (1400 + jitter % 7);
    p.calls[FLOPLEDGER_SOURCE_CUBLAS] = 8 * 30;
    p.tokens = 8 * 4096;
    p.replica_tokens = 4096;
    p.sequence_sq = 4096ULL * 4096ULL;
    p.step_first = i + 1;
    p.step_last = i + 1;
    p.rank_flops_min = static_cast<std::uint64_t>(train / 8 - jitter);
    p.rank_flops_max = static_cast<std::uint64_t>(train / 8 + jitter);
    p.rank_tokens_min = 4096;
    p.rank_tokens_max = 4096;
    p.ranks = 8;
    p.ranks_active = 8;
    p.gpu.energy_mj = 8 * (2500000 + jitter);
    p.gpu.nvml_ranks = 8;
    const RuleSet &rules = default_rule_set();
    counted_ += p.total_flops();
    for (std::size_t phase = 0; phase < kPhases; ++phase)
      if (rules.phase_counts[phase]) modification_ += p.flops_by_phase(phase);
    r.cumulative_counted = counted_;
    r.cumulative_modification = modification_;
    r.status = Status::DownstreamUser;
    r.fraction_of_threshold = static_cast<double>(modification_) / 3.3333e22;
    ++next_row_;
    return row_;
  }

private:
  std::uint32_t segment_;
  std::uint64_t next_row_ = 0;
  u128 counted_ = 0, modification_ = 0;
  flopledger::io::StepRow row_;
};

} // namespace fl_bench
