// reduce_bench: the cost of one reduction round of the runtime, measured back to back on the
// runtime's own record, MPI datatype and reduction operation (runtime/wire.*), without training.
//
//   mpirun -np P reduce_bench --rounds R --reps K [--ledger PATH] [--gamma-iterations G]
//
// One round is what Meter::round does (runtime/meter.cpp): every rank packs its period into a
// wire::Record, MPI_Ireduce of one record (a contiguous datatype of wire::kWords uint64 words,
// the commutative user operation wire::combine) to rank 0, rank 0 unpacks it, then MPI_Ibcast of
// the Control block (kControlWords uint64 words) from rank 0. The completion of each request is
// awaited in one of three modes, run interleaved (wait, poll, poll_append, wait, poll, ...) K
// times with R rounds each after an untimed warm-up (R/4 rounds per mode, 2 to 20):
//   wait         MPI_Wait: the bare collective's latency
//   poll         as the runtime waits: MPI_Test, then 0.1 ms nanosleep between tests
//   poll_append  poll, and rank 0 then appends one step row to a real ledger (io::TraceWriter,
//                H5Fflush per row) as Meter::record_round does; only with --ledger PATH
// For each block, rank 0 prints (every time in microseconds per round)
//   block mode=M rep=k rank0_us=.. max_us=.. rank0_cpu_us=.. nonroot_cpu_us_median=..
//         nonroot_cpu_us_max=..
// rank0_us: rank 0's wall time per round; max_us: the slowest rank's; *_cpu_us: the thread's CPU
// time per round (getrusage RUSAGE_THREAD), i.e. what a round takes from a core on that rank.
// Before that, rank 0 measures gamma, the reduction operation applied by MPI to one record
// (MPI_Reduce_local with the runtime's datatype and operation), G calls per repetition:
//   gamma rep=k ns_per_record=..
// the real length of the runtime's 0.1 ms poll sleep ("poll sleep_us=.."), and the sizes it
// checked: "sizes record_bytes=.. type_size=.. control_bytes=..".
// After the blocks every rank checks that the last reduced record counts P ranks. Exit status
// 0; 1 (MPI_Abort) with a message on stderr when something does not hold or could not run.
#include <mpi.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench_rows.hpp"
#include "io/trace.hpp"
#include "wire.hpp"

namespace {

using namespace flopledger;
using namespace flopledger::runtime;
using Clock = std::chrono::steady_clock;

int g_rank = 0, g_size = 1;

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "reduce_bench (rank %d): %s\n", g_rank, message.c_str());
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::exit(1);
}

// The runtime's operation body (meter.cpp: combine_records).
void combine_records(void *in, void *inout, int *count, MPI_Datatype *) {
  auto *a = static_cast<const wire::Record *>(in);
  auto *b = static_cast<wire::Record *>(inout);
  for (int i = 0; i < *count; ++i)
    wire::combine(a[i], b[i]);
}

double thread_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

/// A rank's period as the hooks would leave it: a few cells, tokens, a step.
RankPeriod rank_period(std::uint64_t round) {
  RankPeriod p;
  p.flops[FLOPLEDGER_SOURCE_CUBLASLT][FLOPLEDGER_PRECISION_BF16][FLOPLEDGER_PHASE_TRAIN] =
      675000000000000ULL + static_cast<std::uint64_t>(g_rank);
  p.flops[FLOPLEDGER_SOURCE_CUBLASLT][FLOPLEDGER_PRECISION_BF16][FLOPLEDGER_PHASE_RECOMPUTE] =
      225000000000000ULL;
  p.flops[FLOPLEDGER_SOURCE_CUBLAS][FLOPLEDGER_PRECISION_FP32][FLOPLEDGER_PHASE_TRAIN] = 1 << 30;
  p.calls[FLOPLEDGER_SOURCE_CUBLASLT] = 1400;
  p.calls[FLOPLEDGER_SOURCE_CUBLAS] = 30;
  p.tokens = 4096;
  p.replica_tokens = 4096;
  p.steps = 1;
  p.last_step = round + 1;
  return p;
}

enum class Mode { Wait, Poll, PollAppend };
const char *mode_name(Mode mode) {
  return mode == Mode::Wait ? "wait" : mode == Mode::Poll ? "poll" : "poll_append";
}

class Rounds {
public:
  Rounds(MPI_Comm comm, MPI_Datatype type, MPI_Op op, flopledger::io::TraceWriter *writer)
      : comm_(comm), type_(type), op_(op), writer_(writer), rows_(0) {}

  void round(Mode mode) {
    RankFlags flags;
    wire::pack(rank_period(round_), flags, mine_);
    MPI_Request request;
    if (MPI_Ireduce(&mine_, &reduced_, 1, type_, op_, 0, comm_, &request) != MPI_SUCCESS)
      die("MPI_Ireduce failed");
    complete(request, mode);
    Control control;
    if (g_rank == 0) {
      wire::unpack(reduced_, period_, job_flags_);
      control.reductions = ++round_;
      control.last_step = period_.step_last;
    }
    if (MPI_Ibcast(&control, static_cast<int>(kControlWords), MPI_UINT64_T, 0, comm_, &request) !=
        MPI_SUCCESS)
      die("MPI_Ibcast failed");
    complete(request, mode);
    round_ = control.reductions;
    if (mode == Mode::PollAppend && writer_ != nullptr &&
        !writer_->append(rows_.next(1752825600.0 + static_cast<double>(round_))))
      die("append: " + writer_->error());
  }

  /// Rank 0: the ranks the last reduced record counted.
  std::uint32_t ranks_counted() const { return period_.ranks; }

private:
  static void complete(MPI_Request &request, Mode mode) {
    if (mode == Mode::Wait) {
      if (MPI_Wait(&request, MPI_STATUS_IGNORE) != MPI_SUCCESS) die("MPI_Wait failed");
      return;
    }
    const timespec pause{0, 100 * 1000}; // Meter::wait's poll interval
    for (;;) {
      int done = 0;
      if (MPI_Test(&request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) die("MPI_Test failed");
      if (done) return;
      nanosleep(&pause, nullptr);
    }
  }

  MPI_Comm comm_;
  MPI_Datatype type_;
  MPI_Op op_;
  flopledger::io::TraceWriter *writer_;
  fl_bench::RowMaker rows_;
  wire::Record mine_{}, reduced_{};
  JobPeriod period_;
  JobFlags job_flags_;
  std::uint64_t round_ = 0;
};

long positive(const char *option, const char *text) {
  char *end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || value <= 0)
    die(std::string(option) + ": '" + text + "' is not a positive integer");
  return value;
}

} // namespace

int main(int argc, char **argv) {
  int provided = 0;
  // As the runtime initialises MPI (lifecycle.cpp): the rounds run on a thread of their own.
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
    std::fprintf(stderr, "reduce_bench: MPI_Init_thread failed\n");
    return 1;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  long rounds = 200, reps = 5, gamma_iterations = 20000;
  std::string ledger;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) die("missing value after " + arg);
    const char *value = argv[++i];
    if (arg == "--rounds")
      rounds = positive("--rounds", value);
    else if (arg == "--reps")
      reps = positive("--reps", value);
    else if (arg == "--gamma-iterations")
      gamma_iterations = positive("--gamma-iterations", value);
    else if (arg == "--ledger")
      ledger = value;
    else
      die("unknown argument '" + arg + "'");
  }

  MPI_Comm comm;
  MPI_Datatype type;
  MPI_Op op;
  if (MPI_Comm_dup(MPI_COMM_WORLD, &comm) != MPI_SUCCESS ||
      MPI_Type_contiguous(static_cast<int>(wire::kWords), MPI_UINT64_T, &type) != MPI_SUCCESS ||
      MPI_Type_commit(&type) != MPI_SUCCESS ||
      MPI_Op_create(&combine_records, 1, &op) != MPI_SUCCESS)
    die("cannot create the communicator, datatype or operation");
  int type_size = 0;
  MPI_Type_size(type, &type_size);
  if (static_cast<std::size_t>(type_size) != sizeof(wire::Record) ||
      sizeof(wire::Record) != wire::kWords * sizeof(std::uint64_t))
    die("the record datatype's size " + std::to_string(type_size) + " is not sizeof(Record) " +
        std::to_string(sizeof(wire::Record)));
  if (g_rank == 0) {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    std::string first_line(version, static_cast<std::size_t>(length));
    first_line = first_line.substr(0, first_line.find_first_of("\n,"));
    std::printf("setup ranks=%d thread_level=%d mpi_library=\"%s\"\n", g_size, provided,
                first_line.c_str());
    std::printf("sizes record_bytes=%zu type_size=%d record_words=%zu control_bytes=%zu "
                "control_words=%zu\n",
                sizeof(wire::Record), type_size, wire::kWords, sizeof(Control), kControlWords);
  }

  // gamma: MPI applying the user operation to one record, on rank 0 (MPI_Reduce_local is the
  // same call path as an interior node of the reduction tree).
  if (g_rank == 0) {
    wire::Record in{}, inout{};
    wire::pack(rank_period(1), RankFlags{}, in);
    wire::pack(rank_period(2), RankFlags{}, inout);
    for (long rep = 0; rep <= reps; ++rep) { // rep 0: warm-up
      const auto start = Clock::now();
      for (long i = 0; i < gamma_iterations; ++i)
        if (MPI_Reduce_local(&in, &inout, 1, type, op) != MPI_SUCCESS)
          die("MPI_Reduce_local failed");
      const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
      if (rep > 0)
        std::printf("gamma rep=%ld ns_per_record=%.1f\n", rep,
                    ns / static_cast<double>(gamma_iterations));
    }
    // The real length of Meter::wait's poll interval (timer slack included).
    const timespec pause{0, 100 * 1000};
    const auto start = Clock::now();
    for (int i = 0; i < 200; ++i)
      nanosleep(&pause, nullptr);
    std::printf("poll sleep_us=%.1f\n",
                std::chrono::duration<double, std::micro>(Clock::now() - start).count() / 200);
    std::fflush(stdout);
  }

  std::unique_ptr<flopledger::io::TraceWriter> writer;
  std::vector<Mode> modes = {Mode::Wait, Mode::Poll};
  if (!ledger.empty()) {
    modes.push_back(Mode::PollAppend);
    if (g_rank == 0) {
      std::string error;
      writer = flopledger::io::TraceWriter::open(ledger, fl_bench::bench_header(), error);
      if (!writer) die(error);
      if (!writer->begin_segment(fl_bench::bench_segment(0, static_cast<std::uint32_t>(g_size))))
        die(writer->error());
    }
  }

  Rounds rounds_of(comm, type, op, writer.get());
  for (Mode mode : modes) // warm-up: connections, first-touch, the ledger's first chunks
    for (long r = 0; r < std::clamp(rounds / 4, 2L, 20L); ++r)
      rounds_of.round(mode);
  for (long rep = 1; rep <= reps; ++rep) {
    for (Mode mode : modes) {
      MPI_Barrier(comm);
      const double cpu_start = thread_cpu_seconds();
      const auto start = Clock::now();
      for (long r = 0; r < rounds; ++r)
        rounds_of.round(mode);
      const double wall = std::chrono::duration<double>(Clock::now() - start).count();
      const double mine[2] = {1e6 * wall / static_cast<double>(rounds),
                              1e6 * (thread_cpu_seconds() - cpu_start) /
                                  static_cast<double>(rounds)};
      std::vector<double> all(2 * static_cast<std::size_t>(g_size));
      MPI_Gather(mine, 2, MPI_DOUBLE, all.data(), 2, MPI_DOUBLE, 0, comm);
      if (g_rank != 0) continue;
      double max_us = 0;
      std::vector<double> nonroot_cpu;
      for (int r = 0; r < g_size; ++r) {
        max_us = std::max(max_us, all[2 * static_cast<std::size_t>(r)]);
        if (r > 0) nonroot_cpu.push_back(all[2 * static_cast<std::size_t>(r) + 1]);
      }
      std::sort(nonroot_cpu.begin(), nonroot_cpu.end());
      const double cpu_median = nonroot_cpu.empty() ? 0 : nonroot_cpu[nonroot_cpu.size() / 2];
      const double cpu_max = nonroot_cpu.empty() ? 0 : nonroot_cpu.back();
      std::printf("block mode=%s rep=%ld rank0_us=%.2f max_us=%.2f rank0_cpu_us=%.2f "
                  "nonroot_cpu_us_median=%.2f nonroot_cpu_us_max=%.2f\n",
                  mode_name(mode), rep, mine[0], max_us, mine[1], cpu_median, cpu_max);
      std::fflush(stdout);
    }
  }
  if (g_rank == 0 && rounds_of.ranks_counted() != static_cast<std::uint32_t>(g_size))
    die("the last reduced record counts " + std::to_string(rounds_of.ranks_counted()) +
        " ranks, expected " + std::to_string(g_size));
  if (writer && !writer->close()) die(writer->error());
  MPI_Op_free(&op);
  MPI_Type_free(&type);
  MPI_Comm_free(&comm);
  MPI_Finalize();
  return 0;
}
