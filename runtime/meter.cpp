#include "meter.hpp"

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <signal.h>
#include <unistd.h>

#include "accounting/analytic.hpp"
#include "accounting/budget.hpp"
#include "accounting/device_peaks.hpp"
#include "accounting/exact.hpp"
#include "accounting/forecast.hpp"
#include "accounting/rules.hpp"
#include "counters.hpp"
#include "environment.hpp"
#include "gpu/gpu_meter.hpp"
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
  std::uint64_t cuts = 0; ///< step cuts in it (several once merged; 0 for a time harvest)
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
  // GPU figures are filled on the meter thread when a cut is reduced, never in a queued cut.
  into.oversized_calls += from.oversized_calls;
  into.cuts += from.cuts;
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
      : config_(config), transport_(transport), identity_(identity), rules_(&config_.rules),
        model_known_(config.model_declared), model_(config.model), model_json_(config.model_json),
        planned_steps_(config.planned_steps), planned_tokens_(config.planned_tokens) {}

  bool start();
  void step_cut();
  bool finish(int exit_status);
  bool state(flopledger_state &out);
  bool declare_model(const char *json);
  void set_plan(std::uint64_t steps, std::uint64_t tokens) {
    planned_steps_.store(steps);
    planned_tokens_.store(tokens);
  }
  bool should_stop();
  void note_step_set(std::uint64_t step);

private:
  void loop();
  bool round(const Cut &cut, const RankFlags &flags, Control &control);
  bool wait(MPI_Request &request, Clock::time_point deadline = Clock::time_point::max());
  void gather_host_totals();
  void decide(const wire::Record &reduced, Control &control);
  void record_round(const Control &control);
  void open_ledger();
  void add_event(const std::string &kind, const std::string &detail, std::uint64_t step = 0,
                 u128 flops = 0);
  void note(const std::string &kind, const std::string &detail, std::uint64_t step, u128 flops);
  void write_notes();
  void record_environment();
  void record_late_environment();
  void record_host_totals();
  void other_methods(const JobPeriod &period, double seconds);
  void choose_verdict_figure();
  void forecast_and_budget(Control &control);
  void record_decision_events();
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
  std::uint64_t cuts_queued_ = 0, cuts_reduced_ = 0; ///< this rank's step cuts, and rounds done
  bool rounds_over_ = false;
  std::condition_variable reduced_; ///< a round ended (the budget guard waits for one)
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
  std::string chain_head_;      ///< the ledger's chain head when the segment ended
  std::uint32_t segment_id_ = 0;
  std::uint64_t next_row_ = 0;
  std::uint64_t segment_rows_ = 0;
  u128 cumulative_counted_ = 0, cumulative_modification_ = 0;
  double period_start_ = unix_now();
  double last_print_ = 0;
  std::uint64_t printed_reductions_ = ~std::uint64_t{0};
  std::uint64_t reductions_ = 0;
  std::uint64_t last_step_ = 0;
  std::uint64_t ledger_last_step_ = 0; ///< step numbering at start; constant once started
  bool rank_left_ = false;
  std::int32_t left_status_ = 0;
  JobPeriod pending_period_;
  bool pending_has_data_ = false; ///< the pending period makes a row
  JobFlags pending_flags_;
  Verdict verdict_;
  bool loop_completed_ = false;

  // Every rank: its own counts over the job, for the per-host subtotals at the end.
  u128 rank_counted_ = 0, rank_modification_ = 0;
  // Rank 0: "nodeA=123 nodeB=45" (every phase; the phases the rule set counts), when every rank
  // ended the job together and the end-of-job gather succeeded; empty otherwise.
  std::string flops_per_host_, flops_per_host_toward_threshold_;
  bool gather_pending_ = false; ///< the gather gave up: the communicator cannot be freed

  std::mutex state_mutex_;
  flopledger_state state_{};
  bool have_state_ = false;

  // Rank 0, meter thread: the other methods, the forecast, the budget guard.
  u128 cumulative_analytic_ = 0, cumulative_aws_ = 0, cumulative_hf_ = 0;
  u128 cumulative_hardware_ = 0;
  bool period_analytic_ = false, period_hardware_ = false;
  u128 period_analytic_flops_ = 0, period_aws_flops_ = 0, period_hf_flops_ = 0;
  u128 period_hardware_flops_ = 0, period_sum_sq_ = 0;
  bool any_analytic_ = false, any_hardware_ = false;
  EnvironmentFacts start_libraries_;
  gpu::GpuStatus gpu_status_;
  u128 segment_energy_mj_ = 0; ///< this job's NVML energy over every rank (rank 0)
  std::uint32_t max_nvml_ranks_ = 0;
  io::Method verdict_method_ = io::Method::Counted;
  u128 verdict_flops_ = 0, previous_verdict_flops_ = 0;
  u128 replica_tokens_total_ = 0;
  Forecaster forecaster_;
  bool forecast_available_ = false, forecast_recorded_ = false;
  u128 forecast_flops_ = 0;
  u128 budget_flops_ = 0;
  std::uint64_t stop_step_limit_ = UINT64_MAX;
  bool stop_requested_ = false, stop_request_recorded_ = false;
  std::vector<unsigned> crossed_;

  // Shared with the training threads.
  std::mutex model_mutex_;
  bool model_known_;
  ModelSpec model_;
  std::string model_json_;
  bool model_event_pending_ = false;
  std::atomic<std::uint64_t> planned_steps_, planned_tokens_;
  std::mutex notes_mutex_;
  std::vector<io::Event> notes_; ///< events noted by training threads, written by the meter

  // Every rank: the budget guard's agreement.
  MPI_Comm stop_comm_ = MPI_COMM_NULL;
  std::mutex stop_mutex_;
  std::atomic<std::uint64_t> seen_stop_limit_{UINT64_MAX};
  std::atomic<bool> stopped_{false};
  std::atomic<bool> signal_raised_{false};
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
  if (transport_.use_mpi && PMPI_Comm_dup(transport_.comm, &stop_comm_) != MPI_SUCCESS) {
    log_line("cannot duplicate the communicator for the budget guard; metering is off");
    return false;
  }
  gpu_status_ = gpu::gpu_start(config_); // every rank: its own device
  if (transport_.rank == 0) open_ledger();
  // A job appending to a ledger continues its step numbering (flopledger_set_step overrides).
  std::uint64_t offset = sink_ ? sink_->last_row().period.step_last : 0;
  if (transport_.use_mpi) PMPI_Bcast(&offset, 1, MPI_UINT64_T, 0, transport_.comm);
  if (offset > 0 && step_number() == 0) set_step_number(offset);
  last_step_ = ledger_last_step_ = step_number();
  if (transport_.threaded) thread_ = std::thread([this] { loop(); });
  return true;
}

void Meter::open_ledger() {
  io::TraceHeader header;
  header.writer_version = FLOPLEDGER_VERSION;
  header.created_utc = utc_iso(unix_now());
  header.rule_set = config_.rules.name;
  header.original = config_.original;
  header.base_model = config_.base_model;
  header.config = describe(config_);
  header.rule_set_text = config_.rules.text;
  std::string error;
  sink_ = open_trace(config_.ledger, header, io::IntegrityKey{config_.hmac_key}, error);
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
  segment.hosts = identity_.hosts();
  segment.world_size = static_cast<std::uint32_t>(transport_.size);
  segment.start = unix_now();
  segment.first_row = next_row_;
  ledger_written_ = sink_->begin_segment(segment);
  if (!ledger_written_)
    log_line("ERROR: cannot record the job segment in %s: %s", config_.ledger.c_str(),
             sink_->error().c_str());
  add_event("segment_start", "world_size=" + std::to_string(transport_.size) +
                                 " launcher=" + identity_.launcher + " hosts=" + identity_.hosts());
  if (!identity_.ledger_unseen_by.empty())
    add_event("ledger_node_local",
              "hosts " + identity_.ledger_unseen_by +
                  " did not see the ledger's directory (node-local on rank 0's host " +
                  identity_.host_names[0] + "); the job went on with LEDGER_NODE_LOCAL=allow");
  // The running totals of the other methods continue from the ledger's last row.
  const io::StepRow last = sink_->last_row();
  cumulative_analytic_ = last.cumulative_analytic;
  cumulative_aws_ = last.cumulative_aws;
  cumulative_hf_ = last.cumulative_hf;
  cumulative_hardware_ = last.cumulative_hardware;
  any_analytic_ = last.analytic_available || cumulative_analytic_ > 0;
  any_hardware_ = last.hardware_available || cumulative_hardware_ > 0;
  verdict_flops_ = previous_verdict_flops_ =
      next_row_ > 0 ? last.verdict_flops : cumulative_modification_;
  replica_tokens_total_ = sink_->replica_tokens_total();
  record_environment();
  if (gpu_status_.nvml_failed) add_event("nvml_unavailable", gpu_status_.nvml);
  if (gpu_status_.cupti_backed_off) add_event("cupti_backed_off", gpu_status_.cupti);
}

void Meter::record_environment() {
  EnvironmentFacts facts = capture_environment(transport_, identity_);
  facts.emplace_back("hdf5_library", sink_->hdf5_version());
  std::string config;
  for (const auto &[key, value] : describe(config_))
    config += (config.empty() ? "" : "\n") + key + "=" + value;
  facts.emplace_back("config", config);
  // Rank 0's view of the GPU sources (every rank's count is in each row: nvml_ranks, ...).
  facts.emplace_back("gpu_nvml", gpu_status_.nvml);
  facts.emplace_back("gpu_cupti", gpu_status_.cupti);
  if (!gpu_status_.device_name.empty()) {
    facts.emplace_back("gpu_device", gpu_status_.device_name);
    const DevicePeak *row = find_device_peak(gpu_status_.device_name);
    facts.emplace_back("gpu_peak_table",
                       row ? std::string(row->model) + " (" + std::string(row->source) + ")"
                           : std::string("not in the table: hardware figures "
                                         "need FLOPLEDGER_HARDWARE_PEAK_FLOPS"));
  }
  {
    std::lock_guard<std::mutex> lock(model_mutex_);
    if (model_known_) facts.emplace_back("model", model_json_);
  }
  for (const auto &[key, value] : facts) {
    if (key == "blas_library" || key == "cuda_runtime") start_libraries_.emplace_back(key, value);
    if (!sink_->add_environment({segment_id_, key, value})) {
      log_line("ERROR: cannot record the environment in the ledger: %s", sink_->error().c_str());
      return;
    }
  }
}

// Libraries loaded after the start (PyTorch loads its BLAS when the script imports it).
void Meter::record_late_environment() {
  if (!sink_) return;
  for (const auto &fact : capture_loaded_libraries()) {
    bool known = false;
    for (const auto &start : start_libraries_)
      known = known || start == fact;
    if (!known) sink_->add_environment({segment_id_, fact.first, fact.second + " (at job end)"});
  }
  // CUPTI starts at the first cuBLAS call when CUDA was not loaded at the job's start.
  const std::string cupti = gpu::gpu_cupti_status();
  if (cupti != gpu_status_.cupti)
    sink_->add_environment({segment_id_, "gpu_cupti", cupti + " (at job end)"});
}

// The per-host subtotals (docs/trace-format.md, flops_per_host); none when the job did not end
// with every rank, which the report then says.
void Meter::record_host_totals() {
  if (!sink_ || flops_per_host_.empty()) return;
  sink_->add_environment({segment_id_, "flops_per_host", flops_per_host_});
  sink_->add_environment(
      {segment_id_, "flops_per_host_toward_threshold", flops_per_host_toward_threshold_});
}

void Meter::note(const std::string &kind, const std::string &detail, std::uint64_t step,
                 u128 flops) {
  if (transport_.rank != 0) return;
  io::Event event;
  event.time = unix_now();
  event.kind = kind;
  event.detail = detail;
  event.step = step;
  event.flops = flops;
  std::lock_guard<std::mutex> lock(notes_mutex_);
  notes_.push_back(event);
}

void Meter::write_notes() {
  std::vector<io::Event> notes;
  {
    std::lock_guard<std::mutex> lock(notes_mutex_);
    notes.swap(notes_);
  }
  for (const io::Event &event : notes)
    add_event(event.kind, event.detail, event.step, event.flops);
}

void Meter::add_event(const std::string &kind, const std::string &detail, std::uint64_t step,
                      u128 flops) {
  if (!sink_) return;
  io::Event event;
  event.row = next_row_;
  event.time = unix_now();
  event.kind = kind;
  event.detail = detail;
  event.step = step;
  event.flops = flops;
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
    cut.cuts = 1;
    ++cuts_queued_;
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
    const bool ok = round(cut, flags, control);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cuts_reduced_ += cut.cuts;
      if (!ok || control.all_done || control.stop_reducing) rounds_over_ = true;
    }
    reduced_.notify_all();
    if (!ok) return; // gave up (exiting with an error) or MPI failed
    if (control.all_done || control.stop_reducing) {
      loop_completed_ = control.all_done != 0;
      // Every rank took part in this last round and none is leaving with an error: every rank
      // reaches this one more collective.
      if (control.all_done && !control.stop_reducing) gather_host_totals();
      return;
    }
  }
}

bool Meter::wait(MPI_Request &request, Clock::time_point deadline) {
  int done = 0;
  const timespec pause{0, 100 * 1000}; // 0.1 ms between polls: cheap for the cores that train
  for (;;) {
    if (PMPI_Test(&request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return false;
    if (done) return true;
    if (leaving_.load(std::memory_order_relaxed) &&
        Clock::now().time_since_epoch().count() > give_up_at_ns_.load())
      return false;
    if (Clock::now() > deadline) return false;
    nanosleep(&pause, nullptr);
  }
}

// After the last round, when every rank ended the job together: each rank's own counted FLOPs
// (every phase, and the phases the rule set counts) go to rank 0 as exact 128-bit integers,
// which sums them per host. Bounded by EXIT_TIMEOUT; a failure costs only the subtotals.
void Meter::gather_host_totals() {
  const std::uint64_t mine[4] = {lo_word(rank_counted_), hi_word(rank_counted_),
                                 lo_word(rank_modification_), hi_word(rank_modification_)};
  const std::size_t ranks = static_cast<std::size_t>(transport_.size);
  std::vector<std::uint64_t> all(transport_.rank == 0 ? 4 * ranks : 4);
  if (transport_.use_mpi) {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(config_.exit_timeout));
    MPI_Request request;
    if (PMPI_Igather(mine, 4, MPI_UINT64_T, all.data(), 4, MPI_UINT64_T, 0, transport_.comm,
                     &request) != MPI_SUCCESS) {
      if (transport_.rank == 0)
        log_line("the end-of-job gather of the per-host FLOPs failed; they are not recorded");
      return;
    }
    if (!wait(request, deadline)) {
      gather_pending_ = true;
      if (transport_.rank == 0)
        log_line("the end-of-job gather of the per-host FLOPs did not complete within "
                 "EXIT_TIMEOUT; they are not recorded");
      return;
    }
  } else {
    std::copy(mine, mine + 4, all.begin());
  }
  if (transport_.rank != 0) return;
  const std::vector<std::string> &hosts = identity_.host_names;
  if (hosts.empty() || identity_.host_of_rank.size() != ranks) return;
  std::vector<u128> counted(hosts.size(), 0), modification(hosts.size(), 0);
  for (std::size_t r = 0; r < ranks; ++r) {
    const std::uint32_t host = identity_.host_of_rank[r];
    counted[host] = saturating_add(counted[host], from_words(all[4 * r], all[4 * r + 1]));
    modification[host] =
        saturating_add(modification[host], from_words(all[4 * r + 2], all[4 * r + 3]));
  }
  for (std::size_t h = 0; h < hosts.size(); ++h) {
    const std::string separator = h == 0 ? "" : " ";
    flops_per_host_ += separator + hosts[h] + "=" + to_decimal(counted[h]);
    flops_per_host_toward_threshold_ += separator + hosts[h] + "=" + to_decimal(modification[h]);
  }
}

bool Meter::round(const Cut &cut, const RankFlags &flags, Control &control) {
  wire::Record mine, reduced;
  RankPeriod period = cut.period;
  gpu::gpu_fill(period); // this rank's energy and kernel times up to now
  rank_counted_ = saturating_add(rank_counted_, period.total_flops());
  rank_modification_ =
      saturating_add(rank_modification_, flops_in_phases(period, rules_->phase_counts));
  wire::pack(period, flags, mine);
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
  const u128 modification = flops_in_phases(pending_period_, rules_->phase_counts);
  cumulative_counted_ = saturating_add(cumulative_counted_, counted);
  cumulative_modification_ = saturating_add(cumulative_modification_, modification);
  ++reductions_;
  if (pending_period_.step_last > last_step_) last_step_ = pending_period_.step_last;

  // A period that makes no row (nothing counted) leaves its time to the next row's period, so
  // the hardware figure counts each second once, in the row that records it.
  // Energy or kernel time without counted FLOPs makes a row too: the job consumed it.
  const JobGpu &gpu = pending_period_.gpu;
  pending_has_data_ = pending_period_.total_flops() > 0 || pending_period_.tokens > 0 ||
                      (segment_rows_ == 0 && pending_period_.step_last > 0) || gpu.energy_mj > 0 ||
                      gpu.counted_ns > 0 || gpu.attention_ns > 0 || gpu.nccl_ns > 0 ||
                      gpu.unattributed_ns > 0;
  other_methods(pending_period_, pending_has_data_ ? unix_now() - period_start_ : -1);
  choose_verdict_figure();
  verdict_ = evaluate(verdict_flops_, config_.original, *rules_);
  forecast_and_budget(control);

  control.all_done = pending_flags_.ranks_done == static_cast<std::uint64_t>(transport_.size);
  control.stop_reducing = pending_flags_.ranks_leaving > 0;
  control.status = static_cast<std::uint64_t>(verdict_.status);
  control.reductions = reductions_;
  control.last_step = last_step_;
  control.modification_lo = lo_word(verdict_flops_);
  control.modification_hi = hi_word(verdict_flops_);
  control.counted_lo = lo_word(cumulative_counted_);
  control.counted_hi = hi_word(cumulative_counted_);
  control.threshold_lo = lo_word(verdict_.threshold_flops);
  control.threshold_hi = hi_word(verdict_.threshold_flops);
  control.fraction_of_threshold = verdict_.fraction_of_threshold;
}

// The analytic estimates from the declared model and the replica tokens, and the hardware bound
// from the period's wall time, when the device peak is configured.
void Meter::other_methods(const JobPeriod &period, double seconds) {
  ModelSpec model;
  bool known;
  {
    std::lock_guard<std::mutex> lock(model_mutex_);
    known = model_known_;
    model = model_;
  }
  replica_tokens_total_ = saturating_add(replica_tokens_total_, period.replica_tokens);
  period_analytic_ = known;
  period_analytic_flops_ = period_aws_flops_ = period_hf_flops_ = 0;
  // Sequences of the model's length where the program reported no lengths.
  period_sum_sq_ =
      saturating_add(period.sequence_sq, saturating_mul(period.unsequenced_tokens, model.seq_len));
  if (known) {
    any_analytic_ = true;
    period_analytic_flops_ =
        analytic_training_flops(model, period.replica_tokens, period_sum_sq_).flops;
    period_aws_flops_ = aws_ftfm_flops(model, period.replica_tokens);
    period_hf_flops_ = hf_flops(model, period.replica_tokens);
    cumulative_analytic_ = saturating_add(cumulative_analytic_, period_analytic_flops_);
    cumulative_aws_ = saturating_add(cumulative_aws_, period_aws_flops_);
    cumulative_hf_ = saturating_add(cumulative_hf_, period_hf_flops_);
  }
  period_hardware_ = false;
  period_hardware_flops_ = 0;
  // The peak: the configured one, else the device peak table for rank 0's GPU (every rank is
  // assumed to have the same device) and the highest peak among the precisions counted.
  u128 peak = config_.hardware_peak_flops;
  if (peak == 0 && !gpu_status_.device_name.empty()) {
    const ResolvedPeak table =
        peak_for_precisions(0, gpu_status_.device_name, precisions_in_use(period));
    if (table.origin == PeakOrigin::Table) peak = table.flops_per_second;
  }
  if (seconds >= 0 && peak > 0 && config_.hardware_utilization > 0) {
    const HardwareEstimate estimate =
        hardware_flops(period.ranks, seconds, peak, config_.hardware_utilization);
    if (estimate.applicable) {
      period_hardware_ = any_hardware_ = true;
      period_hardware_flops_ = estimate.flops;
      cumulative_hardware_ = saturating_add(cumulative_hardware_, estimate.flops);
    }
  }
}

// The figure the verdict is decided on: the rule set's policy over the available methods.
void Meter::choose_verdict_figure() {
  previous_verdict_flops_ = verdict_flops_;
  MethodFigures figures;
  figures.counted = cumulative_modification_;
  if (any_analytic_) figures.analytic = cumulative_analytic_;
  if (any_hardware_) figures.hardware = cumulative_hardware_;
  const ChosenFigure chosen = flopledger::choose_verdict_figure(*rules_, figures);
  verdict_flops_ = chosen.flops;
  verdict_method_ = io::method_of(chosen.method);
}

void Meter::forecast_and_budget(Control &control) {
  const double now = unix_now();
  forecaster_.observe(last_step_, replica_tokens_total_, verdict_flops_, now);
  const std::uint64_t planned_steps = planned_steps_.load();
  const std::uint64_t planned_tokens = planned_tokens_.load();
  std::optional<u128> projection;
  if (planned_steps > 0)
    projection = forecaster_.project_by_steps(planned_steps);
  else if (planned_tokens > 0)
    projection = forecaster_.project_by_tokens(planned_tokens);
  forecast_available_ = projection.has_value();
  forecast_flops_ = projection.value_or(0);

  crossed_ = newly_crossed(previous_verdict_flops_, verdict_flops_, verdict_.threshold_flops);

  if (config_.budget_text.empty()) return;
  budget_flops_ = budget_flops(config_.budget, verdict_.threshold_flops);
  const std::optional<u128> rate = forecaster_.max_rate_per_step();
  if (rate && last_step_ > 0)
    stop_step_limit_ = budget_step_limit(last_step_, verdict_flops_, budget_flops_, *rate);
  else if (verdict_flops_ >= budget_flops_)
    stop_step_limit_ = last_step_;
  // The stop request (and the optional signal): the next two periods at this period's pace
  // would cross the budget. Rounds lag the training loop by up to one period.
  const u128 period_figure = verdict_flops_ - previous_verdict_flops_;
  if (saturating_add(verdict_flops_, saturating_mul(period_figure, 2)) > budget_flops_ ||
      stop_step_limit_ <= last_step_)
    stop_requested_ = true;
  control.stop_requested = stop_requested_ ? 1 : 0;
  control.stop_step_limit = stop_step_limit_;
}

// Rank 0, after the broadcast: the events of the decision (threshold fractions, forecast, stop).
void Meter::record_decision_events() {
  const std::string threshold =
      to_sci2(verdict_.threshold_flops) + " FLOP (" + to_decimal(verdict_.threshold_flops) + ")";
  for (unsigned percent : crossed_) {
    const std::string kind =
        percent >= 100 ? "threshold_crossed" : "threshold_" + std::to_string(percent) + "pct";
    std::string detail =
        "modification compute " + to_sci2(verdict_flops_) + " FLOP (" +
        std::string(io::method_name(verdict_method_)) + ") " +
        (percent >= 100 ? "is greater than" : "reached " + std::to_string(percent) + "% of") +
        " the threshold " + threshold;
    if (percent >= 100)
      detail += "; status " + std::string(status_name(verdict_.status)) +
                (verdict_.notify_commission
                     ? "; notify the Commission by " +
                           notification_deadline_utc(unix_now(), rules_->notification_days)
                     : "");
    add_event(kind, detail, last_step_, verdict_flops_);
  }
  if (forecast_available_ && !forecast_recorded_ && forecast_flops_ > verdict_.threshold_flops &&
      verdict_flops_ <= verdict_.threshold_flops) {
    forecast_recorded_ = true;
    const Verdict projected = evaluate(forecast_flops_, config_.original, *rules_);
    const std::uint64_t planned = planned_steps_.load();
    add_event("forecast_crossing",
              "projected " + to_sci2(forecast_flops_) + " FLOP at the planned end (" +
                  (planned > 0 ? "step " + std::to_string(planned)
                               : std::to_string(planned_tokens_.load()) + " tokens") +
                  ") is greater than the threshold " + to_sci2(verdict_.threshold_flops) +
                  " FLOP: status will be " + std::string(status_name(projected.status)) +
                  "; notify by " +
                  notification_deadline_utc(unix_now(), rules_->notification_days) +
                  (projected.notify_commission ? " (Art. 52(1) applies)"
                                               : " (two weeks; Art. 52(1) if systemic risk)"),
              last_step_, forecast_flops_);
    log_line("FORECAST: the modification is projected to use %s FLOP, more than the threshold "
             "%s FLOP (recorded in the ledger)",
             to_sci2(forecast_flops_).c_str(), to_sci2(verdict_.threshold_flops).c_str());
  }
  if (stop_requested_ && !stop_request_recorded_) {
    stop_request_recorded_ = true;
    add_event("budget_stop_requested",
              "budget " + config_.budget_text + " = " + to_sci2(budget_flops_) + " FLOP (" +
                  to_decimal(budget_flops_) + "); last step the budget allows: " +
                  (stop_step_limit_ == UINT64_MAX ? std::string("unknown")
                                                  : std::to_string(stop_step_limit_)),
              stop_step_limit_ == UINT64_MAX ? 0 : stop_step_limit_, budget_flops_);
    log_line("BUDGET: the modification compute is about to pass the budget %s FLOP; asking every "
             "rank to stop (flopledger_should_stop%s)",
             to_sci2(budget_flops_).c_str(), config_.stop_signal != 0 ? ", and a signal" : "");
  }
}

// Rank 0, after the broadcast: the row, events and the live line.
void Meter::record_round(const Control &control) {
  const double now = unix_now();
  const JobPeriod &period = pending_period_;
  const bool has_data = pending_has_data_;
  write_notes();
  {
    std::lock_guard<std::mutex> lock(model_mutex_);
    if (model_event_pending_) {
      model_event_pending_ = false;
      add_event("model_declared", model_.name.empty() ? "a model" : model_.name, last_step_, 0);
      if (sink_) sink_->add_environment({segment_id_, "model", model_json_});
    }
  }
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
    row.replica_tokens = period.replica_tokens;
    row.attention_sq = period_sum_sq_;
    row.analytic_available = period_analytic_;
    row.analytic_flops = period_analytic_flops_;
    row.aws_flops = period_aws_flops_;
    row.hf_flops = period_hf_flops_;
    row.cumulative_analytic = cumulative_analytic_;
    row.cumulative_aws = cumulative_aws_;
    row.cumulative_hf = cumulative_hf_;
    row.hardware_available = period_hardware_;
    row.hardware_flops = period_hardware_flops_;
    row.cumulative_hardware = cumulative_hardware_;
    row.verdict_method = verdict_method_;
    row.verdict_flops = verdict_flops_;
    row.threshold_flops = verdict_.threshold_flops;
    row.forecast_available = forecast_available_;
    row.forecast_flops = forecast_flops_;
    row.upper_bound_available = period.ranks > 0 && period.gpu.cupti_ranks == period.ranks &&
                                period.gpu.bound_ranks == period.ranks;
    row.upper_bound_flops = row.upper_bound_available
                                ? saturating_add(period.total_flops(), period.gpu.bound_extra_flops)
                                : 0;
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
  segment_energy_mj_ = saturating_add(segment_energy_mj_, period.gpu.energy_mj);
  max_nvml_ranks_ = std::max(max_nvml_ranks_, period.gpu.nvml_ranks);
  record_decision_events();
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
  seen_stop_limit_.store(control.stop_step_limit);
  if (control.stop_requested && config_.stop_signal != 0 && !signal_raised_.exchange(true))
    ::kill(::getpid(), config_.stop_signal); // unmodified programs checkpoint on it and exit
}

// Collective over the job: every rank contributes the last step the budget allows, as it last
// heard it from rank 0, and its own step; all get the same MIN and MAX, hence the same answer.
bool Meter::should_stop() {
  if (stopped_.load()) return true;
  if (config_.budget_text.empty()) return false;
  std::lock_guard<std::mutex> lock(stop_mutex_);
  // Decide on the counts of every step before this one: wait for the rounds of all but the
  // newest step cut. Without this a fast loop would outrun the reductions and the stop would
  // come late; with it the step at which every rank stops does not depend on timing. A round
  // takes well under a millisecond; the wait is bounded so that metering never hangs training.
  if (transport_.threaded) {
    std::unique_lock<std::mutex> queue(mutex_);
    const bool caught_up = reduced_.wait_for(queue, std::chrono::seconds(60), [this] {
      return rounds_over_ || cuts_reduced_ + 1 >= cuts_queued_;
    });
    if (!caught_up && transport_.rank == 0)
      log_line("BUDGET: the reductions lag more than 60 s behind the steps; deciding on what "
               "was reduced so far");
  }
  std::uint64_t values[2] = {seen_stop_limit_.load(), UINT64_MAX - step_number()};
  if (transport_.use_mpi &&
      PMPI_Allreduce(MPI_IN_PLACE, values, 2, MPI_UINT64_T, MPI_MIN, stop_comm_) != MPI_SUCCESS)
    return false; // never stop a job because the guard's own communication failed
  const std::uint64_t limit = values[0], step = UINT64_MAX - values[1];
  if (step < limit) return false;
  stopped_.store(true);
  note("budget_stop",
       "every rank stops after step " + std::to_string(step) + ": the budget allows steps up to " +
           std::to_string(limit),
       step, 0);
  if (transport_.rank == 0)
    log_line("BUDGET: every rank stops after step %llu (flopledger_should_stop returned 1)",
             static_cast<unsigned long long>(step));
  return true;
}

bool Meter::declare_model(const char *json) {
  ModelSpec model;
  std::string error;
  if (!parse_model_json(json, "flopledger_declare_model", model, error) ||
      !validate_model(model, error)) {
    log_line("ERROR: flopledger_declare_model: %s; the analytic estimate is not available",
             error.c_str());
    return false;
  }
  std::lock_guard<std::mutex> lock(model_mutex_);
  model_known_ = true;
  model_ = model;
  model_json_ = json;
  model_event_pending_ = true;
  return true;
}

void Meter::note_step_set(std::uint64_t step) {
  const std::uint64_t ledger_step = ledger_last_step_;
  if (step < ledger_step)
    note("steps_repeated",
         "the program resumed at step " + std::to_string(step) +
             " (a checkpoint) while the "
             "ledger had recorded up to step " +
             std::to_string(ledger_step) +
             ": steps after the checkpoint are run (and counted) again",
         step, 0);
  else
    note("step_set", "the program set its step number to " + std::to_string(step), step, 0);
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
  // 128 + SIGTERM: this rank's SIGTERM flush, or a rank the signal ended. Schedulers send it to
  // cancel, at the time limit and to pre-empt; which of them, only the scheduler knows (the SLURM
  // epilog stamps it afterwards: flopledger stamp).
  const bool terminated = status == 128 + SIGTERM;
  std::uint8_t state = FLOPLEDGER_SEGMENT_CLEAN;
  if (terminated)
    state = FLOPLEDGER_SEGMENT_TERMINATED;
  else if (error)
    state = FLOPLEDGER_SEGMENT_ERROR;
  add_event("segment_end", terminated ? "terminated by SIGTERM (cancelled, time limit or "
                                        "pre-empted), exit status " +
                                            std::to_string(status)
                           : error ? "ended with an error, exit status " + std::to_string(status)
                                   : std::string("every rank finished normally"));
  if (!sink_->end_segment(unix_now(), state, status))
    log_line("ERROR: cannot close the job segment in %s: %s", config_.ledger.c_str(),
             sink_->error().c_str());
  chain_head_ = sink_->chain_head();
  sink_.reset();
}

void Meter::print_summary() {
  log_line("%s: %s", std::string(status_name(verdict_.status)).c_str(), verdict_.reasoning.c_str());
  log_line("compute toward the threshold: %s FLOP (%s exact, method %s), %.3g%% of the threshold "
           "%s FLOP (rule set %s, rule %s)",
           to_sci2(verdict_flops_).c_str(), to_decimal(verdict_flops_).c_str(),
           std::string(io::method_name(verdict_method_)).c_str(),
           verdict_.fraction_of_threshold * 100.0, to_sci2(verdict_.threshold_flops).c_str(),
           config_.rule_set.c_str(), verdict_.rule.c_str());
  log_line("methods: counted %s FLOP toward the threshold (%s every phase); analytic %s; "
           "hardware %s",
           to_sci2(cumulative_modification_).c_str(), to_sci2(cumulative_counted_).c_str(),
           any_analytic_ ? (to_sci2(cumulative_analytic_) + " FLOP (AWS formula " +
                            to_sci2(cumulative_aws_) + ", 6ND " + to_sci2(cumulative_hf_) + ")")
                               .c_str()
                         : "not available (no model declared)",
           any_hardware_ ? (to_sci2(cumulative_hardware_) + " FLOP").c_str()
                         : "not applicable (no device peak known)");
  if (max_nvml_ranks_ > 0)
    log_line("GPU energy (NVML, %u rank(s) sampling): %s mJ", max_nvml_ranks_,
             to_decimal(segment_energy_mj_).c_str());
  if (ledger_written_) {
    log_line("ledger: %s  (read it with: flopledger report %s)", config_.ledger.c_str(),
             config_.ledger.c_str());
    // Anchor this outside the ledger (job log, ticket): docs/integrity.md.
    if (!chain_head_.empty())
      log_line("ledger chain head (%s): %s", config_.hmac_key.empty() ? "sha256" : "hmac-sha256",
               chain_head_.c_str());
  } else
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
    loop();        // no MPI_THREAD_MULTIPLE: every queued round runs now, on this thread
  gpu::gpu_stop(); // after the last round, which read the last energy and kernel times
  if (transport_.rank == 0) {
    if (!config_.quiet) {
      Control last;
      last.last_step = last_step_;
      print_live(last, true);
    }
    write_notes();
    record_late_environment();
    record_host_totals();
    end_segment(exit_status);
    print_summary();
  }
  if (transport_.use_mpi && (loop_completed_ || exit_status == 0) && !gather_pending_) {
    PMPI_Op_free(&record_op_);
    PMPI_Type_free(&record_type_);
    PMPI_Comm_free(&transport_.comm);
    if (stop_comm_ != MPI_COMM_NULL) PMPI_Comm_free(&stop_comm_);
  }
  return loop_completed_;
}

Meter *g_meter = nullptr; // never deleted: it must outlive every exit path of the process
std::atomic<bool> g_running{false};

} // namespace

std::string JobIdentity::hosts() const {
  std::string joined;
  for (const std::string &host : host_names)
    joined += (joined.empty() ? "" : ",") + host;
  return joined;
}

std::string JobIdentity::rank_placement() const {
  std::string placement;
  for (std::size_t h = 0; h < host_names.size(); ++h) {
    // The host's ranks, in increasing order, as ranges of consecutive ranks: "0-1,4".
    std::string ranges;
    for (std::size_t r = 0; r < host_of_rank.size(); ++r) {
      if (host_of_rank[r] != h) continue;
      std::size_t last = r;
      while (last + 1 < host_of_rank.size() && host_of_rank[last + 1] == h)
        ++last;
      ranges += (ranges.empty() ? "" : ",") + std::to_string(r);
      if (last > r) ranges += "-" + std::to_string(last);
      r = last;
    }
    placement += (placement.empty() ? "" : " ") + host_names[h] + ":" + ranges;
  }
  return placement;
}

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

bool meter_declare_model(const char *json) {
  return g_meter != nullptr && g_meter->declare_model(json);
}

void meter_set_plan(std::uint64_t planned_steps, std::uint64_t planned_tokens) {
  if (g_meter != nullptr) g_meter->set_plan(planned_steps, planned_tokens);
}

bool meter_should_stop() {
  return g_meter != nullptr && g_running.load() && g_meter->should_stop();
}

void meter_note_step_set(std::uint64_t step) {
  if (g_meter != nullptr) g_meter->note_step_set(step);
}

bool meter_state(flopledger_state &out) {
  if (g_meter == nullptr) {
    out = flopledger_state{};
    return false;
  }
  return g_meter->state(out);
}

} // namespace flopledger::runtime
