#include "isolate.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.hpp"

namespace flopledger::cli {

namespace {

volatile sig_atomic_t g_child = 0;

extern "C" void forward_to_child(int sig) {
  if (g_child > 0) ::kill(static_cast<pid_t>(g_child), sig);
}

constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

bool is_crash(int sig) {
  return sig == SIGSEGV || sig == SIGBUS || sig == SIGABRT || sig == SIGFPE || sig == SIGILL ||
         sig == SIGSYS || sig == SIGTRAP;
}

std::string join(const std::vector<std::string> &files) {
  std::string out;
  for (const std::string &f : files)
    out += (out.empty() ? "" : ", ") + f;
  return out;
}

} // namespace

int run_isolated(const std::function<int()> &work, const std::vector<std::string> &files,
                 const std::string &command) {
  std::cout.flush();
  std::cerr.flush();
  const pid_t child = ::fork();
  if (child < 0) return work(); // no isolation, but the command still runs
  if (child == 0) {
    for (int sig : kForwarded)
      std::signal(sig, SIG_DFL);
    int status = kExitFailure;
    try {
      status = work();
    } catch (const std::exception &error) {
      std::cerr << "flopledger: " << error.what() << '\n';
    }
    std::cout.flush();
    std::exit(status);
  }
  g_child = child;
  struct sigaction forward {};
  forward.sa_handler = forward_to_child;
  sigemptyset(&forward.sa_mask);
  struct sigaction previous[std::size(kForwarded)]{};
  for (std::size_t i = 0; i < std::size(kForwarded); ++i)
    sigaction(kForwarded[i], &forward, &previous[i]);
  int status = 0;
  pid_t done = -1;
  do
    done = ::waitpid(child, &status, 0);
  while (done < 0 && errno == EINTR);
  g_child = 0;
  for (std::size_t i = 0; i < std::size(kForwarded); ++i)
    sigaction(kForwarded[i], &previous[i], nullptr);
  if (done < 0) {
    std::cerr << "flopledger: " << command << ": lost track of the reading process\n";
    return kExitFailure;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  const int sig = WTERMSIG(status);
  if (!is_crash(sig)) {
    std::signal(sig, SIG_DFL);
    ::raise(sig);
    return 128 + sig; // a signal whose default is to be ignored
  }
  std::cerr << "flopledger: reading " << (files.empty() ? "for '" + command + "'" : join(files))
            << " crashed the HDF5 library (signal " << sig
            << "): the file is damaged or not a ledger\n";
  return kExitFailure;
}

std::vector<std::string> files_read_by(const std::vector<std::string> &args) {
  std::vector<std::string> files;
  bool value_of_output = false;
  for (const std::string &arg : args) {
    if (value_of_output) {
      value_of_output = false;
      continue;
    }
    if (arg == "-o" || arg == "--output" || arg == "--html") {
      value_of_output = true;
      continue;
    }
    if (!arg.empty() && arg[0] == '-') continue;
    files.push_back(arg);
  }
  return files;
}

} // namespace flopledger::cli
