// Which processes are metered:
//  - started by a launcher (mpirun/mpiexec: OMPI_COMM_WORLD_SIZE; srun --mpi=pmix: PMIX_RANK):
//    the runtime initialises MPI itself in its constructor (MPI_THREAD_MULTIPLE), so a program
//    that never calls MPI (PyTorch with gloo) is metered; the program's own MPI_Init later
//    returns success without initialising twice;
//  - no launcher: a single rank, no MPI at all (not under the SLURM plugin, which sets
//    FLOPLEDGER_INTERNAL_LAUNCHED_ONLY: there only launcher-started ranks are metered);
//  - not metered: shells and launch utilities that merely pass through (bash, env, numactl, ...:
//    they would otherwise take the rank before the real program), processes whose ancestor
//    already meters the rank (FLOPLEDGER_INTERNAL_RANK_PID), and children forked by a metered
//    process (their counts would be lost with them; see docs/runtime.md).
// Metering ends at MPI_Finalize or at process exit, whichever comes first; an exit with a
// non-zero status hands over what it can within EXIT_TIMEOUT and never finalises MPI (the
// launcher then ends the job, as it would without flopledger). SIGTERM, when the program leaves it
// at its default, ends metering the same way with status 143 before the signal ends the process
// (termination.hpp).
#include "lifecycle.hpp"

#include <dlfcn.h>
#include <mpi.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "counters.hpp"
#include "ledger_probe.hpp"
#include "log.hpp"
#include "meter.hpp"
#include "source.hpp"
#include "termination.hpp"

extern char **environ;

namespace flopledger::runtime {

namespace {

constexpr const char *kRankPidVariable = "FLOPLEDGER_INTERNAL_RANK_PID";
constexpr int kHostLength = 64;

std::timed_mutex g_mutex; // timed: the SIGTERM flush must never wait on it for ever
Config g_config;
bool g_config_ok = false;
std::atomic<bool> g_metering{false}; // meter started and not finished (read by API calls)
bool g_mpi_ours = false;             // the runtime called PMPI_Init_thread
bool g_app_called_init = false;
bool g_forked_child = false;
bool g_exit_handler_set = false;

bool launcher_present() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr;
}

std::string launcher_name() {
  if (std::getenv("SLURM_STEP_ID") != nullptr && std::getenv("PMIX_RANK") != nullptr) return "srun";
  if (std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr) return "mpirun";
  if (std::getenv("PMIX_RANK") != nullptr) return "pmix";
  return "none";
}

std::string job_id() {
  for (const char *name : {"SLURM_JOB_ID", "OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_ess_jobid"})
    if (const char *value = std::getenv(name)) return value;
  return "";
}

int launcher_rank() {
  for (const char *name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID"})
    if (const char *value = std::getenv(name)) return std::atoi(value);
  return 0;
}

bool pass_through_executable() {
  static const char *const kNames[] = {
      "sh",    "bash",    "dash",       "zsh",     "ksh",      "env",         "time",    "nice",
      "nohup", "numactl", "taskset",    "timeout", "stdbuf",   "mpirun",      "mpiexec", "orterun",
      "orted", "srun",    "flopledger", "gdb",     "valgrind", "valgrind.bin"};
  char path[PATH_MAX];
  const ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
  if (length <= 0) return false;
  path[length] = '\0';
  const char *slash = std::strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  for (const char *name : kNames)
    if (std::strcmp(base, name) == 0) return true;
  return false;
}

bool descendant_of_metered_rank() {
  const char *owner = std::getenv(kRankPidVariable);
  return owner != nullptr && std::atol(owner) != static_cast<long>(getpid());
}

void on_fork_child() {
  g_forked_child = true;
  g_metering = false;
  set_counting_enabled(false);
  sigterm_flush_forked_child();
}

void load_configuration(int rank) {
  ConfigResult result = load_config(process_environment(), {}, environment_names(environ));
  g_config = result.config;
  g_config_ok = result.errors.empty();
  if (rank == 0)
    for (const ConfigError &error : result.errors)
      log_line("configuration error: %s", error.message.c_str());
}

void print_configuration() {
  std::string line;
  for (const auto &[key, value] : describe(g_config))
    line += " " + key + "=" + value;
  log_line("metering with%s", line.c_str());
  log_line("counter sources: %s", registered_sources());
}

// Rank 0 gets the distinct host names (rank 0's first) and each rank's host; the other ranks get
// nothing.
void gather_hosts(MPI_Comm comm, int rank, int size, JobIdentity &identity) {
  char mine[kHostLength] = {};
  gethostname(mine, sizeof mine - 1);
  std::vector<char> all(rank == 0 ? static_cast<std::size_t>(size) * kHostLength : 1);
  PMPI_Gather(mine, kHostLength, MPI_CHAR, all.data(), kHostLength, MPI_CHAR, 0, comm);
  if (rank != 0) return;
  for (int r = 0; r < size; ++r) {
    std::string host(&all[static_cast<std::size_t>(r) * kHostLength]);
    std::size_t i = 0;
    while (i < identity.host_names.size() && identity.host_names[i] != host)
      ++i;
    if (i == identity.host_names.size()) identity.host_names.push_back(host);
    identity.host_of_rank.push_back(static_cast<std::uint32_t>(i));
  }
}

void at_exit(int status, void *);
void finish(int exit_status);

// The SIGTERM flush (watcher thread): the leaving path of an error exit with status 128+signal,
// bounded by EXIT_TIMEOUT. The main thread may hold the lock for ever (inside MPI_Finalize, or a
// normal finish waiting for ranks that are being killed): then the signal ends the process
// without the flush, as it would without flopledger.
void on_termination_signal(int signal_number) {
  std::unique_lock<std::timed_mutex> lock(g_mutex, std::defer_lock);
  const auto bound = std::chrono::duration<double>(g_config.exit_timeout + 1.0);
  if (!lock.try_lock_for(bound)) {
    log_line("signal %d: the runtime is busy ending metering; terminating without the flush",
             signal_number);
    return;
  }
  if (g_forked_child || !g_metering) return;
  if (!g_config.quiet)
    log_line("signal %d: recording what was reduced and closing the ledger before terminating",
             signal_number);
  finish(128 + signal_number);
}

// Exit handlers run in reverse order of registration, and the dynamic loader's own handler
// (_dl_fini: library destructors, HDF5's and Open MPI's clean-up) is registered by
// __libc_start_main *after* every library constructor ran. A handler registered from the
// constructor would therefore run after HDF5 closed the ledger. So the handler is registered
// when main() starts (see the __libc_start_main wrapper below), or at once when main() already
// runs (the program's own MPI_Init).
bool g_main_started = false;
bool g_exit_handler_wanted = false;

void register_exit_handler() {
  g_exit_handler_wanted = true;
  if (g_main_started && !g_exit_handler_set) g_exit_handler_set = on_exit(at_exit, nullptr) == 0;
}

void begin(const Transport &transport, const JobIdentity &identity) {
  set_log_rank(transport.rank);
  setenv(kRankPidVariable, std::to_string(getpid()).c_str(), 1);
  if (transport.rank == 0) {
    print_configuration();
    if (!transport.threaded)
      log_line("warning: MPI_THREAD_MULTIPLE is not available; reductions run at exit only");
  }
  set_current_phase(g_config.phase);
  if (meter_start(g_config, transport, identity)) {
    g_metering = true;
    set_counting_enabled(true);
    // Without a meter thread every round runs on the exiting thread; a flush from the watcher
    // thread would then make MPI calls beside the program's, which that MPI does not allow.
    if (transport.threaded || !transport.use_mpi) install_sigterm_flush(on_termination_signal);
  }
  register_exit_handler();
}

// Starts metering over MPI_COMM_WORLD; MPI is initialised. Collective over the world.
void begin_with_mpi(int provided) {
  Transport transport;
  transport.use_mpi = true;
  if (PMPI_Comm_dup(MPI_COMM_WORLD, &transport.comm) != MPI_SUCCESS) {
    log_line("cannot duplicate MPI_COMM_WORLD; metering is off");
    return;
  }
  PMPI_Comm_rank(transport.comm, &transport.rank);
  PMPI_Comm_size(transport.comm, &transport.size);
  // FLOPLEDGER_INTERNAL_NO_METER_THREAD=1 takes the path of an MPI without MPI_THREAD_MULTIPLE
  // (every round at exit), so that the tests can exercise it with this Open MPI.
  transport.threaded = provided == MPI_THREAD_MULTIPLE &&
                       std::getenv("FLOPLEDGER_INTERNAL_NO_METER_THREAD") == nullptr;
  // A configuration error on any rank turns metering off on every rank, so that no rank waits
  // for rounds that another will never join.
  int ok = g_config_ok ? 1 : 0;
  PMPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, transport.comm);
  JobIdentity identity;
  gather_hosts(transport.comm, transport.rank, transport.size, identity);
  if (!ok) {
    if (transport.rank == 0)
      log_line("metering is OFF for this job: fix the configuration errors above");
    PMPI_Comm_free(&transport.comm);
    return;
  }
  // A multi-host job whose ledger not every host sees is refused on every rank alike, before
  // the program runs (docs/multinode.md). _exit: exit handlers would take g_mutex, held here.
  if (!ledger_seen_by_every_host(transport.comm, transport.rank, transport.size, g_config,
                                 identity)) {
    PMPI_Comm_free(&transport.comm);
    PMPI_Finalize();
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(kLedgerRefusedExit);
  }
  identity.job_id = job_id();
  identity.launcher = launcher_name();
  begin(transport, identity);
}

void begin_local() {
  if (!g_config_ok) {
    log_line("metering is OFF for this process: fix the configuration errors above");
    return;
  }
  Transport transport;
  JobIdentity identity;
  char host[kHostLength] = {};
  gethostname(host, sizeof host - 1);
  identity.host_names = {host};
  identity.host_of_rank = {0};
  identity.launcher = "none";
  identity.job_id = std::to_string(getpid());
  begin(transport, identity);
}

void finish(int exit_status) {
  if (!g_metering.exchange(false)) return;
  meter_finish(exit_status);
  set_counting_enabled(false);
}

void at_exit(int status, void *) {
  std::lock_guard<std::timed_mutex> lock(g_mutex);
  if (g_forked_child) return;
  finish(status);
  int initialized = 0, finalized = 0;
  PMPI_Initialized(&initialized);
  PMPI_Finalized(&finalized);
  // Finalising is collective: only a clean exit of a process whose MPI the runtime started.
  if (status == 0 && g_mpi_ours && !g_app_called_init && initialized && !finalized) {
    PMPI_Finalize();
  }
}

bool wants_mpi_metering() {
  return g_config.enabled && !g_forked_child && !descendant_of_metered_rank() && launcher_present();
}

void flopledger_constructor() {
  pthread_atfork(nullptr, nullptr, on_fork_child);
  if (descendant_of_metered_rank()) return;
  std::lock_guard<std::timed_mutex> lock(g_mutex);
  load_configuration(launcher_rank());
  if (!g_config.enabled) return;
  if (pass_through_executable()) return; // the real program below it will meter the rank
  // Set by the SLURM SPANK plugin for a whole job: the batch script's own commands (hostname,
  // sleep, cp) run without a launcher and must not each become a segment of the ledger.
  if (!launcher_present() && std::getenv("FLOPLEDGER_INTERNAL_LAUNCHED_ONLY") != nullptr) return;
  if (!launcher_present()) {
    begin_local();
    return;
  }
  int provided = 0;
  if (PMPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
    log_line("cannot initialise MPI; metering is off for this process");
    return;
  }
  g_mpi_ours = true;
  begin_with_mpi(provided);
  register_exit_handler(); // also when metering stayed off: MPI is ours to finalise
}

// Runs when the library is loaded, after this file's globals above are constructed (a
// function-attribute constructor could run before them). lifecycle.cpp is the last runtime source
// in the link, so every other static of the runtime is initialised by then too.
struct LoadTimeStart {
  LoadTimeStart() { flopledger_constructor(); }
  // Fallback when main() was not entered through the wrapper (a static or unusual start): the
  // library destructor, with the exit status unknown, still closes the ledger.
  ~LoadTimeStart() {
    if (!g_exit_handler_set) at_exit(0, nullptr);
  }
} g_load_time_start;

using MainFunction = int (*)(int, char **, char **);
MainFunction g_program_main = nullptr;

int metered_main(int argc, char **argv, char **envp) {
  {
    std::lock_guard<std::timed_mutex> lock(g_mutex);
    g_main_started = true;
    if (g_exit_handler_wanted) register_exit_handler();
  }
  return g_program_main(argc, argv, envp);
}

} // namespace

const Config *active_config() {
  return g_metering ? &g_config : nullptr;
}

} // namespace flopledger::runtime

using namespace flopledger::runtime;

#define FLOPLEDGER_EXPORT extern "C" __attribute__((visibility("default")))

FLOPLEDGER_EXPORT int MPI_Init_thread(int *argc, char ***argv, int required, int *provided) {
  std::lock_guard<std::timed_mutex> lock(g_mutex);
  int initialized = 0;
  PMPI_Initialized(&initialized);
  if (initialized && g_mpi_ours && !g_app_called_init) {
    g_app_called_init = true; // the runtime initialised MPI first: the program's init succeeds
    return PMPI_Query_thread(provided);
  }
  if (initialized || g_metering || !wants_mpi_metering())
    return PMPI_Init_thread(argc, argv, required, provided);
  // A process the constructor left alone (a pass-through name) that turns out to use MPI.
  const int rc = PMPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, provided);
  if (rc == MPI_SUCCESS) {
    g_app_called_init = true;
    begin_with_mpi(*provided);
  }
  return rc;
}

FLOPLEDGER_EXPORT int MPI_Init(int *argc, char ***argv) {
  int provided = 0;
  return MPI_Init_thread(argc, argv, MPI_THREAD_SINGLE, &provided);
}

FLOPLEDGER_EXPORT int MPI_Finalize(void) {
  std::lock_guard<std::timed_mutex> lock(g_mutex);
  finish(0);
  return PMPI_Finalize();
}

// The process entry point, interposed only to learn when main() starts (see
// register_exit_handler); it changes nothing else.
FLOPLEDGER_EXPORT int __libc_start_main(MainFunction main, int argc, char **argv,
                                        void (*init)(void), void (*fini)(void),
                                        void (*rtld_fini)(void), void *stack_end) {
  using StartFunction =
      int (*)(MainFunction, int, char **, void (*)(void), void (*)(void), void (*)(void), void *);
  auto real = reinterpret_cast<StartFunction>(dlsym(RTLD_NEXT, "__libc_start_main"));
  g_program_main = main;
  return real(metered_main, argc, argv, init, fini, rtld_fini, stack_end);
}
