// Shared helpers for the io/ tests: a temporary directory and a known ledger.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "io/trace.hpp"

namespace fl_test {

using namespace flopledger;
using namespace flopledger::io;

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it at scope exit.
class TempDir {
public:
  TempDir() {
    const char *base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base ? base : "/tmp") + "/flio-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;

  std::string file(const std::string &name) const { return (path_ / name).string(); }

private:
  std::filesystem::path path_;
};

/// Parses a decimal count that the test knows is valid.
inline u128 flops(const char *text) {
  const ParsedFlops parsed = parse_flops(text);
  REQUIRE_MESSAGE(parsed.ok, parsed.error);
  return parsed.value;
}

inline TraceHeader make_header(const char *original_flops = "100000000000000000000000") {
  TraceHeader header;
  header.writer_version = "9.9.9-test";
  header.rule_set = std::string(default_rule_set().name);
  if (std::string(original_flops) != "unknown") {
    header.original.compute_known = true;
    header.original.training_flops = flops(original_flops);
  }
  header.base_model = "example/base-7b";
  header.config = {{"EVERY_STEPS", "1"}, {"LEDGER", "ledger.h5"}, {"ORIGINAL_FLOPS", "1e23"}};
  return header;
}

inline Segment make_segment(std::uint32_t id, const char *job_id, std::uint32_t world_size) {
  Segment segment;
  segment.id = id;
  segment.job_id = job_id;
  segment.launcher = "srun";
  segment.hosts = "node01,node02";
  segment.world_size = world_size;
  segment.start = 1752825600.0 + 3600.0 * id; // 2025-07-18T08:00:00Z + id hours
  return segment;
}

// The FLOPs of every row of the known ledger, in four cells of the source x precision x phase
// cube. recompute is 2^64 + 1 and tokens are 2e19: both need the high 64-bit word.
constexpr const char *kTrainPerRow = "8000000000000000000000";      // blas_gemm / fp32 / train
constexpr const char *kEvalPerRow = "100000000000000000000";        // cublas / bf16 / eval
constexpr const char *kRecomputePerRow = "18446744073709551617";    // cublaslt / fp16 / recompute
constexpr const char *kSyntheticLastRow = "5000000000000000000000"; // api / fp8 / synthetic
constexpr const char *kTokensPerRow = "20000000000000000000";

/// Row `row` of the known ledger; adds its period to the running totals.
inline StepRow make_row(std::uint64_t row, std::uint32_t segment, bool synthetic, u128 &counted,
                        u128 &modification) {
  StepRow r;
  r.row = row;
  r.segment = segment;
  r.t_start = 1752825600.0 + 10.0 * static_cast<double>(row);
  r.t_end = r.t_start + 10.0;
  JobPeriod &p = r.period;
  p.flops[FLOPLEDGER_SOURCE_BLAS_GEMM][FLOPLEDGER_PRECISION_FP32][FLOPLEDGER_PHASE_TRAIN] =
      flops(kTrainPerRow);
  p.flops[FLOPLEDGER_SOURCE_CUBLAS][FLOPLEDGER_PRECISION_BF16][FLOPLEDGER_PHASE_EVAL] =
      flops(kEvalPerRow);
  p.flops[FLOPLEDGER_SOURCE_CUBLASLT][FLOPLEDGER_PRECISION_FP16][FLOPLEDGER_PHASE_RECOMPUTE] =
      flops(kRecomputePerRow);
  if (synthetic)
    p.flops[FLOPLEDGER_SOURCE_API][FLOPLEDGER_PRECISION_FP8][FLOPLEDGER_PHASE_SYNTHETIC_DATA] =
        flops(kSyntheticLastRow);
  p.calls[FLOPLEDGER_SOURCE_BLAS_GEMM] = 1000 + row;
  p.calls[FLOPLEDGER_SOURCE_CUBLAS] = 7;
  p.tokens = flops(kTokensPerRow);
  p.step_first = 10 * row + 9;
  p.step_last = 10 * row + 10;
  p.rank_flops_min = 111 + row;
  p.rank_flops_max = 0xFFFFFFFFFFFFFFF0ULL;
  p.rank_tokens_min = 5;
  p.rank_tokens_max = 6 + row;
  p.ranks = 8;
  p.ranks_active = 7;
  const RuleSet &rules = default_rule_set();
  counted += p.total_flops();
  for (std::size_t phase = 0; phase < kPhases; ++phase)
    if (rules.phase_counts[phase]) modification += p.flops_by_phase(phase);
  r.cumulative_counted = counted;
  r.cumulative_modification = modification;
  r.status = Status::Provider;
  r.fraction_of_threshold = 0.25 * static_cast<double>(row + 1);
  return r;
}

/// Writes the known ledger: segment 0 (job 1001, 3 rows, clean), segment 1 (job 1002, 2 rows,
/// exit status 3), synthetic data in the last row, two events.
inline void write_known_ledger(const std::string &path) {
  std::string error;
  auto writer = TraceWriter::open(path, make_header(), error);
  REQUIRE_MESSAGE(writer, error);
  u128 counted = 0, modification = 0;
  REQUIRE(writer->begin_segment(make_segment(0, "1001", 8)));
  for (std::uint64_t row = 0; row < 3; ++row)
    REQUIRE_MESSAGE(writer->append(make_row(row, 0, false, counted, modification)),
                    writer->error());
  REQUIRE(writer->add_event({1, 1752825615.0, "threshold_fraction", "crossed 50%"}));
  REQUIRE(writer->end_segment(1752825700.0, FLOPLEDGER_SEGMENT_CLEAN, 0));
  Segment second = make_segment(1, "1002", 16);
  second.launcher = "mpirun";
  REQUIRE(writer->begin_segment(second));
  for (std::uint64_t row = 3; row < 5; ++row)
    REQUIRE_MESSAGE(writer->append(make_row(row, 1, row == 4, counted, modification)),
                    writer->error());
  REQUIRE(writer->add_event({4, 1752829300.0, "threshold_crossed", "provider"}));
  REQUIRE(writer->end_segment(1752829400.0, FLOPLEDGER_SEGMENT_ERROR, 3));
  REQUIRE(writer->close());
}

} // namespace fl_test
