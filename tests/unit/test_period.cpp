#include <doctest/doctest.h>

#include "u128_printer.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "accounting/period.hpp"

using namespace flopledger;

namespace {

constexpr std::uint64_t kMax64 = std::numeric_limits<std::uint64_t>::max();
constexpr u128 kTwo64 = static_cast<u128>(1) << 64;

bool same(const JobPeriod &a, const JobPeriod &b) {
  // Every field is an integer and the struct is default-initialised: compare field by field.
  for (std::size_t s = 0; s < kSources; ++s) {
    if (a.calls[s] != b.calls[s]) return false;
    for (std::size_t p = 0; p < kPrecisions; ++p)
      for (std::size_t h = 0; h < kPhases; ++h)
        if (a.flops[s][p][h] != b.flops[s][p][h]) return false;
  }
  return a.tokens == b.tokens && a.step_first == b.step_first && a.step_last == b.step_last &&
         a.rank_flops_min == b.rank_flops_min && a.rank_flops_max == b.rank_flops_max &&
         a.rank_tokens_min == b.rank_tokens_min && a.rank_tokens_max == b.rank_tokens_max &&
         a.ranks == b.ranks && a.ranks_active == b.ranks_active;
}

// Four ranks with cells near 2^64, so that sums only come out right with a 128-bit carry.
std::vector<RankPeriod> sample_ranks() {
  std::vector<RankPeriod> ranks(4);
  ranks[0].flops[FLOPLEDGER_SOURCE_CUBLAS][FLOPLEDGER_PRECISION_BF16][FLOPLEDGER_PHASE_TRAIN] =
      kMax64;
  ranks[0].flops[FLOPLEDGER_SOURCE_API][FLOPLEDGER_PRECISION_FP32][FLOPLEDGER_PHASE_EVAL] = 5;
  ranks[0].calls[FLOPLEDGER_SOURCE_CUBLAS] = kMax64;
  ranks[0].tokens = 1000;
  ranks[0].steps = 2;
  ranks[0].last_step = 10;

  ranks[1].flops[FLOPLEDGER_SOURCE_CUBLAS][FLOPLEDGER_PRECISION_BF16][FLOPLEDGER_PHASE_TRAIN] =
      kMax64 - 1;
  ranks[1]
      .flops[FLOPLEDGER_SOURCE_BLAS_GEMM][FLOPLEDGER_PRECISION_FP64][FLOPLEDGER_PHASE_RECOMPUTE] =
      7;
  ranks[1].calls[FLOPLEDGER_SOURCE_CUBLAS] = 3;
  ranks[1].tokens = kMax64;
  ranks[1].steps = 2;
  ranks[1].last_step = 12;

  // rank 2 counted nothing: a silent rank
  ranks[2].tokens = 0;
  ranks[2].last_step = 9;

  ranks[3].flops[FLOPLEDGER_SOURCE_CUBLASLT][FLOPLEDGER_PRECISION_FP8][FLOPLEDGER_PHASE_TRAIN] =
      kMax64;
  ranks[3].flops[FLOPLEDGER_SOURCE_CUBLAS][FLOPLEDGER_PRECISION_BF16][FLOPLEDGER_PHASE_TRAIN] = 2;
  ranks[3].calls[FLOPLEDGER_SOURCE_CUBLASLT] = 1;
  ranks[3].tokens = 500;
  ranks[3].steps = 1;
  ranks[3].last_step = 11;
  return ranks;
}

JobPeriod add_all(const std::vector<RankPeriod> &ranks, const std::vector<std::size_t> &order) {
  JobPeriod job;
  for (std::size_t i : order)
    REQUIRE(job.add_rank(ranks[i]));
  return job;
}

// The reduction operator the runtime applies to two partial JobPeriods (SUM, MIN, MAX), written
// here from the documented meaning of each field, to show add_rank is compatible with any tree.
JobPeriod combine(const JobPeriod &a, const JobPeriod &b) {
  if (a.ranks == 0) return b;
  if (b.ranks == 0) return a;
  JobPeriod out;
  for (std::size_t s = 0; s < kSources; ++s) {
    out.calls[s] = a.calls[s] + b.calls[s];
    for (std::size_t p = 0; p < kPrecisions; ++p)
      for (std::size_t h = 0; h < kPhases; ++h)
        out.flops[s][p][h] = a.flops[s][p][h] + b.flops[s][p][h];
  }
  out.tokens = a.tokens + b.tokens;
  out.step_first = std::min(a.step_first, b.step_first);
  out.step_last = std::max(a.step_last, b.step_last);
  out.rank_flops_min = std::min(a.rank_flops_min, b.rank_flops_min);
  out.rank_flops_max = std::max(a.rank_flops_max, b.rank_flops_max);
  out.rank_tokens_min = std::min(a.rank_tokens_min, b.rank_tokens_min);
  out.rank_tokens_max = std::max(a.rank_tokens_max, b.rank_tokens_max);
  out.ranks = a.ranks + b.ranks;
  out.ranks_active = a.ranks_active + b.ranks_active;
  return out;
}

} // namespace

TEST_CASE("RankPeriod::total_flops sums every cell in 128 bits") {
  RankPeriod rank;
  CHECK(rank.total_flops() == 0);
  rank.flops[0][0][0] = 3;
  rank.flops[kSources - 1][kPrecisions - 1][kPhases - 1] = 4;
  CHECK(rank.total_flops() == 7);

  RankPeriod full;
  for (auto &by_precision : full.flops)
    for (auto &by_phase : by_precision)
      for (auto &cell : by_phase)
        cell = kMax64;
  const u128 cells = kSources * kPrecisions * kPhases;
  CHECK(full.total_flops() == cells * kMax64);
  CHECK(full.total_flops() > kTwo64);
}

TEST_CASE("JobPeriod::add_rank sums, takes MIN/MAX and counts ranks") {
  const std::vector<RankPeriod> ranks = sample_ranks();
  const JobPeriod job = add_all(ranks, {0, 1, 2, 3});

  const u128 bf16_train = static_cast<u128>(kMax64) + (kMax64 - 1) + 2;
  CHECK(job.flops[FLOPLEDGER_SOURCE_CUBLAS][FLOPLEDGER_PRECISION_BF16][FLOPLEDGER_PHASE_TRAIN] ==
        bf16_train);
  CHECK(bf16_train == 2 * kTwo64 - 1); // 2^64-1 + 2^64-2 + 2: carried into the high word
  CHECK(job.flops[FLOPLEDGER_SOURCE_CUBLASLT][FLOPLEDGER_PRECISION_FP8][FLOPLEDGER_PHASE_TRAIN] ==
        kMax64);
  CHECK(job.calls[FLOPLEDGER_SOURCE_CUBLAS] == static_cast<u128>(kMax64) + 3);
  CHECK(job.calls[FLOPLEDGER_SOURCE_CUBLASLT] == 1);
  CHECK(job.tokens == static_cast<u128>(kMax64) + 1500);

  const u128 total = bf16_train + kMax64 + 5 + 7;
  CHECK(job.total_flops() == total);
  CHECK(to_decimal(job.total_flops()) == "55340232221128654858"); // 3 * 2^64 + 10

  CHECK(job.step_first == 9);
  CHECK(job.step_last == 12);
  CHECK(job.ranks == 4);
  CHECK(job.ranks_active == 3);
  CHECK(job.rank_flops_min == 0);
  CHECK(job.rank_flops_max == kMax64); // rank 0: 2^64-1 + 5 does not fit 64 bits: saturated
  CHECK(job.rank_tokens_min == 0);
  CHECK(job.rank_tokens_max == kMax64);
}

TEST_CASE("the first rank added sets MIN and MAX to its own values") {
  RankPeriod rank;
  rank.flops[FLOPLEDGER_SOURCE_API][FLOPLEDGER_PRECISION_FP16][FLOPLEDGER_PHASE_TRAIN] = 40;
  rank.tokens = 8;
  rank.last_step = 3;
  JobPeriod job;
  REQUIRE(job.add_rank(rank));
  CHECK(job.rank_flops_min == 40);
  CHECK(job.rank_flops_max == 40);
  CHECK(job.rank_tokens_min == 8);
  CHECK(job.rank_tokens_max == 8);
  CHECK(job.step_first == 3);
  CHECK(job.step_last == 3);
  CHECK(job.ranks == 1);
  CHECK(job.ranks_active == 1);

  RankPeriod bigger = rank;
  bigger.flops[FLOPLEDGER_SOURCE_API][FLOPLEDGER_PRECISION_FP16][FLOPLEDGER_PHASE_TRAIN] = 100;
  bigger.tokens = 2;
  bigger.last_step = 5;
  REQUIRE(job.add_rank(bigger));
  CHECK(job.rank_flops_min == 40);
  CHECK(job.rank_flops_max == 100);
  CHECK(job.rank_tokens_min == 2);
  CHECK(job.rank_tokens_max == 8);
  CHECK(job.step_first == 3);
  CHECK(job.step_last == 5);
  CHECK(job.total_flops() == 140);
}

TEST_CASE("projections by precision, phase and source partition the total") {
  const JobPeriod job = add_all(sample_ranks(), {0, 1, 2, 3});
  CHECK(job.flops_by_precision(FLOPLEDGER_PRECISION_BF16) == 2 * kTwo64 - 1);
  CHECK(job.flops_by_precision(FLOPLEDGER_PRECISION_FP8) == kMax64);
  CHECK(job.flops_by_precision(FLOPLEDGER_PRECISION_FP32) == 5);
  CHECK(job.flops_by_precision(FLOPLEDGER_PRECISION_FP64) == 7);
  CHECK(job.flops_by_precision(FLOPLEDGER_PRECISION_INT8) == 0);
  CHECK(job.flops_by_phase(FLOPLEDGER_PHASE_TRAIN) == 2 * kTwo64 - 1 + kMax64);
  CHECK(job.flops_by_phase(FLOPLEDGER_PHASE_EVAL) == 5);
  CHECK(job.flops_by_phase(FLOPLEDGER_PHASE_RECOMPUTE) == 7);
  CHECK(job.flops_by_source(FLOPLEDGER_SOURCE_CUBLAS) == 2 * kTwo64 - 1);
  CHECK(job.flops_by_source(FLOPLEDGER_SOURCE_CUBLASLT) == kMax64);
  CHECK(job.flops_by_source(FLOPLEDGER_SOURCE_API) == 5);
  CHECK(job.flops_by_source(FLOPLEDGER_SOURCE_BLAS_GEMM) == 7);

  for (auto projection :
       {&JobPeriod::flops_by_precision, &JobPeriod::flops_by_phase, &JobPeriod::flops_by_source}) {
    const std::size_t count = projection == &JobPeriod::flops_by_precision ? kPrecisions
                              : projection == &JobPeriod::flops_by_phase   ? kPhases
                                                                           : kSources;
    u128 sum = 0;
    for (std::size_t i = 0; i < count; ++i)
      sum += (job.*projection)(i);
    CHECK(sum == job.total_flops());
  }
}

TEST_CASE("flops_in_phases: the FLOPs of the marked phases, per rank and per job") {
  const std::vector<RankPeriod> ranks = sample_ranks();
  const JobPeriod job = add_all(ranks, {0, 1, 2, 3});
  std::array<bool, kPhases> train_and_recompute{};
  train_and_recompute[FLOPLEDGER_PHASE_TRAIN] = train_and_recompute[FLOPLEDGER_PHASE_RECOMPUTE] =
      true;
  CHECK(flops_in_phases(job, train_and_recompute) == 2 * kTwo64 - 1 + kMax64 + 7);
  CHECK(flops_in_phases(job, std::array<bool, kPhases>{}) == 0);
  // Per rank, and the ranks' figures add up to the job's.
  CHECK(flops_in_phases(ranks[0], train_and_recompute) == kMax64);
  CHECK(flops_in_phases(ranks[1], train_and_recompute) == u128{kMax64} - 1 + 7);
  u128 sum = 0;
  for (const RankPeriod &rank : ranks)
    sum += flops_in_phases(rank, train_and_recompute);
  CHECK(sum == flops_in_phases(job, train_and_recompute));
  std::array<bool, kPhases> every{};
  every.fill(true);
  CHECK(flops_in_phases(job, every) == job.total_flops());
}

TEST_CASE("the job period does not depend on the order ranks are added in") {
  const std::vector<RankPeriod> ranks = sample_ranks();
  std::vector<std::size_t> order{0, 1, 2, 3};
  const JobPeriod reference = add_all(ranks, order);
  int permutations = 0;
  while (std::next_permutation(order.begin(), order.end())) {
    INFO("order " << order[0] << order[1] << order[2] << order[3]);
    CHECK(same(add_all(ranks, order), reference));
    ++permutations;
  }
  CHECK(permutations == 23);
}

TEST_CASE("the job period does not depend on how the reduction groups ranks") {
  const std::vector<RankPeriod> ranks = sample_ranks();
  const JobPeriod flat = add_all(ranks, {0, 1, 2, 3});
  // ((0 1) (2 3)) as a binary tree, ((3 0) (1 2)), and (((2) (0 1)) 3)
  CHECK(same(combine(add_all(ranks, {0, 1}), add_all(ranks, {2, 3})), flat));
  CHECK(same(combine(add_all(ranks, {3, 0}), add_all(ranks, {1, 2})), flat));
  CHECK(same(combine(combine(add_all(ranks, {2}), add_all(ranks, {0, 1})), add_all(ranks, {3})),
             flat));
  // A silent rank alone still sets MIN to zero when grouped with others.
  CHECK(combine(add_all(ranks, {2}), add_all(ranks, {0})).rank_flops_min == 0);
}

TEST_CASE("add_rank refuses an overflowing sum and leaves the period unchanged") {
  RankPeriod rank;
  rank.flops[FLOPLEDGER_SOURCE_CUBLAS][FLOPLEDGER_PRECISION_BF16][FLOPLEDGER_PHASE_TRAIN] = 1;
  rank.tokens = 1;
  rank.last_step = 4;

  SUBCASE("a FLOP cell") {
    JobPeriod job;
    job.flops[FLOPLEDGER_SOURCE_CUBLAS][FLOPLEDGER_PRECISION_BF16][FLOPLEDGER_PHASE_TRAIN] =
        kU128Max;
    job.ranks = 1;
    const JobPeriod before = job;
    CHECK_FALSE(job.add_rank(rank));
    CHECK(same(job, before));
  }
  SUBCASE("the job total, though each cell would fit") {
    JobPeriod job;
    job.flops[FLOPLEDGER_SOURCE_API][FLOPLEDGER_PRECISION_FP32][FLOPLEDGER_PHASE_TRAIN] = kU128Max;
    job.ranks = 1;
    const JobPeriod before = job;
    CHECK_FALSE(job.add_rank(rank));
    CHECK(same(job, before));
  }
  SUBCASE("tokens") {
    JobPeriod job;
    job.tokens = kU128Max;
    job.ranks = 1;
    const JobPeriod before = job;
    CHECK_FALSE(job.add_rank(rank));
    CHECK(same(job, before));
  }
  SUBCASE("calls") {
    JobPeriod job;
    job.calls[FLOPLEDGER_SOURCE_CUBLAS] = kU128Max;
    job.ranks = 1;
    rank.calls[FLOPLEDGER_SOURCE_CUBLAS] = 1;
    const JobPeriod before = job;
    CHECK_FALSE(job.add_rank(rank));
    CHECK(same(job, before));
  }
  SUBCASE("the rank counter") {
    JobPeriod job;
    job.ranks = std::numeric_limits<std::uint32_t>::max();
    const JobPeriod before = job;
    CHECK_FALSE(job.add_rank(rank));
    CHECK(same(job, before));
  }
  SUBCASE("just below the limit still adds") {
    JobPeriod job;
    job.flops[FLOPLEDGER_SOURCE_CUBLAS][FLOPLEDGER_PRECISION_BF16][FLOPLEDGER_PHASE_TRAIN] =
        kU128Max - 1;
    CHECK(job.add_rank(rank));
    CHECK(job.total_flops() == kU128Max);
    CHECK(job.ranks == 1);
  }
}
