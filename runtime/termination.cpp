#include "termination.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

namespace flopledger::runtime {

namespace {

int g_pipe[2] = {-1, -1};
pid_t g_owner = 0; ///< the metered process; a forked child that still has the handler is not it
TerminationWork g_work = nullptr;
std::atomic<bool> g_installed{false};

// Async-signal-safe: getpid, write, sigaction and raise only.
void on_sigterm(int signal_number) {
  const int saved_errno = errno;
  if (getpid() != g_owner) { // a forked child before its atfork handler ran: default action
    struct sigaction fallback {};
    fallback.sa_handler = SIG_DFL;
    sigemptyset(&fallback.sa_mask);
    sigaction(signal_number, &fallback, nullptr);
    raise(signal_number);
    errno = saved_errno;
    return;
  }
  const unsigned char byte = static_cast<unsigned char>(signal_number);
  ssize_t ignored = write(g_pipe[1], &byte, 1); // a full pipe: a signal is already pending
  (void)ignored;
  errno = saved_errno;
}

void restore_default_and_raise(int signal_number) {
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  sigaction(signal_number, &fallback, nullptr);
  // Process-directed: delivered to a thread that does not block it (this one blocks every
  // signal), whose default action ends the whole process.
  kill(getpid(), signal_number);
}

void watch() {
  // Signals are for the program's threads; this one only waits for the pipe.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  unsigned char byte = 0;
  for (;;) {
    const ssize_t got = read(g_pipe[0], &byte, 1);
    if (got == 1) break;
    if (got < 0 && errno == EINTR) continue;
    return; // the pipe is gone: nothing will ever arrive
  }
  g_work(byte);
  restore_default_and_raise(byte);
}

void *watch_entry(void *) {
  watch();
  return nullptr;
}

} // namespace

bool install_sigterm_flush(TerminationWork work) {
  if (g_installed.load()) return true;
  struct sigaction current {};
  if (sigaction(SIGTERM, nullptr, &current) != 0) return false;
  const bool is_default = (current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == SIG_DFL;
  if (!is_default) return false; // the program (or its launcher) chose: leave it
  if (pipe2(g_pipe, O_CLOEXEC) != 0) return false;
  g_owner = getpid();
  g_work = work;
  // A plain detached pthread: it allocates nothing (a std::thread's state object would stay
  // allocated for as long as the watcher waits, i.e. until the process ends).
  pthread_attr_t attributes;
  pthread_t watcher;
  const bool started = pthread_attr_init(&attributes) == 0 &&
                       pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED) == 0 &&
                       pthread_create(&watcher, &attributes, watch_entry, nullptr) == 0;
  pthread_attr_destroy(&attributes);
  if (!started) {
    close(g_pipe[0]);
    close(g_pipe[1]);
    g_pipe[0] = g_pipe[1] = -1;
    return false;
  }
  struct sigaction handler {};
  handler.sa_handler = on_sigterm;
  sigemptyset(&handler.sa_mask);
  handler.sa_flags = SA_RESTART;
  if (sigaction(SIGTERM, &handler, nullptr) != 0) return false;
  g_installed.store(true);
  return true;
}

void sigterm_flush_forked_child() {
  if (!g_installed.load()) return;
  struct sigaction current {};
  if (sigaction(SIGTERM, nullptr, &current) == 0 && (current.sa_flags & SA_SIGINFO) == 0 &&
      current.sa_handler == on_sigterm) {
    struct sigaction fallback {};
    fallback.sa_handler = SIG_DFL;
    sigemptyset(&fallback.sa_mask);
    sigaction(SIGTERM, &fallback, nullptr);
  }
  close(g_pipe[0]);
  close(g_pipe[1]);
  g_pipe[0] = g_pipe[1] = -1;
  g_installed.store(false);
}

} // namespace flopledger::runtime
