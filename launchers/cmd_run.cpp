// flopledger run: validates the configuration, then starts CMD under mpirun (or, inside a SLURM
// allocation, srun --mpi=pmix) with the runtime preloaded into the ranks only (the launcher itself
// is not metered), and returns CMD's exit status.
// flopledger exec: preloads the runtime into one process and replaces itself with CMD — for
// launchers that start the ranks themselves (srun --mpi=pmix ... flopledger exec -- CMD).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>

#include "accounting/exact.hpp"
#include "commands.hpp"
#include "io/trace.hpp"
#include "isolate.hpp"
#include "options.hpp"

extern char **environ;

namespace po = boost::program_options;

namespace flopledger::cli {

namespace {

const char *const kRunUsage =
    "usage: flopledger run [options] -- CMD [ARGS...]\n"
    "Runs CMD as an MPI job (mpirun -np N; inside a SLURM allocation srun --mpi=pmix -n N) with\n"
    "the flopledger runtime preloaded into every rank,\n"
    "with no change to CMD. The ledger is written by rank 0; the exit status is CMD's.\n"
    "Every option also has an environment variable FLOPLEDGER_<KEY> (flags win).\n";

const char *const kExecUsage =
    "usage: flopledger exec [options] -- CMD [ARGS...]\n"
    "Preloads the flopledger runtime into CMD and executes it in place of this process: use it\n"
    "as the program of a launcher that starts the ranks itself, e.g.\n"
    "  srun --mpi=pmix -n 4 flopledger exec -- python train.py\n";

pid_t g_child = 0;

void forward_signal(int signal_number) {
  if (g_child > 0) kill(g_child, signal_number);
}

std::vector<char *> to_argv(std::vector<std::string> &words) {
  std::vector<char *> argv;
  for (std::string &word : words)
    argv.push_back(word.data());
  argv.push_back(nullptr);
  return argv;
}

// Sets the FLOPLEDGER_* variables the ranks need from the validated configuration, so that the
// ranks see exactly what was checked here.
void export_config(const Config &config,
                   const std::vector<std::pair<std::string, std::string>> &o) {
  for (const auto &[key, value] : o)
    setenv(("FLOPLEDGER_" + key).c_str(), value.c_str(), 1);
  setenv("FLOPLEDGER_LEDGER", absolute_path(config.ledger).c_str(), 1);
  unsetenv("FLOPLEDGER_INTERNAL_RANK_PID"); // a new job: its ranks own themselves
}

std::string preload_value(const std::string &library, const std::vector<std::string> &extra) {
  std::string value;
  for (const std::string &lib : extra)
    value += absolute_path(lib) + ":";
  value += library;
  return value;
}

std::string describe_original(const OriginalModel &original) {
  return (original.compute_known ? to_decimal(original.training_flops) : std::string("unknown")) +
         (original.systemic_risk ? " with systemic risk" : "");
}

// Checks before anything starts that rank 0 will be able to write the ledger: its directory
// exists and is writable, and an existing ledger belongs to the same modification (same rule set
// and original model), which the job would otherwise find out only on rank 0, and run unrecorded.
bool ledger_usable(const Config &config) {
  namespace fs = std::filesystem;
  const fs::path ledger = absolute_path(config.ledger);
  const fs::path directory = ledger.parent_path();
  std::error_code error;
  if (!fs::is_directory(directory, error)) {
    print_error("ledger '" + ledger.string() + "': the directory " + directory.string() +
                (error && error != std::errc::no_such_file_or_directory
                     ? " cannot be reached (" + error.message() + ")"
                     : std::string(" does not exist")));
    return false;
  }
  if (access(directory.c_str(), W_OK) != 0) {
    print_error("ledger '" + ledger.string() + "': the directory " + directory.string() +
                " is not writable");
    return false;
  }
  // The writer never follows a symbolic link at the ledger's path (docs/hostile-inputs.md).
  if (fs::is_symlink(ledger, error)) {
    print_error("ledger '" + ledger.string() +
                "' is a symbolic link; the ledger writer never follows one (name the real file)");
    return false;
  }
  // A missing or empty file is created by the writer.
  if (!fs::exists(ledger, error) ||
      (fs::is_regular_file(ledger, error) && fs::file_size(ledger, error) == 0))
    return true;
  io::TraceContents trace;
  std::string why;
  if (!io::read_trace(ledger.string(), true, trace, why)) {
    print_error("ledger '" + ledger.string() + "' exists but cannot be continued: " + why);
    return false;
  }
  const OriginalModel &had = trace.header.original;
  const bool same_original = had.compute_known == config.original.compute_known &&
                             had.training_flops == config.original.training_flops &&
                             had.systemic_risk == config.original.systemic_risk;
  if (trace.header.rule_set != config.rules.name || !same_original) {
    print_error("ledger '" + ledger.string() + "' records a modification under rule set " +
                trace.header.rule_set + " of an original model with training compute " +
                describe_original(had) + "; this job has rule set " + config.rules.name +
                " and original compute " + describe_original(config.original) +
                ". A ledger holds one modification of one base model: use another ledger, or "
                "the same settings.");
    return false;
  }
  if (trace.header.base_model != config.base_model) {
    print_error("ledger '" + ledger.string() + "' records a modification of base model '" +
                trace.header.base_model + "'; this job declares base model '" + config.base_model +
                "' (FLOPLEDGER_BASE_MODEL). A ledger holds one modification of one base model: "
                "use another ledger, or the same base model.");
    return false;
  }
  // A keyed ledger takes only its own key (docs/integrity.md); the writer checks it too.
  const io::IntegrityKey key{config.hmac_key};
  const std::string &mode = trace.header.chain_mode;
  std::string refused;
  if (mode == "hmac-sha256" && key.empty())
    refused = "has a keyed chain (hmac-sha256, key id " + trace.header.hmac_key_id +
              "): set FLOPLEDGER_HMAC_KEY_FILE to its key";
  else if (mode == "hmac-sha256" && key.id() != trace.header.hmac_key_id)
    refused = "is keyed with key id " + trace.header.hmac_key_id +
              " but FLOPLEDGER_HMAC_KEY_FILE holds key id " + key.id() + ": wrong key";
  else if (mode == "sha256" && !key.empty())
    refused = "has a plain sha256 chain; a job with FLOPLEDGER_HMAC_KEY_FILE cannot append to it";
  if (!refused.empty()) {
    print_error("ledger '" + ledger.string() + "' " + refused);
    return false;
  }
  return true;
}

// Validates the configuration (flags over environment over file) and the ledger, finds the
// runtime and exports what the ranks need. Returns the LD_PRELOAD value, or nullopt after
// printing why not.
std::optional<std::string> prepare_preload(const po::variables_map &values) {
  const auto overrides = config_overrides(values);
  const std::optional<Config> config = effective_config(overrides);
  if (!config) return std::nullopt;
  // Reading a damaged ledger can crash HDF5 1.10: the check runs in a child process.
  if (run_isolated([&] { return ledger_usable(*config) ? 0 : kExitUsage; },
                   {absolute_path(config->ledger)}, "run") != 0)
    return std::nullopt;
  const std::optional<std::string> library = runtime_library(values["library"].as<std::string>());
  if (!library) return std::nullopt;
  std::vector<std::string> extra;
  if (values.count("extra-preload")) extra = values["extra-preload"].as<std::vector<std::string>>();
  export_config(*config, overrides);
  return preload_value(*library, extra);
}

// The options `run` and `exec` share.
void add_launch_options(po::options_description &options) {
  options.add_options()("help,h", "show this help")(
      "library", po::value<std::string>()->default_value(""),
      "the runtime to preload (default: the one installed with this command)")(
      "extra-preload", po::value<std::vector<std::string>>(),
      "a library to preload in front of the runtime (repeatable; for tools and tests)");
  add_config_options(options);
}

struct LaunchOptions {
  po::variables_map values;
  std::vector<std::string> command;
};

// Parses "[options] -- CMD ..."; returns false after printing a message (or help) when the caller
// should exit with `exit_code`.
bool parse(const Args &args, po::options_description &options, const char *usage,
           LaunchOptions &out, int &exit_code) {
  auto [own, command] = split_command(args);
  try {
    po::store(po::command_line_parser(own).options(options).run(), out.values);
    po::notify(out.values);
  } catch (const po::error &error) {
    print_error(std::string(error.what()) + " (see --help)");
    exit_code = kExitUsage;
    return false;
  }
  if (out.values.count("help")) {
    std::cout << usage << '\n' << options;
    exit_code = 0;
    return false;
  }
  if (command.empty()) {
    print_error("no command to run: put it after '--', e.g. flopledger run -n 2 -- python "
                "train.py");
    exit_code = kExitUsage;
    return false;
  }
  out.command = command;
  return true;
}

} // namespace

int run_command(const Args &args) {
  po::options_description options("options");
  options.add_options()("np,n", po::value<int>()->default_value(1), "number of ranks")(
      "launcher", po::value<std::string>()->default_value("auto"),
      "auto (srun inside a SLURM allocation, else mpirun), mpirun or srun")(
      "srun", po::value<std::string>()->default_value("srun"),
      "the srun to use")("srun-mpi", po::value<std::string>()->default_value("pmix"),
                         "srun's --mpi= plugin (pmix: the one that works with Open MPI 4)")(
      "mpirun", po::value<std::string>()->default_value("mpirun"), "the mpirun to use")(
      "mpirun-arg", po::value<std::vector<std::string>>(),
      "an extra argument for mpirun (repeatable), e.g. --mpirun-arg=--bind-to=none");
  add_launch_options(options);
  LaunchOptions launch;
  int exit_code = 0;
  if (!parse(args, options, kRunUsage, launch, exit_code)) return exit_code;
  const int ranks = launch.values["np"].as<int>();
  if (ranks < 1 || ranks > 1000000) {
    print_error("-n '" + std::to_string(ranks) + "': expected a number of ranks from 1 to 1000000");
    return kExitUsage;
  }
  const std::string launcher = launch.values["launcher"].as<std::string>();
  if (launcher != "auto" && launcher != "mpirun" && launcher != "srun") {
    print_error("--launcher '" + launcher + "': expected auto, mpirun or srun");
    return kExitUsage;
  }
  const std::string srun_mpi = launch.values["srun-mpi"].as<std::string>();
  if (srun_mpi.empty() ||
      srun_mpi.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos) {
    print_error("--srun-mpi '" + srun_mpi + "': expected an srun MPI plugin name such as pmix");
    return kExitUsage;
  }
  // Inside an allocation (sbatch, salloc) srun starts the ranks on the allocated nodes.
  const bool use_srun =
      launcher == "srun" || (launcher == "auto" && std::getenv("SLURM_JOB_ID") != nullptr);
  const std::optional<std::string> preload = prepare_preload(launch.values);
  if (!preload) return kExitUsage;

  std::vector<std::string> argv;
  if (use_srun) {
    // srun passes this process's environment to the tasks: the preload and FLOPLEDGER_* with it.
    setenv("LD_PRELOAD", preload->c_str(), 1);
    argv = {launch.values["srun"].as<std::string>(), "--mpi=" + srun_mpi,
            "--ntasks=" + std::to_string(ranks)};
  } else {
    argv = {launch.values["mpirun"].as<std::string>(), "-np", std::to_string(ranks)};
    if (static_cast<unsigned>(ranks) > std::thread::hardware_concurrency())
      argv.push_back("--oversubscribe"); // more ranks than cores: a test or a demo, not a fault
    argv.insert(argv.end(), {"-x", "LD_PRELOAD=" + *preload});
    for (char **variable = environ; *variable != nullptr; ++variable) {
      const std::string entry = *variable;
      const std::string name = entry.substr(0, entry.find('='));
      if (name.rfind("FLOPLEDGER_", 0) == 0 || name == "PRETRAIN_FLOPS")
        argv.insert(argv.end(), {"-x", name});
    }
  }
  if (use_srun && launch.values.count("mpirun-arg")) {
    print_error("--mpirun-arg is for mpirun; this job starts its ranks with srun (inside a SLURM "
                "allocation): pass --launcher=mpirun to use mpirun");
    return kExitUsage;
  }
  if (launch.values.count("mpirun-arg"))
    for (const std::string &arg : launch.values["mpirun-arg"].as<std::vector<std::string>>())
      argv.push_back(arg);
  argv.insert(argv.end(), launch.command.begin(), launch.command.end());

  g_child = fork();
  if (g_child < 0) {
    print_error(std::string("cannot start mpirun: ") + std::strerror(errno));
    return kExitFailure;
  }
  if (g_child == 0) {
    std::vector<char *> child_argv = to_argv(argv);
    execvp(child_argv[0], child_argv.data());
    std::cerr << "flopledger: cannot execute '" << argv[0] << "': " << std::strerror(errno)
              << (use_srun ? " (inside a SLURM allocation flopledger run uses srun: pass --srun "
                             "PATH, or --launcher=mpirun)\n"
                           : " (install Open MPI, or pass --mpirun PATH)\n");
    _exit(127);
  }
  signal(SIGINT, forward_signal);
  signal(SIGTERM, forward_signal);
  int status = 0;
  while (waitpid(g_child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

int exec_command(const Args &args) {
  po::options_description options("options");
  add_launch_options(options);
  LaunchOptions launch;
  int exit_code = 0;
  if (!parse(args, options, kExecUsage, launch, exit_code)) return exit_code;
  const std::optional<std::string> preload = prepare_preload(launch.values);
  if (!preload) return kExitUsage;
  setenv("LD_PRELOAD", preload->c_str(), 1);
  std::vector<char *> argv = to_argv(launch.command);
  execvp(argv[0], argv.data());
  print_error("cannot execute '" + launch.command[0] + "': " + std::strerror(errno));
  return 127;
}

} // namespace flopledger::cli
