/* The flopledger SPANK plugin: `--flopledger[=LEDGER]` for srun, sbatch and salloc.
 *
 * When the option is given, every task of the job's steps runs with the flopledger runtime
 * preloaded (LD_PRELOAD), FLOPLEDGER_LEDGER set to the ledger's absolute path and
 * FLOPLEDGER_INTERNAL_LAUNCHED_ONLY=1 (only processes started by a launcher -- srun --mpi=pmix,
 * mpirun -- are metered; the batch script's own commands are not). The option's value is checked
 * where the user submits (sbatch, salloc, srun), so a bad value is refused at submission with a
 * message naming it; slurmstepd checks it again before the job's tasks start. A job that did not
 * ask for metering is never touched: every hook returns success without doing anything.
 *
 * plugstack.conf arguments (docs/slurm.md):
 *   runtime=PATH  the runtime library to preload (absolute; required for metered jobs)
 *   spool=DIR     where slurmstepd (root) records each metered job's ledger path, one file per
 *                 job id, for the epilog (launchers/slurm/flopledger-epilog.sh); optional
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <slurm/slurm.h>
#include <slurm/spank.h>

SPANK_PLUGIN(flopledger, 1);

#define LEDGER_MAX 1024
#define DEFAULT_LEDGER "flopledger-%j.h5"

static int g_requested = 0;
static char g_value[LEDGER_MAX + 1];
static char g_runtime[PATH_MAX];
static char g_spool[PATH_MAX];

static int opt_flopledger(int val, const char *optarg, int remote);

/* Registered from slurm_spank_init (sbatch and salloc ignore a static spank_options table). */
static struct spank_option g_option[] = {
    {"flopledger", "ledger",
     "Meter the FLOPs of this job's tasks with flopledger into the HDF5 ledger LEDGER "
     "(default " DEFAULT_LEDGER
     " in the submission directory; %j job id, %A array job id, %a array task "
     "id). Letters, digits and . _ + - / only; must end in .h5.",
     2, 0, opt_flopledger},
    SPANK_OPTIONS_TABLE_END};

/* Whether `value` is an acceptable ledger name; otherwise `why` says what was expected. No
 * character a shell, an environment list or LD_PRELOAD would interpret, no "..", only the
 * %j %A %a templates and only in the file name, ".h5" at the end. */
static int ledger_value_ok(const char *value, char *why, size_t why_len) {
  const size_t length = strlen(value);
  const char *slash = strrchr(value, '/');
  const char *name = slash ? slash + 1 : value;
  size_t i;
  if (length == 0 || length > LEDGER_MAX) {
    snprintf(why, why_len, "expected a ledger path of 1 to %d characters", LEDGER_MAX);
    return 0;
  }
  for (i = 0; i < length; ++i) {
    const char c = value[i];
    const int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '+' || c == '-' || c == '/' || c == '%';
    if (!plain) {
      snprintf(why, why_len,
               "character %d ('%c') is not allowed: expected letters, digits and . _ + - / "
               "(and %%j %%A %%a)",
               (int)i + 1, (c >= 32 && c < 127) ? c : '?');
      return 0;
    }
    if (c == '%') {
      const char next = value[i + 1];
      if (next != 'j' && next != 'A' && next != 'a') {
        snprintf(why, why_len, "'%%%c' is not a template: expected %%j, %%A or %%a",
                 next ? next : ' ');
        return 0;
      }
      if (value + i < name) {
        snprintf(why, why_len, "templates (%%j %%A %%a) are allowed in the file name only");
        return 0;
      }
      ++i;
    }
  }
  if (strcmp(value, "..") == 0 || strncmp(value, "../", 3) == 0 || strstr(value, "/../") ||
      (length >= 3 && strcmp(value + length - 3, "/..") == 0)) {
    snprintf(why, why_len, "'..' is not allowed in the ledger path");
    return 0;
  }
  if (strlen(name) < 4 || strcmp(value + length - 3, ".h5") != 0) {
    snprintf(why, why_len, "expected a file name ending in .h5");
    return 0;
  }
  return 1;
}

/* At submission, as the submitting user: the ledger's directory exists and the user may write in
 * it, and an existing ledger is a regular file (not a symbolic link) the user may write. */
static int ledger_writable_here(const char *value, char *why, size_t why_len) {
  char path[PATH_MAX + LEDGER_MAX + 2];
  char cwd[PATH_MAX];
  char *slash;
  struct stat st;
  if (value[0] == '/') {
    snprintf(path, sizeof path, "%s", value);
  } else {
    if (!getcwd(cwd, sizeof cwd)) {
      snprintf(why, why_len, "cannot find the submission directory (%s)", strerror(errno));
      return 0;
    }
    snprintf(path, sizeof path, "%s/%s", cwd, value);
  }
  slash = strrchr(path, '/');
  if (slash == path) {
    snprintf(why, why_len, "a ledger directly in / is not allowed");
    return 0;
  }
  *slash = '\0';
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(why, why_len, "the directory %.200s does not exist", path);
    return 0;
  }
  if (access(path, W_OK | X_OK) != 0) {
    snprintf(why, why_len, "you may not write in the directory %.200s", path);
    return 0;
  }
  *slash = '/';
  if (strchr(slash, '%') == NULL && lstat(path, &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      snprintf(why, why_len, "%.200s is a symbolic link; name the real file", path);
      return 0;
    }
    if (!S_ISREG(st.st_mode) || access(path, W_OK) != 0) {
      snprintf(why, why_len, "%.200s exists and is not a file you may write", path);
      return 0;
    }
  }
  return 1;
}

static int opt_flopledger(int val, const char *optarg, int remote) {
  char why[256];
  const char *value = (optarg && *optarg) ? optarg : DEFAULT_LEDGER;
  (void)val;
  if (!ledger_value_ok(value, why, sizeof why) ||
      (!remote && !ledger_writable_here(value, why, sizeof why))) {
    slurm_error("flopledger: --flopledger='%s': %s", optarg ? optarg : "", why);
    return -1;
  }
  snprintf(g_value, sizeof g_value, "%s", value);
  g_requested = 1;
  return 0;
}

int slurm_spank_init(spank_t sp, int ac, char **av) {
  int i;
  const spank_context_t context = spank_context();
  if ((context == S_CTX_LOCAL || context == S_CTX_REMOTE || context == S_CTX_ALLOCATOR) &&
      spank_option_register(sp, &g_option[0]) != ESPANK_SUCCESS)
    slurm_error("flopledger: cannot register the --flopledger option");
  for (i = 0; i < ac; ++i) {
    if (strncmp(av[i], "runtime=", 8) == 0)
      snprintf(g_runtime, sizeof g_runtime, "%s", av[i] + 8);
    else if (strncmp(av[i], "spool=", 6) == 0)
      snprintf(g_spool, sizeof g_spool, "%s", av[i] + 6);
    else /* never fail a job for the administrator's typo: say it, and go on */
      slurm_error("flopledger: plugstack.conf argument '%s' is unknown (expected runtime=PATH "
                  "or spool=DIR); ignored",
                  av[i]);
  }
  return 0;
}

/* `template` with %j %A %a replaced; 0 when the result does not fit. */
static int expand(const char *template, uint32_t job, uint32_t array_job, uint32_t array_task,
                  char *out, size_t out_len) {
  size_t used = 0;
  const char *p;
  for (p = template; *p; ++p) {
    char piece[16] = {p[0], '\0'};
    if (p[0] == '%' && (p[1] == 'j' || p[1] == 'A' || p[1] == 'a')) {
      uint32_t number = p[1] == 'j' ? job : p[1] == 'A' ? array_job : array_task;
      snprintf(piece, sizeof piece, "%u", (unsigned)number);
      ++p;
    }
    if (used + strlen(piece) + 1 > out_len) return 0;
    memcpy(out + used, piece, strlen(piece));
    used += strlen(piece);
  }
  out[used] = '\0';
  return 1;
}

/* Appends `ledger` to SPOOL/JOBID unless it is there already (several steps, one ledger). */
static void remember_for_epilog(uint32_t job, const char *ledger) {
  char path[PATH_MAX + 16];
  char line[PATH_MAX + 2];
  FILE *file;
  int fd;
  if (g_spool[0] == '\0') return;
  snprintf(path, sizeof path, "%s/%u", g_spool, (unsigned)job);
  fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    slurm_error("flopledger: cannot record the ledger for the epilog in %s: %s", path,
                strerror(errno));
    return;
  }
  file = fdopen(fd, "a+");
  if (!file) {
    close(fd);
    return;
  }
  rewind(file);
  while (fgets(line, sizeof line, file)) {
    line[strcspn(line, "\n")] = '\0';
    if (strcmp(line, ledger) == 0) {
      fclose(file);
      return;
    }
  }
  fprintf(file, "%s\n", ledger);
  fclose(file);
}

/* slurmstepd, as root, after the options were processed and before the tasks start: set the
 * tasks' environment and tell the epilog where the ledger is. */
int slurm_spank_init_post_opt(spank_t sp, int ac, char **av) {
  uint32_t job = 0, step = 0, array_job = 0, array_task = 0;
  char base[PATH_MAX], name[LEDGER_MAX + 64], ledger[PATH_MAX + LEDGER_MAX + 64];
  char preload[PATH_MAX * 2];
  char why[256];
  (void)ac;
  (void)av;
  if (!g_requested || !spank_remote(sp)) return 0;
  if (spank_get_item(sp, S_JOB_ID, &job) != ESPANK_SUCCESS ||
      spank_get_item(sp, S_JOB_STEPID, &step) != ESPANK_SUCCESS) {
    slurm_error("flopledger: cannot read the job and step id; this metered job cannot start");
    return -1;
  }
  if (step == SLURM_EXTERN_CONT) return 0; /* no user task runs there */
  if (spank_get_item(sp, S_JOB_ARRAY_ID, &array_job) != ESPANK_SUCCESS || array_job == 0) {
    array_job = job;
    array_task = 0;
  } else if (spank_get_item(sp, S_JOB_ARRAY_TASK_ID, &array_task) != ESPANK_SUCCESS) {
    array_task = 0;
  }
  if (g_runtime[0] != '/' || access(g_runtime, R_OK) != 0) {
    slurm_error("flopledger: this job asked for --flopledger but the plugin's runtime=%s (in "
                "plugstack.conf) is not a readable absolute path; ask the administrator",
                g_runtime[0] ? g_runtime : "(not set)");
    return -1;
  }
  if (!expand(g_value, job, array_job, array_task, name, sizeof name)) {
    slurm_error("flopledger: --flopledger='%s' is too long once expanded", g_value);
    return -1;
  }
  if (name[0] == '/') {
    snprintf(ledger, sizeof ledger, "%s", name);
  } else {
    if (spank_getenv(sp, "SLURM_SUBMIT_DIR", base, sizeof base) != ESPANK_SUCCESS &&
        spank_getenv(sp, "PWD", base, sizeof base) != ESPANK_SUCCESS) {
      slurm_error("flopledger: --flopledger='%s' is relative and the job has no "
                  "SLURM_SUBMIT_DIR; give an absolute path",
                  g_value);
      return -1;
    }
    snprintf(ledger, sizeof ledger, "%s/%s", base, name);
  }
  if (!ledger_value_ok(ledger, why, sizeof why)) {
    slurm_error("flopledger: ledger '%s': %s", ledger, why);
    return -1;
  }
  const spank_err_t got = spank_getenv(sp, "LD_PRELOAD", preload, sizeof preload);
  if (got == ESPANK_NOSPACE) { /* never drop the job's own preloads */
    slurm_error("flopledger: the job's LD_PRELOAD is longer than %d characters; this metered "
                "job cannot start",
                (int)sizeof preload - 1);
    return -1;
  }
  if (got == ESPANK_SUCCESS && preload[0] != '\0') {
    if (strstr(preload, g_runtime) == NULL) {
      char joined[sizeof preload + PATH_MAX + 2];
      snprintf(joined, sizeof joined, "%s:%s", g_runtime, preload);
      spank_setenv(sp, "LD_PRELOAD", joined, 1);
    }
  } else {
    spank_setenv(sp, "LD_PRELOAD", g_runtime, 1);
  }
  if (spank_setenv(sp, "FLOPLEDGER_LEDGER", ledger, 1) != ESPANK_SUCCESS ||
      spank_setenv(sp, "FLOPLEDGER_INTERNAL_LAUNCHED_ONLY", "1", 1) != ESPANK_SUCCESS) {
    slurm_error("flopledger: cannot set the job's environment; this metered job cannot start");
    return -1;
  }
  remember_for_epilog(job, ledger);
  return 0;
}
