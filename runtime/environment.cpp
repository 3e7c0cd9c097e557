#include "environment.hpp"

#include <dlfcn.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "resolve.hpp"

#ifndef FLOPLEDGER_VERSION
#define FLOPLEDGER_VERSION "0.0.0-dev"
#endif

namespace flopledger::runtime {

namespace {

std::string read_text(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return in ? out.str() : std::string();
}

std::string first_line(const std::string &text) {
  std::string line = text.substr(0, text.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
    line.pop_back();
  return line;
}

bool is_hex40(const std::string &text) {
  if (text.size() != 40) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool is_directory(const std::string &path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string &path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string parent(const std::string &path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

/// The git directory of the work tree containing `dir`, or "".
std::string find_git_dir(std::string dir) {
  for (int depth = 0; depth < 64; ++depth) {
    const std::string dot_git = dir + "/.git";
    if (is_directory(dot_git)) return dot_git;
    if (exists(dot_git)) { // a worktree or submodule: "gitdir: PATH"
      const std::string line = first_line(read_text(dot_git));
      if (line.rfind("gitdir: ", 0) == 0) {
        std::string target = line.substr(8);
        if (!target.empty() && target[0] != '/') target = dir + "/" + target;
        return target;
      }
    }
    if (dir == "/") break;
    dir = parent(dir);
  }
  return {};
}

/// The commit a ref names: loose file, then packed-refs; "" if not found.
std::string resolve_ref(const std::string &git_dir, const std::string &common_dir,
                        const std::string &ref) {
  for (const std::string &dir : {git_dir, common_dir}) {
    const std::string loose = first_line(read_text(dir + "/" + ref));
    if (is_hex40(loose)) return loose;
  }
  for (const std::string &dir : {git_dir, common_dir}) {
    std::istringstream packed(read_text(dir + "/packed-refs"));
    std::string line;
    while (std::getline(packed, line))
      if (line.size() > 41 && line.compare(41, std::string::npos, ref) == 0 &&
          is_hex40(line.substr(0, 40)))
        return line.substr(0, 40);
  }
  return {};
}

std::string command_line() {
  const std::string raw = read_text("/proc/self/cmdline");
  std::string out;
  std::size_t start = 0;
  while (start < raw.size()) {
    std::size_t end = raw.find('\0', start);
    if (end == std::string::npos) end = raw.size();
    std::string arg = raw.substr(start, end - start);
    if (!out.empty()) out += ' ';
    const bool plain = !arg.empty() && arg.find_first_of(" \t\n'\"\\$`") == std::string::npos;
    if (plain) {
      out += arg;
    } else { // shell-quoted, so that the line can be pasted back
      out += '\'';
      for (char c : arg) {
        if (c == '\'')
          out += "'\\''";
        else
          out += c;
      }
      out += '\'';
    }
    start = end + 1;
  }
  return out;
}

/// The training code's location: the first argument after an interpreter that names a file
/// (python train.py), else the working directory.
std::string code_location(const std::string &cwd) {
  const std::string raw = read_text("/proc/self/cmdline");
  std::size_t start = raw.find('\0');
  while (start != std::string::npos && start + 1 < raw.size()) {
    const std::size_t end = raw.find('\0', start + 1);
    const std::string arg = raw.substr(start + 1, end == std::string::npos ? end : end - start - 1);
    if (!arg.empty() && arg[0] != '-') {
      const std::string path = arg[0] == '/' ? arg : cwd + "/" + arg;
      if (exists(path) && !is_directory(path)) return parent(path);
      break;
    }
    start = end;
  }
  return cwd;
}

std::string mpi_library(const Transport &transport) {
  if (!transport.use_mpi) return "not used (no launcher)";
  char version[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  if (PMPI_Get_library_version(version, &length) != MPI_SUCCESS) return "unknown";
  std::string text(version, static_cast<std::size_t>(length));
  int major = 0, minor = 0;
  PMPI_Get_version(&major, &minor);
  return first_line(text) + " (MPI " + std::to_string(major) + "." + std::to_string(minor) + ")";
}

std::string object_of(void *address) {
  Dl_info info{};
  if (address == nullptr || dladdr(address, &info) == 0 || info.dli_fname == nullptr) return {};
  char real[PATH_MAX];
  if (realpath(info.dli_fname, real) != nullptr) return real;
  return info.dli_fname;
}

std::string blas_library() {
  const std::string sgemm = object_of(resolve_real_symbol("sgemm_"));
  const std::string cblas = object_of(resolve_real_symbol("cblas_sgemm"));
  std::string out;
  if (!sgemm.empty()) out = "sgemm_ from " + sgemm;
  if (!cblas.empty() && cblas != sgemm)
    out += (out.empty() ? "" : "; ") + ("cblas_sgemm from " + cblas);
  if (auto config = reinterpret_cast<char *(*)()>(resolve_real_symbol("openblas_get_config")))
    out += std::string(out.empty() ? "" : "; ") + "OpenBLAS " + config();
  return out.empty() ? "none loaded at job start" : out;
}

std::string cuda_runtime() {
  auto version = reinterpret_cast<int (*)(int *)>(resolve_real_symbol("cudaRuntimeGetVersion"));
  if (version == nullptr) return {};
  int v = 0;
  if (version(&v) != 0) return "loaded, version unknown";
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10) + " (" +
         object_of(reinterpret_cast<void *>(version)) + ")";
}

/// The SLURM job's identity, when SLURM started the job (SLURM_JOB_ID set): one fact per
/// variable, "" when SLURM did not set it (no array, no account, the batch step).
void add_slurm_identity(EnvironmentFacts &facts) {
  if (std::getenv("SLURM_JOB_ID") == nullptr) return;
  static const std::pair<const char *, const char *> kFacts[] = {
      {"slurm_job_id", "SLURM_JOB_ID"},
      {"slurm_step_id", "SLURM_STEP_ID"},
      {"slurm_array_job_id", "SLURM_ARRAY_JOB_ID"},
      {"slurm_array_task_id", "SLURM_ARRAY_TASK_ID"},
      {"slurm_job_nodelist", "SLURM_JOB_NODELIST"},
      {"slurm_job_partition", "SLURM_JOB_PARTITION"},
      {"slurm_job_account", "SLURM_JOB_ACCOUNT"},
      {"slurm_job_user", "SLURM_JOB_USER"},
      {"slurm_restart_count", "SLURM_RESTART_COUNT"}};
  for (const auto &[key, variable] : kFacts) {
    const char *value = std::getenv(variable);
    facts.emplace_back(key, value ? value : "");
  }
}

} // namespace

std::string git_commit_of(const std::string &start) {
  const std::string dir = is_directory(start) ? start : parent(start);
  const std::string git_dir = find_git_dir(dir);
  if (git_dir.empty()) return {};
  std::string common_dir = git_dir;
  const std::string common = first_line(read_text(git_dir + "/commondir"));
  if (!common.empty()) common_dir = common[0] == '/' ? common : git_dir + "/" + common;
  const std::string head = first_line(read_text(git_dir + "/HEAD"));
  if (is_hex40(head)) return head + " (detached HEAD)";
  if (head.rfind("ref: ", 0) != 0) return "unknown (unreadable " + git_dir + "/HEAD)";
  const std::string ref = head.substr(5);
  const std::string commit = resolve_ref(git_dir, common_dir, ref);
  const std::string branch = ref.rfind("refs/heads/", 0) == 0 ? ref.substr(11) : ref;
  if (commit.empty()) return "none yet (branch " + branch + " has no commits)";
  return commit + " (branch " + branch + ")";
}

EnvironmentFacts capture_loaded_libraries() {
  EnvironmentFacts facts;
  facts.emplace_back("blas_library", blas_library());
  const std::string cuda = cuda_runtime();
  facts.emplace_back("cuda_runtime", cuda.empty() ? "not loaded" : cuda);
  return facts;
}

EnvironmentFacts capture_environment(const Transport &transport, const JobIdentity &identity) {
  EnvironmentFacts facts;
  char cwd_buffer[PATH_MAX] = {};
  const std::string cwd = getcwd(cwd_buffer, sizeof cwd_buffer) ? cwd_buffer : "";
  facts.emplace_back("flopledger_version", FLOPLEDGER_VERSION);
  facts.emplace_back("command_line", command_line());
  facts.emplace_back("working_directory", cwd);
  facts.emplace_back("hosts", identity.hosts());
  facts.emplace_back("rank_placement", identity.rank_placement());
  facts.emplace_back("ranks", std::to_string(transport.size));
  facts.emplace_back("launcher", identity.launcher);
  facts.emplace_back("job_id", identity.job_id);
  add_slurm_identity(facts);
  utsname system{};
  if (uname(&system) == 0)
    facts.emplace_back("operating_system",
                       std::string(system.sysname) + " " + system.release + " " + system.machine);
  facts.emplace_back("mpi_library", mpi_library(transport));
  for (auto &fact : capture_loaded_libraries())
    facts.push_back(fact);
  const std::string code = code_location(cwd);
  const std::string commit = git_commit_of(code);
  facts.emplace_back("git_commit", commit.empty() ? "not a git work tree: " + code : commit);
  return facts;
}

} // namespace flopledger::runtime
