// trace_bench: what the HDF5 ledger costs rank 0, with the real writer (io::TraceWriter, one
// H5Fflush per appended row, as the runtime appends one row per period).
//
//   trace_bench --ledger PATH --rows N [--checkpoints A,B,...] [--snapshot-dir DIR]
//
// Creates PATH (it must not exist), opens one segment and appends N step rows of realistic
// content (bench_rows.hpp). At each checkpoint (a row count; default N) it prints one line
//
//   checkpoint rows=R window_rows=W window_s=S window_cpu_s=C file_bytes=F rss_kb=K hwm_kb=H
//              append_us_p50=.. append_us_p99=.. append_us_max=..
//
// where the window is the rows since the previous checkpoint, S its wall time (row building
// included, which is negligible), C the process's CPU time (user + system) in it, F the file's size
// on disk (st_size, after the flush), K and H VmRSS and VmHWM of /proc/self/status, and the append
// latencies come from a fixed log-scale histogram of the window's appends (quarter-octave buckets:
// p50 and p99 within 19 %), so that the measurement itself allocates nothing as rows grow.
// --snapshot-dir: after each checkpoint the ledger as flushed is copied to DIR/rows_R.h5 (its
// segment still running) for the reader benchmarks; the copy is outside every window. Then it
// closes the segment and the file and prints "closed file_bytes=F close_s=S". Exit status 0, or 1
// with a message on stderr.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <vector>

#include "bench_rows.hpp"
#include "flopledger/trace_format.h"
#include "io/trace.hpp"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "trace_bench: %s\n", message.c_str());
  std::exit(1);
}

/// VmRSS and VmHWM in kB, from /proc/self/status (0 when unreadable).
void memory_kb(long &rss, long &hwm) {
  rss = hwm = 0;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::strtol(line.c_str() + 6, nullptr, 10);
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::strtol(line.c_str() + 6, nullptr, 10);
  }
}

/// User plus system CPU seconds of this process.
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

long long file_bytes(const std::string &path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : -1;
}

/// Latencies in quarter-octave buckets of nanoseconds: bucket b holds [2^(b/4), 2^((b+1)/4)).
class Histogram {
public:
  void add(double ns) {
    const int b = ns < 1 ? 0 : std::min(kBuckets - 1, static_cast<int>(4 * std::log2(ns)));
    ++counts_[b];
    ++total_;
    max_ = std::max(max_, ns);
  }
  /// The geometric middle of the bucket holding quantile q (at most the maximum), in
  /// microseconds.
  double quantile_us(double q) const {
    const auto rank = static_cast<long long>(std::ceil(q * static_cast<double>(total_)));
    long long seen = 0;
    for (int b = 0; b < kBuckets; ++b) {
      seen += counts_[b];
      if (seen >= std::max(rank, 1LL)) return std::min(std::exp2((b + 0.5) / 4), max_) / 1000;
    }
    return max_ / 1000;
  }
  double max_us() const { return max_ / 1000; }
  void clear() { *this = Histogram{}; }

private:
  static constexpr int kBuckets = 4 * 40;
  long long counts_[kBuckets] = {};
  long long total_ = 0;
  double max_ = 0;
};

std::vector<unsigned long long> parse_counts(const std::string &text) {
  std::vector<unsigned long long> out;
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    char *end = nullptr;
    const unsigned long long value = std::strtoull(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || value == 0)
      die("--checkpoints: '" + item + "' is not a positive row count");
    out.push_back(value);
    at = comma + 1;
  }
  return out;
}

} // namespace

int main(int argc, char **argv) {
  std::string ledger, snapshot_dir;
  unsigned long long rows = 0;
  std::vector<unsigned long long> checkpoints;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc)
      die("missing value after " + arg + " (usage in tests/bench/trace_bench.cpp)");
    const std::string value = argv[++i];
    if (arg == "--ledger") {
      ledger = value;
    } else if (arg == "--rows") {
      char *end = nullptr;
      rows = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || rows == 0)
        die("--rows: '" + value + "' is not a positive count");
    } else if (arg == "--checkpoints") {
      checkpoints = parse_counts(value);
    } else if (arg == "--snapshot-dir") {
      snapshot_dir = value;
    } else {
      die("unknown argument '" + arg + "'");
    }
  }
  if (ledger.empty() || rows == 0) die("usage: trace_bench --ledger PATH --rows N [...]");
  checkpoints.push_back(rows);
  std::sort(checkpoints.begin(), checkpoints.end());
  checkpoints.erase(std::unique(checkpoints.begin(), checkpoints.end()), checkpoints.end());
  if (checkpoints.back() > rows) die("a checkpoint is beyond --rows");
  if (file_bytes(ledger) >= 0) die(ledger + " exists: give a new path");

  std::string error;
  auto writer = flopledger::io::TraceWriter::open(ledger, fl_bench::bench_header(), error);
  if (!writer) die(error);
  if (!writer->begin_segment(fl_bench::bench_segment(0, 8))) die(writer->error());
  long rss = 0, hwm = 0;
  memory_kb(rss, hwm);
  std::printf("start file_bytes=%lld rss_kb=%ld hwm_kb=%ld\n", file_bytes(ledger), rss, hwm);
  std::fflush(stdout);

  fl_bench::RowMaker maker(0);
  Histogram latency;
  std::size_t next_checkpoint = 0;
  unsigned long long window_first = 0;
  const auto run_start = Clock::now();
  auto window_start = run_start;
  double window_cpu = cpu_seconds();
  const double epoch = 1752825600.0;
  for (unsigned long long row = 0; row < rows; ++row) {
    const auto before = Clock::now();
    const flopledger::io::StepRow &step =
        maker.next(epoch + std::chrono::duration<double>(before - run_start).count());
    if (!writer->append(step)) die(writer->error());
    latency.add(std::chrono::duration<double, std::nano>(Clock::now() - before).count());
    if (row + 1 != checkpoints[next_checkpoint]) continue;
    const double window_s = std::chrono::duration<double>(Clock::now() - window_start).count();
    const double cpu_s = cpu_seconds() - window_cpu;
    memory_kb(rss, hwm);
    std::printf("checkpoint rows=%llu window_rows=%llu window_s=%.6f window_cpu_s=%.6f "
                "file_bytes=%lld rss_kb=%ld "
                "hwm_kb=%ld append_us_p50=%.2f append_us_p99=%.2f append_us_max=%.2f\n",
                row + 1, row + 1 - window_first, window_s, cpu_s, file_bytes(ledger), rss, hwm,
                latency.quantile_us(0.5), latency.quantile_us(0.99), latency.max_us());
    std::fflush(stdout);
    if (!snapshot_dir.empty() && row + 1 < rows) {
      const std::string copy = snapshot_dir + "/rows_" + std::to_string(row + 1) + ".h5";
      std::error_code failed;
      std::filesystem::copy_file(ledger, copy, std::filesystem::copy_options::overwrite_existing,
                                 failed);
      if (failed) die("copying " + ledger + " to " + copy + ": " + failed.message());
    }
    ++next_checkpoint;
    window_first = row + 1;
    latency.clear();
    window_start = Clock::now();
    window_cpu = cpu_seconds();
  }
  const auto close_start = Clock::now();
  if (!writer->end_segment(epoch + 1e6, FLOPLEDGER_SEGMENT_CLEAN, 0) || !writer->close())
    die(writer->error());
  std::printf("closed file_bytes=%lld close_s=%.6f\n", file_bytes(ledger),
              std::chrono::duration<double>(Clock::now() - close_start).count());
  return 0;
}
