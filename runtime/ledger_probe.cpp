#include "ledger_probe.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/random.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "log.hpp"

namespace flopledger::runtime {

namespace {

/// What rank 0 broadcasts: the probe's absolute path and its token (empty path: no probe).
struct Probe {
  char path[PATH_MAX] = {};
  char token[40] = {};
};

std::string absolute_directory(const std::string &ledger) {
  std::string path = ledger;
  if (path.empty() || path[0] != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == nullptr) return "";
    path = std::string(cwd) + "/" + path;
  }
  const std::size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

// 32 hex digits from the kernel's random source; empty when it fails.
std::string random_token() {
  unsigned char bytes[16];
  if (getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) return "";
  std::string text;
  char digits[3];
  for (unsigned char b : bytes) {
    std::snprintf(digits, sizeof digits, "%02x", b);
    text += digits;
  }
  return text;
}

// Rank 0: writes the probe file; false (nothing written) when it cannot.
bool write_probe(const std::string &directory, Probe &probe) {
  const std::string token = random_token();
  if (token.empty()) return false;
  const std::string path = directory + (directory == "/" ? "" : "/") + ".flopledger-probe-" +
                           std::to_string(getpid()) + "-" + token.substr(0, 8);
  if (path.size() >= sizeof probe.path) return false;
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return false;
  const bool written = write(fd, token.data(), token.size()) == static_cast<ssize_t>(token.size());
  const bool closed = close(fd) == 0; // close-to-open: NFS clients see the data after this
  if (!written || !closed) {
    unlink(path.c_str());
    return false;
  }
  std::snprintf(probe.path, sizeof probe.path, "%s", path.c_str());
  std::snprintf(probe.token, sizeof probe.token, "%s", token.c_str());
  return true;
}

// Another host: whether it sees the probe with rank 0's token.
bool sees_probe(const Probe &probe) {
  const int fd = open(probe.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  char text[sizeof probe.token] = {};
  const ssize_t got = read(fd, text, sizeof text - 1);
  close(fd);
  return got > 0 && std::strcmp(text, probe.token) == 0;
}

} // namespace

bool ledger_seen_by_every_host(MPI_Comm comm, int rank, int size, const Config &config,
                               JobIdentity &identity) {
  // Rank 0 names the checkers: the first rank of each host other than its own.
  std::vector<int> roles(rank == 0 ? static_cast<std::size_t>(size) : 1, 0);
  bool several_hosts = false;
  if (rank == 0) {
    several_hosts = identity.host_names.size() > 1;
    std::vector<bool> named(identity.host_names.size(), false);
    named[0] = true;
    for (int r = 0; r < size; ++r) {
      const std::uint32_t host = identity.host_of_rank[static_cast<std::size_t>(r)];
      if (named[host]) continue;
      named[host] = true;
      roles[static_cast<std::size_t>(r)] = 1;
    }
  }
  int checker = 0;
  if (PMPI_Scatter(roles.data(), 1, MPI_INT, &checker, 1, MPI_INT, 0, comm) != MPI_SUCCESS)
    return true; // the job's own MPI will report a broken communicator
  Probe probe;
  std::string directory;
  if (rank == 0 && several_hosts) {
    directory = absolute_directory(config.ledger);
    if (directory.empty() || !write_probe(directory, probe)) probe = Probe{};
  }
  if (PMPI_Bcast(&probe, sizeof probe, MPI_BYTE, 0, comm) != MPI_SUCCESS) return true;
  if (probe.path[0] == '\0') return true; // one host, or no probe: nothing to check
  int seen = checker ? (sees_probe(probe) ? 1 : 0) : -1;
  std::vector<int> all(rank == 0 ? static_cast<std::size_t>(size) : 1, -1);
  const int gathered = PMPI_Gather(&seen, 1, MPI_INT, all.data(), 1, MPI_INT, 0, comm);
  int refuse = 0;
  if (rank == 0) {
    unlink(probe.path);
    std::string unseen;
    for (int r = 0; gathered == MPI_SUCCESS && r < size; ++r)
      if (all[static_cast<std::size_t>(r)] == 0)
        unseen += (unseen.empty() ? "" : ",") +
                  identity.host_names[identity.host_of_rank[static_cast<std::size_t>(r)]];
    if (!unseen.empty() && config.ledger_node_local_allowed) {
      log_line("WARNING: the ledger %s is on storage that hosts %s of this job do not see "
               "(node-local): it is lost with rank 0's node (%s), and a later job whose rank 0 "
               "runs elsewhere starts a new ledger. Going on: FLOPLEDGER_LEDGER_NODE_LOCAL=allow "
               "(docs/multinode.md)",
               config.ledger.c_str(), unseen.c_str(), identity.host_names[0].c_str());
      identity.ledger_unseen_by = unseen;
    } else if (!unseen.empty()) {
      refuse = 1;
      log_line("ERROR: the ledger %s is on storage that not every host of this job sees: "
               "host(s) %s do not see rank 0's probe file in %s (the directory is node-local "
               "on %s). A multi-host job needs its ledger on storage that every host sees, the "
               "cluster's shared file system: on node-local storage it is lost with rank 0's "
               "node, and a later job whose rank 0 runs elsewhere starts a new ledger. Put "
               "FLOPLEDGER_LEDGER on shared storage, or set FLOPLEDGER_LEDGER_NODE_LOCAL=allow "
               "to record on %s anyway (docs/multinode.md)",
               config.ledger.c_str(), unseen.c_str(), directory.c_str(),
               identity.host_names[0].c_str(), identity.host_names[0].c_str());
      log_line("ERROR: this job is refused before it starts: every rank exits with status %d; "
               "nothing ran and the ledger is unchanged",
               kLedgerRefusedExit);
    }
  }
  if (PMPI_Bcast(&refuse, 1, MPI_INT, 0, comm) != MPI_SUCCESS) return true;
  return refuse == 0;
}

} // namespace flopledger::runtime
