// flopledger stamp: marks how a job ended whose last segment it did not close itself (killed by
// SIGKILL after its scheduler's grace period, or terminated by SIGTERM without knowing why). Run
// by the SLURM epilog (launchers/slurm/flopledger-epilog.sh) with the scheduler's job state. Only
// the ledger's last segment can be stamped, and only when it belongs to the named job: its row is
// rewritten and re-hashed as the writer does at a segment's end, so the chain still verifies.
// Exit 0: stamped, or nothing to stamp (the job closed its segment); 1: the ledger cannot be
// stamped (another job's segment is last, unreadable file, wrong key); 2: bad usage.
#include <time.h>

#include <iostream>
#include <map>

#include "commands.hpp"
#include "io/trace.hpp"
#include "isolate.hpp"
#include "options.hpp"

namespace po = boost::program_options;

namespace flopledger::cli {

namespace {

double unix_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Reads the ledger, then stamps its last segment; runs in a child process (a damaged file can
// crash HDF5 1.10).
int stamp(const std::string &path, const std::string &job_id, std::uint8_t state,
          const std::string &state_name, const std::string &scheduler_state,
          const io::IntegrityKey &key) {
  io::TraceContents trace;
  std::string error;
  if (!io::read_trace(path, false, trace, error)) {
    print_error("cannot stamp '" + path + "': " + error);
    return kExitFailure;
  }
  auto writer = io::TraceWriter::open(path, trace.header, error, key);
  if (!writer) {
    print_error("cannot stamp '" + path + "': " + error);
    return kExitFailure;
  }
  bool already = false;
  // 128 + SIGKILL: how a process ends when its scheduler kills it after the grace period.
  if (!writer->stamp_last_segment(job_id, unix_now(), state, 128 + 9, already)) {
    if (already) {
      std::cout << "flopledger stamp: " << path << ": job " << job_id
                << " closed its segment itself; nothing to stamp\n";
      return 0;
    }
    print_error("cannot stamp '" + path + "': " + writer->error());
    return kExitFailure;
  }
  io::Event event;
  event.row = writer->next_row();
  event.time = unix_now();
  event.kind = "segment_stamped";
  event.detail = "job " + job_id + " ended " + state_name +
                 (scheduler_state.empty() ? "" : " (scheduler job state " + scheduler_state + ")") +
                 "; stamped after the job by flopledger stamp";
  if (!writer->add_event(event) || !writer->close()) {
    print_error("stamped '" + path + "', but recording the stamp event failed: " + writer->error());
    return kExitFailure;
  }
  std::cout << "flopledger stamp: " << path << ": the segment of job " << job_id << " is marked "
            << state_name << "\n";
  return 0;
}

} // namespace

int stamp_command(const Args &args) {
  const char *usage =
      "usage: flopledger stamp FILE --job-id ID --state cancelled|timeout|killed\n"
      "                        [--scheduler-state TEXT] [--hmac-key-file KEY]\n"
      "Marks how job ID ended when it could not close its segment of the ledger itself (the\n"
      "SLURM epilog runs this). Only the ledger's last segment, and only if it is job ID's and\n"
      "still open (or closed by the SIGTERM flush without knowing why). Exit 0 when stamped or\n"
      "when the job had closed its segment, 1 when the ledger cannot be stamped.\n";
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "job-id", po::value<std::string>()->value_name("ID"),
      "the job whose segment to stamp")("state", po::value<std::string>()->value_name("STATE"),
                                        "how it ended: cancelled, timeout or killed")(
      "scheduler-state", po::value<std::string>()->value_name("TEXT")->default_value(""),
      "the scheduler's own word for it (e.g. SLURM's CANCELLED), kept in the stamp event")(
      "hmac-key-file", po::value<std::string>()->value_name("KEY"),
      "the key of an hmac-sha256 ledger (the file's bytes)");
  po::variables_map values;
  if (const int status = parse_subcommand(args, options, "file", usage, values); status >= 0)
    return status;
  const std::optional<std::string> file = one_ledger_file(values, usage);
  if (!file) return kExitUsage;
  const std::string path = *file;
  if (!values.count("job-id") || values["job-id"].as<std::string>().empty()) {
    print_error("--job-id: expected the id of the job whose segment to stamp");
    return kExitUsage;
  }
  const std::string job_id = values["job-id"].as<std::string>();
  static const std::map<std::string, std::uint8_t> kStates = {
      {"cancelled", FLOPLEDGER_SEGMENT_CANCELLED},
      {"timeout", FLOPLEDGER_SEGMENT_TIMEOUT},
      {"killed", FLOPLEDGER_SEGMENT_KILLED}};
  const std::string state = values.count("state") ? values["state"].as<std::string>() : "";
  const auto found = kStates.find(state);
  if (found == kStates.end()) {
    print_error("--state '" + state + "': expected cancelled, timeout or killed");
    return kExitUsage;
  }
  const std::string scheduler_state = values["scheduler-state"].as<std::string>();
  if (scheduler_state.size() > 64) {
    print_error("--scheduler-state: expected at most 64 characters, got " +
                std::to_string(scheduler_state.size()));
    return kExitUsage;
  }
  io::IntegrityKey key;
  if (!hmac_key_option(values, key)) return kExitUsage;
  return run_isolated(
      [&] { return stamp(path, job_id, found->second, state, scheduler_state, key); },
      {absolute_path(path)}, "stamp");
}

} // namespace flopledger::cli
