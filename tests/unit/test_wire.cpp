// The reduction record: what MPI_Ireduce combines must equal, to the integer, the plain sum of
// the ranks' periods whatever the order or the tree of the combination.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "wire.hpp"

using namespace flopledger;
using namespace flopledger::runtime;

namespace {

RankPeriod make_rank(std::uint64_t seed) {
  std::mt19937_64 random(seed);
  RankPeriod period;
  std::uint64_t *cells = &period.flops[0][0][0];
  for (std::size_t i = 0; i < wire::kCells; ++i)
    cells[i] = (i % 7 == 0) ? UINT64_MAX - (random() % 1000) : random() % 1000000;
  for (std::size_t s = 0; s < kSources; ++s)
    period.calls[s] = random() % 100;
  period.tokens = 1000 + seed;
  period.replica_tokens = seed % 2 == 0 ? UINT64_MAX - seed : 0; // sums need the carry
  period.sequence_sq = 64 * 64 * (seed + 1);
  period.unsequenced_tokens = seed;
  period.steps = 3;
  period.last_step = 10 + seed;
  return period;
}

wire::Record packed(const RankPeriod &period, const RankFlags &flags = {}) {
  wire::Record record;
  wire::pack(period, flags, record);
  return record;
}

bool same(const JobPeriod &a, const JobPeriod &b) {
  const u128 *x = &a.flops[0][0][0];
  const u128 *y = &b.flops[0][0][0];
  for (std::size_t i = 0; i < wire::kCells; ++i)
    if (x[i] != y[i]) return false;
  for (std::size_t s = 0; s < kSources; ++s)
    if (a.calls[s] != b.calls[s]) return false;
  return a.tokens == b.tokens && a.replica_tokens == b.replica_tokens &&
         a.sequence_sq == b.sequence_sq && a.unsequenced_tokens == b.unsequenced_tokens &&
         a.step_first == b.step_first && a.step_last == b.step_last &&
         a.rank_flops_min == b.rank_flops_min && a.rank_flops_max == b.rank_flops_max &&
         a.rank_tokens_min == b.rank_tokens_min && a.rank_tokens_max == b.rank_tokens_max &&
         a.ranks == b.ranks && a.ranks_active == b.ranks_active;
}

} // namespace

TEST_CASE("combining records equals summing periods, in any order and tree") {
  std::vector<RankPeriod> ranks;
  for (std::uint64_t r = 0; r < 7; ++r)
    ranks.push_back(make_rank(r));

  JobPeriod expected;
  for (const RankPeriod &rank : ranks)
    REQUIRE(expected.add_rank(rank));
  // Cells at UINT64_MAX - small, summed over 7 ranks, carry into the high word.
  CHECK(expected.flops[0][0][0] > static_cast<u128>(UINT64_MAX));

  // Left fold in rank order.
  wire::Record left = packed(ranks[0]);
  for (std::size_t r = 1; r < ranks.size(); ++r)
    wire::combine(packed(ranks[r]), left);
  JobPeriod from_left;
  JobFlags flags;
  wire::unpack(left, from_left, flags);
  CHECK(same(from_left, expected));

  // A binary tree in reversed order: ((6+5)+(4+3)) + ((2+1)+0).
  auto pair = [&](std::size_t a, std::size_t b) {
    wire::Record r = packed(ranks[a]);
    wire::combine(packed(ranks[b]), r);
    return r;
  };
  wire::Record t1 = pair(6, 5), t2 = pair(4, 3), t3 = pair(2, 1);
  wire::combine(t2, t1);
  wire::combine(packed(ranks[0]), t3);
  wire::combine(t3, t1);
  JobPeriod from_tree;
  wire::unpack(t1, from_tree, flags);
  CHECK(same(from_tree, expected));
  CHECK(from_tree.ranks == 7);
  CHECK(from_tree.step_first == 10);
  CHECK(from_tree.step_last == 16);
  CHECK(from_tree.rank_tokens_min == 1000);
  CHECK(from_tree.rank_tokens_max == 1006);
}

TEST_CASE("flags travel with the counts") {
  RankPeriod idle; // counts nothing
  RankFlags done;
  done.done = true;
  RankFlags leaving;
  leaving.done = true;
  leaving.leaving = true;
  leaving.exit_status = 3;
  leaving.oversized_calls = 2;
  wire::Record record = packed(make_rank(1), done);
  wire::combine(packed(idle, leaving), record);
  wire::combine(packed(make_rank(2)), record);
  JobPeriod period;
  JobFlags flags;
  wire::unpack(record, period, flags);
  CHECK(flags.ranks_done == 2);
  CHECK(flags.ranks_leaving == 1);
  CHECK(flags.max_exit_status == 3);
  CHECK(flags.oversized_calls == 2);
  CHECK(period.ranks == 3);
  CHECK(period.ranks_active == 2);
  CHECK(period.rank_flops_min == 0); // the idle rank shows as the minimum
  CHECK(period.step_first == 0);
}

TEST_CASE(
    "GPU figures travel with the counts: exact sums, the bound only from ranks that know it") {
  RankPeriod a, b, c;
  a.gpu.energy_mj = UINT64_MAX; // sums past 2^64 need the carry
  a.gpu.nvml_active = true;
  a.gpu.cupti_active = true;
  a.gpu.bound_known = true;
  a.gpu.counted_ns = 1000;
  a.gpu.attention_ns = 20;
  a.gpu.nccl_ns = 300;
  a.gpu.unattributed_ns = 4;
  a.gpu.bound_extra_flops = static_cast<u128>(1) << 70;
  b.gpu.energy_mj = 250000;
  b.gpu.nvml_active = true;
  b.gpu.cupti_active = true;
  b.gpu.bound_known = false; // no peak: its extra FLOPs are not sent
  b.gpu.bound_extra_flops = 12345;
  b.gpu.unattributed_ns = 6;
  c.gpu.bound_known = true; // absurdly large: clamped at 2^100 per rank
  c.gpu.bound_extra_flops = kU128Max;
  wire::Record ra, rb, rc;
  wire::pack(a, RankFlags{}, ra);
  wire::pack(b, RankFlags{}, rb);
  wire::pack(c, RankFlags{}, rc);
  wire::combine(rb, ra);
  wire::combine(rc, ra);
  JobPeriod job;
  JobFlags flags;
  wire::unpack(ra, job, flags);
  CHECK(job.gpu.energy_mj == static_cast<u128>(UINT64_MAX) + 250000);
  CHECK(job.gpu.counted_ns == 1000);
  CHECK(job.gpu.attention_ns == 20);
  CHECK(job.gpu.nccl_ns == 300);
  CHECK(job.gpu.unattributed_ns == 10);
  CHECK(job.gpu.bound_extra_flops == (static_cast<u128>(1) << 70) + (static_cast<u128>(1) << 100));
  CHECK(job.gpu.nvml_ranks == 2);
  CHECK(job.gpu.cupti_ranks == 2);
  CHECK(job.gpu.bound_ranks == 2);
  CHECK(job.ranks == 3);
}
