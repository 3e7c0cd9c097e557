#include "meter.hpp"

#include <time.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "accounting/exact.hpp"
#include "accounting/rules.hpp"
#include "counters.hpp"
#include "log.hpp"
#include "trace_sink.hpp"
#include "wire.hpp"

namespace flopledger::runtime {

namespace {

using Clock = std::chrono::steady_clock;

double unix_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string utc_iso(double unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  tm parts{};
  gmtime_r(&t, &parts);
  char text[32];
  strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

// One step cut (or time cut) waiting for its round.
struct Cut {
  RankPeriod period;
  std::uint64_t oversized_calls = 0;
};

// Beyond this many queued cuts (the rounds lag far behind the steps), new cuts merge into the
// newest one: rows then span several steps, totals stay exact.
constexpr std::size_t kMaxQueuedCuts = 1024;

void merge(Cut &into, const Cut &from) {
  std::uint64_t *to_cells = &into.period.flops[0][0][0];
  const std::uint64_t *from_cells = &from.period.flops[0][0][0];
  for (std::size_t i = 0; i < wire::kCells; ++i)
    to_cells[i] += from_cells[i];
  for (std::size_t s = 0; s < kSources; ++s)
    into.period.calls[s] += from.period.calls[s];
  into.period.tokens += from.period.tokens;
  into.period.steps += from.period.steps;
  into.period.last_step = from.period.last_step;
  into.oversized_calls += from.oversized_calls;
}

void combine_records(void *in, void *inout, int *count, MPI_Datatype *) {
  auto *a = static_cast<const wire::Record *>(in);
  auto *b = static_cast<wire::Record *>(inout);
  for (int i = 0; i < *count; ++i)
    wire::combine(a[i], b[i]);
}

class Meter {
public:
  Meter(const Config &config, const Transport &transport, const JobIdentity &identity)
      : config_(config), transport_(transport), identity_(identity),
        rules_(find_rule_set(config.rule_set)) {}

  bool start();
  void step_cut();
  bool finish(int exit_status);
  bool state(flopledger_state &out);

private:
  void loop();
  bool round(const Cut &cut, const RankFlags &flags, Control &control);
  bool wait(MPI_Request &request);
  void decide(const wire::Record &reduced, Control &control);
  void record_round(const Control &control);
  void open_ledger();
  void add_event(const std::string &kind, const std::string &detail);
  void end_segment(int exit_status);
  void print_live(const Control &control, bool force);
  void print_summary();
  void publish(const Control &control);

  Config config_;
  Transport transport_;
  JobIdentity identity_;
  const RuleSet *rules_;

  MPI_Datatype record_type_ = MPI_DATATYPE_NULL;
  MPI_Op record_op_ = MPI_OP_NULL;

  // Queue shared with the training threads.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Cut> cuts_;
  bool finish_requested_ = false;
  std::atomic<bool> leaving_{false};
  std::int32_t exit_status_ = 0;
  std::atomic<std::int64_t> give_up_at_ns_{0};
  Clock::time_point last_round_{Clock::now()};
  std::thread thread_;

  // Rank 0 only, touched by the meter thread (or by finish() after the thread ended).
  std::unique_ptr<TraceSink> sink_;
  bool sink_failed_reported_ = false;
  bool ledger_written_ = false; ///< the ledger was opened and its segment begun
  std::uint32_t segment_id_ = 0;
  std::uint64_t next_row_ = 0;
  std::uint64_t segment_rows_ = 0;
  u128 cumulative_counted_ = 0, cumulative_modification_ = 0;
  double period_start_ = unix_now();
  double last_print_ = 0;
  std::uint64_t printed_reductions_ = ~std::uint64_t{0};
  std::uint64_t reductions_ = 0;
  std::uint64_t last_step_ = 0;
  bool rank_left_ = false;
  std::int32_t left_status_ = 0;
  JobPeriod pending_period_;
  JobFlags pending_flags_;
  Verdict verdict_;
  bool loop_completed_ = false;

  std::mutex state_mutex_;
  flopledger_state state_{};
  bool have_state_ = false;
};

bool Meter::start() {
  if (rules_ == nullptr) return false; // load_config already rejected unknown rule sets
  if (transport_.use_mpi) {
    if (PMPI_Type_contiguous(static_cast<int>(wire::kWords), MPI_UINT64_T, &record_type_) !=
            MPI_SUCCESS ||
        PMPI_Type_commit(&record_type_) != MPI_SUCCESS ||
        PMPI_Op_create(&combine_records, 1, &record_op_) != MPI_SUCCESS) {
      log_line("cannot create the reduction datatype; metering is off for this job");
      return false;
    }
  }
  if (transport_.rank == 0) open_ledger();
  if (transport_.threaded) thread_ = std::thread([this] { loop(); });
  return true;
}

void Meter::open_ledger() {
  io::TraceHeader header;
  header.writer_version = FLOPLEDGER_VERSION;
  header.created_utc = utc_iso(unix_now());
  header.rule_set = config_.rule_set;
  header.original = config_.original;
  header.base_model = config_.base_model;
  header.config = describe(config_);
  std::string error;
  sink_ = open_trace(config_.ledger, header, error);
  if (!sink_) {
    log_line("ERROR: cannot write the ledger %s: %s", config_.ledger.c_str(), error.c_str());
    log_line("ERROR: metering goes on and the verdict is printed, but this job's compute is NOT "
             "recorded in any ledger");
    return;
  }
  segment_id_ = sink_->next_segment_id();
  next_row_ = sink_->next_row();
  cumulative_counted_ = sink_->cumulative_counted();
  cumulative_modification_ = sink_->cumulative_modification();
  io::Segment segment;
  segment.id = segment_id_;
  segment.job_id = identity_.job_id;
  segment.launcher = identity_.launcher;
  segment.hosts = identity_.hosts;
  segment.world_size = static_cast<std::uint32_t>(transport_.size);
  segment.start = unix_now();
  segment.first_row = next_row_;
  ledger_written_ = sink_->begin_segment(segment);
  if (!ledger_written_)
    log_line("ERROR: cannot record the job segment in %s: %s", config_.ledger.c_str(),
             sink_->error().c_str());
  add_event("segment_start", "world_size=" + std::to_string(transport_.size) +
                                 " launcher=" + identity_.launcher + " hosts=" + identity_.hosts);
}

void Meter::add_event(const std::string &kind, const std::string &detail) {
  if (!sink_) return;
  io::Event event;
  event.row = next_row_;
  event.time = unix_now();
  event.kind = kind;
  event.detail = detail;
  if (!sink_->add_event(event))
    log_line("ERROR: cannot record event %s in the ledger: %s", kind.c_str(),
             sink_->error().c_str());
}

void Meter::step_cut() {
  Cut cut;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Harvest under the queue lock so that cuts and time harvests keep their order.
    harvest(cut.period, cut.oversized_calls);
    if (cuts_.size() >= kMaxQueuedCuts)
      merge(cuts_.back(), cut);
    else
      cuts_.push_back(cut);
  }
  wake_.notify_one();
}

void Meter::loop() {
  const auto period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(config_.every_seconds));
  for (;;) {
    Cut cut;
    RankFlags flags;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!finish_requested_)
        wake_.wait_until(lock, last_round_ + period,
                         [this] { return !cuts_.empty() || finish_requested_; });
      if (!cuts_.empty()) {
        cut = cuts_.front();
        cuts_.pop_front();
      } else {
        harvest(cut.period, cut.oversized_calls);
        if (finish_requested_) {
          flags.done = true;
          flags.leaving = leaving_.load();
          flags.exit_status = exit_status_;
        }
      }
      last_round_ = Clock::now();
    }
    flags.oversized_calls = cut.oversized_calls;
    Control control;
    if (!round(cut, flags, control)) return; // gave up (exiting with an error) or MPI failed
    if (control.all_done || control.stop_reducing) {
      loop_completed_ = control.all_done != 0;
      return;
    }
  }
}

bool Meter::wait(MPI_Request &request) {
  int done = 0;
  const timespec pause{0, 100 * 1000}; // 0.1 ms between polls: cheap for the cores that train
  for (;;) {
    if (PMPI_Test(&request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return false;
    if (done) return true;
    if (leaving_.load(std::memory_order_relaxed) &&
        Clock::now().time_since_epoch().count() > give_up_at_ns_.load())
      return false;
    nanosleep(&pause, nullptr);
  }
}

bool Meter::round(const Cut &cut, const RankFlags &flags, Control &control) {
  wire::Record mine, reduced;
  wire::pack(cut.period, flags, mine);
  if (transport_.use_mpi) {
    MPI_Request request;
    if (PMPI_Ireduce(&mine, &reduced, 1, record_type_, record_op_, 0, transport_.comm, &request) !=
            MPI_SUCCESS ||
        !wait(request))
      return false;
  } else {
    reduced = mine;
  }
  if (transport_.rank == 0) decide(reduced, control);
  if (transport_.use_mpi) {
    MPI_Request request;
    if (PMPI_Ibcast(&control, static_cast<int>(kControlWords), MPI_UINT64_T, 0, transport_.comm,
                    &request) != MPI_SUCCESS ||
        !wait(request))
      return false;
  }
  publish(control);
  if (transport_.rank == 0) record_round(control);
  return true;
}

// Rank 0: the accounting for one reduced period. No I/O here: the other ranks wait for the
// broadcast that follows.
void Meter::decide(const wire::Record &reduced, Control &control) {
  wire::unpack(reduced, pending_period_, pending_flags_);
  const u128 counted = pending_period_.total_flops();
  u128 modification = 0;
  for (std::size_t phase = 0; phase < kPhases; ++phase)
    if (rules_->phase_counts[phase]) modification += pending_period_.flops_by_phase(phase);
  if (!checked_add(cumulative_counted_, counted, cumulative_counted_))
    cumulative_counted_ = kU128Max;
  if (!checked_add(cumulative_modification_, modification, cumulative_modification_))
    cumulative_modification_ = kU128Max;
  verdict_ = evaluate(cumulative_modification_, config_.original, *rules_);
  ++reductions_;
  if (pending_period_.step_last > last_step_) last_step_ = pending_period_.step_last;

  control.all_done = pending_flags_.ranks_done == static_cast<std::uint64_t>(transport_.size);
  control.stop_reducing = pending_flags_.ranks_leaving > 0;
  control.status = static_cast<std::uint64_t>(verdict_.status);
  control.reductions = reductions_;
  control.last_step = last_step_;
  control.modification_lo = lo_word(cumulative_modification_);
  control.modification_hi = hi_word(cumulative_modification_);
  control.counted_lo = lo_word(cumulative_counted_);
  control.counted_hi = hi_word(cumulative_counted_);
  control.threshold_lo = lo_word(verdict_.threshold_flops);
  control.threshold_hi = hi_word(verdict_.threshold_flops);
  control.fraction_of_threshold = verdict_.fraction_of_threshold;
}

// Rank 0, after the broadcast: the row, events and the live line.
void Meter::record_round(const Control &control) {
  const double now = unix_now();
  const JobPeriod &period = pending_period_;
  const bool has_data =
      period.total_flops() > 0 || period.tokens > 0 || (segment_rows_ == 0 && period.step_last > 0);
  if (pending_flags_.ranks_leaving > 0 && !rank_left_) {
    rank_left_ = true;
    left_status_ = static_cast<std::int32_t>(pending_flags_.max_exit_status);
    add_event("rank_exit_error",
              std::to_string(pending_flags_.ranks_leaving) +
                  " rank(s) exited with an error (highest status " +
                  std::to_string(pending_flags_.max_exit_status) +
                  "); reductions stopped, later compute of the other ranks is not recorded");
    log_line("a rank exited with status %llu; the ledger keeps what was reduced so far",
             static_cast<unsigned long long>(pending_flags_.max_exit_status));
  }
  if (pending_flags_.oversized_calls > 0)
    add_event("oversized_calls", to_decimal(pending_flags_.oversized_calls) +
                                     " call(s) above 2^63 FLOPs were clamped to 2^63 each");
  if (has_data && sink_) {
    io::StepRow row;
    row.row = next_row_;
    row.segment = segment_id_;
    row.t_start = period_start_;
    row.t_end = now;
    row.period = period;
    row.cumulative_counted = cumulative_counted_;
    row.cumulative_modification = cumulative_modification_;
    row.status = verdict_.status;
    row.fraction_of_threshold = verdict_.fraction_of_threshold;
    if (sink_->append(row)) {
      ++next_row_;
      ++segment_rows_;
    } else if (!sink_failed_reported_) {
      sink_failed_reported_ = true;
      log_line("ERROR: cannot append to the ledger %s: %s (metering goes on)",
               config_.ledger.c_str(), sink_->error().c_str());
    }
  }
  if (has_data) period_start_ = now;
  print_live(control, false);
}

void Meter::print_live(const Control &control, bool force) {
  if (config_.quiet) return;
  const double now = unix_now();
  if (!force && now - last_print_ < 1.0) return;           // at most one line a second
  if (force && printed_reductions_ == reductions_) return; // the last line is still current
  last_print_ = now;
  printed_reductions_ = reductions_;
  log_line("step %llu | counted %s FLOP | toward threshold %s FLOP = %.3g%% of %s | %s",
           static_cast<unsigned long long>(control.last_step), to_sci2(cumulative_counted_).c_str(),
           to_sci2(cumulative_modification_).c_str(), verdict_.fraction_of_threshold * 100.0,
           to_sci2(verdict_.threshold_flops).c_str(),
           std::string(status_name(verdict_.status)).c_str());
}

void Meter::publish(const Control &control) {
  std::lock_guard<std::mutex> lock(state_mutex_);
  state_.reductions = control.reductions;
  state_.last_step = control.last_step;
  state_.status = static_cast<flopledger_status_code>(control.status);
  state_.fraction_of_threshold = control.fraction_of_threshold;
  auto put = [](char *field, std::uint64_t lo, std::uint64_t hi) {
    std::string text = to_decimal(from_words(lo, hi));
    std::snprintf(field, sizeof(flopledger_state::counted_flops), "%s", text.c_str());
  };
  put(state_.modification_flops, control.modification_lo, control.modification_hi);
  put(state_.counted_flops, control.counted_lo, control.counted_hi);
  put(state_.threshold_flops, control.threshold_lo, control.threshold_hi);
  have_state_ = true;
}

bool Meter::state(flopledger_state &out) {
  std::lock_guard<std::mutex> lock(state_mutex_);
  out = state_;
  return have_state_;
}

void Meter::end_segment(int exit_status) {
  if (!sink_) return;
  const bool error = exit_status != 0 || rank_left_;
  const std::int32_t status = exit_status != 0 ? exit_status : left_status_;
  add_event("segment_end", error ? "ended with an error, exit status " + std::to_string(status)
                                 : std::string("every rank finished normally"));
  if (!sink_->end_segment(unix_now(), error ? FLOPLEDGER_SEGMENT_ERROR : FLOPLEDGER_SEGMENT_CLEAN,
                          status))
    log_line("ERROR: cannot close the job segment in %s: %s", config_.ledger.c_str(),
             sink_->error().c_str());
  sink_.reset();
}

void Meter::print_summary() {
  log_line("%s: %s", std::string(status_name(verdict_.status)).c_str(), verdict_.reasoning.c_str());
  log_line("compute toward the threshold: %s FLOP (%s exact), %.3g%% of the threshold %s FLOP "
           "(rule set %s, rule %s)",
           to_sci2(cumulative_modification_).c_str(), to_decimal(cumulative_modification_).c_str(),
           verdict_.fraction_of_threshold * 100.0, to_sci2(verdict_.threshold_flops).c_str(),
           config_.rule_set.c_str(), verdict_.rule.c_str());
  log_line("counted (hooked) FLOPs, every phase: %s (%s exact); method: counted",
           to_sci2(cumulative_counted_).c_str(), to_decimal(cumulative_counted_).c_str());
  if (ledger_written_)
    log_line("ledger: %s  (read it with: flopledger report %s)", config_.ledger.c_str(),
             config_.ledger.c_str());
  else
    log_line("ledger: NONE - %s could not be written (see the error above); this job's compute "
             "is not recorded",
             config_.ledger.c_str());
}

bool Meter::finish(int exit_status) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finish_requested_ = true;
    exit_status_ = exit_status;
    if (exit_status != 0) {
      const auto give_up = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(config_.exit_timeout));
      give_up_at_ns_.store(give_up.time_since_epoch().count());
      leaving_.store(true);
    }
  }
  wake_.notify_all();
  if (thread_.joinable())
    thread_.join(); // bounded: an erroring rank's waits give up at give_up_at_ns_
  else
    loop(); // no MPI_THREAD_MULTIPLE: every queued round runs now, on this thread
  if (transport_.rank == 0) {
    if (!config_.quiet) {
      Control last;
      last.last_step = last_step_;
      print_live(last, true);
    }
    end_segment(exit_status);
    print_summary();
  }
  if (transport_.use_mpi && (loop_completed_ || exit_status == 0)) {
    PMPI_Op_free(&record_op_);
    PMPI_Type_free(&record_type_);
    PMPI_Comm_free(&transport_.comm);
  }
  return loop_completed_;
}

Meter *g_meter = nullptr; // never deleted: it must outlive every exit path of the process
std::atomic<bool> g_running{false};

} // namespace

bool meter_start(const Config &config, const Transport &transport, const JobIdentity &identity) {
  auto *meter = new Meter(config, transport, identity);
  if (!meter->start()) {
    delete meter;
    return false;
  }
  g_meter = meter;
  g_running.store(true);
  return true;
}

bool meter_running() {
  return g_running.load();
}

void meter_step_cut() {
  if (g_running.load()) g_meter->step_cut();
}

bool meter_finish(int exit_status) {
  if (!g_running.exchange(false)) return false;
  return g_meter->finish(exit_status);
}

bool meter_state(flopledger_state &out) {
  if (g_meter == nullptr) {
    out = flopledger_state{};
    return false;
  }
  return g_meter->state(out);
}

} // namespace flopledger::runtime
