/* flopledger — public C API.
 *
 * Link with -lflopledger, or call through the preloaded runtime (Python: ctypes.CDLL(None)).
 * Every function is safe to call before or without MPI, from any thread, and never aborts the
 * caller: errors are reported through the return value only. When the runtime is not active
 * (disabled by configuration, or a configuration error was reported) functions return
 * FLOPLEDGER_ERR_NOT_ACTIVE and record nothing.
 */
#ifndef FLOPLEDGER_H
#define FLOPLEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "flopledger/tags.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOPLEDGER_API_VERSION 2

/** Return codes of every C API function. */
typedef enum flopledger_result {
  FLOPLEDGER_OK = 0,
  FLOPLEDGER_ERR_INVALID_ARGUMENT = 1, /**< an argument is out of its documented range */
  FLOPLEDGER_ERR_NOT_ACTIVE = 2,       /**< metering is disabled in this process */
  FLOPLEDGER_ERR_BUFFER_TOO_SMALL = 3, /**< the output buffer cannot hold the result */
  FLOPLEDGER_ERR_NO_DATA = 4           /**< no reduction has completed yet */
} flopledger_result;

/** A snapshot of the job-wide state as of the last completed reduction. */
typedef struct flopledger_state {
  uint64_t reductions; /**< reductions completed so far in this job */
  uint64_t last_step;  /**< highest step number reduced so far (0 before the first) */
  flopledger_status_code status;
  double fraction_of_threshold; /**< modification FLOPs / threshold; for display only */
  char modification_flops[48];  /**< exact decimal: ledger total that counts toward the threshold */
  char counted_flops[48];       /**< exact decimal: every hooked FLOP of the ledger, all phases */
  char threshold_flops[48];     /**< exact decimal: the threshold the status was decided against */
} flopledger_state;

/** Marks the end of one training step on the calling rank.
 *  @param tokens tokens this rank processed in the step (0 if unknown).
 *  @return FLOPLEDGER_OK, or FLOPLEDGER_ERR_NOT_ACTIVE.
 *  Thread safety: call from the training loop's thread; concurrent calls are serialised.
 *  Never blocks on communication or file I/O: the reduction runs on the runtime's own thread. */
int flopledger_step_end(uint64_t tokens);

/** Adds FLOPs that no hook can see (a custom kernel, say) to the calling rank's counters.
 *  @param precision a flopledger_precision value; @param phase a flopledger_phase value, or -1
 *  for the current phase.
 *  @return FLOPLEDGER_OK, FLOPLEDGER_ERR_INVALID_ARGUMENT (tag out of range), or
 *  FLOPLEDGER_ERR_NOT_ACTIVE. Thread safety: any thread, lock-free. */
int flopledger_add_flops(uint64_t flops, int precision, int phase);

/** Sets the phase that later FLOPs of every thread of this process are attributed to.
 *  @return FLOPLEDGER_OK, FLOPLEDGER_ERR_INVALID_ARGUMENT, or FLOPLEDGER_ERR_NOT_ACTIVE.
 *  Thread safety: any thread; takes effect for calls that start after it returns. */
int flopledger_set_phase(int phase);

/** @return the current phase (a flopledger_phase value), or -1 when not active. */
int flopledger_get_phase(void);

/** Copies the job-wide state as of the last completed reduction into *out (every rank sees the
 *  same values: rank 0 broadcasts them).
 *  @return FLOPLEDGER_OK, FLOPLEDGER_ERR_INVALID_ARGUMENT (out is NULL),
 *  FLOPLEDGER_ERR_NO_DATA (no reduction yet; *out is zero-filled), or FLOPLEDGER_ERR_NOT_ACTIVE.
 *  Thread safety: any thread. */
int flopledger_get_state(flopledger_state *out);

/** Writes the ledger's total counted toward the threshold, as an exact decimal string.
 *  @return FLOPLEDGER_OK, FLOPLEDGER_ERR_INVALID_ARGUMENT, FLOPLEDGER_ERR_BUFFER_TOO_SMALL,
 *  FLOPLEDGER_ERR_NO_DATA or FLOPLEDGER_ERR_NOT_ACTIVE. Thread safety: any thread. */
int flopledger_modification_flops(char *buffer, size_t size);

/** Declares the model being fine-tuned, for the analytic (architecture-based) estimate, as a
 *  JSON object (docs/methods.md lists the keys: params_total, params_trainable, layers, hidden,
 *  heads, kv_heads, vocab, seq_len, experts, experts_top_k, lora_rank, ...). Call it once, on
 *  every rank (rank 0's declaration is the one used); FLOPLEDGER_MODEL=FILE does the same
 *  without code. A later call replaces the model from the next period on.
 *  @return FLOPLEDGER_OK, FLOPLEDGER_ERR_INVALID_ARGUMENT (NULL, or JSON that is not a valid
 *  model: the runtime prints why on stderr), or FLOPLEDGER_ERR_NOT_ACTIVE. Thread safety: any. */
int flopledger_declare_model(const char *json);

/** Whether this rank's tokens (flopledger_step_end) count toward the analytic estimate. Tokens
 *  are counted once per model replica: with tensor or pipeline parallelism, call
 *  flopledger_report_tokens(0) on every rank of a replica except one (for example, every rank
 *  whose tensor- and pipeline-parallel rank is not 0). Default: 1 (pure data parallelism).
 *  @return FLOPLEDGER_OK, FLOPLEDGER_ERR_INVALID_ARGUMENT (not 0 or 1), or
 *  FLOPLEDGER_ERR_NOT_ACTIVE. */
int flopledger_report_tokens(int reports);

/** Reports the lengths of the sequences of the step in progress (packed sequences), before its
 *  flopledger_step_end: the analytic attention term is then the sum of their squares instead of
 *  tokens x seq_len. @return FLOPLEDGER_OK, FLOPLEDGER_ERR_INVALID_ARGUMENT (NULL with count > 0,
 *  a length above 2^32-1), or FLOPLEDGER_ERR_NOT_ACTIVE. Thread safety: the training thread. */
int flopledger_add_sequences(const uint64_t *lengths, size_t count);

/** The planned length of the modification, for the forecast: the ledger step number at which it
 *  ends and/or the total training tokens (0: not known). Same as FLOPLEDGER_PLANNED_STEPS and
 *  FLOPLEDGER_PLANNED_TOKENS. Rank 0's plan is the one used.
 *  @return FLOPLEDGER_OK or FLOPLEDGER_ERR_NOT_ACTIVE. */
int flopledger_set_plan(uint64_t planned_steps, uint64_t planned_tokens);

/** The budget guard (FLOPLEDGER_BUDGET): 1 when the job must stop now because the next step
 *  would take the modification compute past the budget, else 0 (also when no budget is set or
 *  the runtime is not active). Collective: every rank must call it at the same steps (after
 *  flopledger_step_end); it agrees with the other ranks through one small allreduce, so every
 *  rank gets 1 at the same step. Once it returned 1 it keeps returning 1. */
int flopledger_should_stop(void);
/** Short alias of flopledger_should_stop. */
int flg_should_stop(void);

/** Sets the ledger step number of the last completed step, e.g. after loading a checkpoint
 *  saved at that step: the next flopledger_step_end is step + 1. Without it a job appending to a
 *  ledger continues after the ledger's last recorded step.
 *  @return FLOPLEDGER_OK or FLOPLEDGER_ERR_NOT_ACTIVE. */
int flopledger_set_step(uint64_t step);

/** @return the ledger step number of the last completed step on this rank (0 when not active). */
uint64_t flopledger_get_step(void);

/** @return 1 when the runtime is metering this process, 0 otherwise. Thread safety: any thread. */
int flopledger_is_active(void);

/** @return this runtime's version string, e.g. "0.1.0"; never NULL. */
const char *flopledger_version(void);

#ifdef __cplusplus
}
#endif

#endif /* FLOPLEDGER_H */
