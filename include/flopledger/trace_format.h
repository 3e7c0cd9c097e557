/* flopledger — trace format constants shared by the writer (io/) and every reader.
 * docs/trace-format.md documents each name field by field. */
#ifndef FLOPLEDGER_TRACE_FORMAT_H
#define FLOPLEDGER_TRACE_FORMAT_H

#define FLOPLEDGER_FORMAT_MAJOR 1
#define FLOPLEDGER_FORMAT_MINOR 3

/* Root attributes. */
#define FLOPLEDGER_ATTR_FORMAT "flopledger_format"          /* "flopledger-trace" */
#define FLOPLEDGER_ATTR_FORMAT_MAJOR "format_version_major" /* uint32 */
#define FLOPLEDGER_ATTR_FORMAT_MINOR "format_version_minor" /* uint32 */
#define FLOPLEDGER_ATTR_WRITER_VERSION "writer_version"     /* string */
#define FLOPLEDGER_ATTR_CREATED "created_utc"               /* ISO 8601 string */
#define FLOPLEDGER_ATTR_RULE_SET "rule_set"                 /* string */
#define FLOPLEDGER_ATTR_ORIGINAL_FLOPS "original_flops"     /* decimal string, or "unknown" */
#define FLOPLEDGER_ATTR_ORIGINAL_SYSTEMIC "original_systemic_risk" /* uint8 0|1 */
#define FLOPLEDGER_ATTR_BASE_MODEL "base_model"                    /* string, may be empty */
#define FLOPLEDGER_ATTR_CONFIG "config"                            /* "key=value\n" lines */
#define FLOPLEDGER_ATTR_PRECISION_NAMES "precision_names" /* comma-separated, column order */
#define FLOPLEDGER_ATTR_PHASE_NAMES "phase_names"
#define FLOPLEDGER_ATTR_SOURCE_NAMES "source_names"
#define FLOPLEDGER_ATTR_RULE_SET_TEXT "rule_set_text" /* 1.1: the rule set's source text */
#define FLOPLEDGER_ATTR_CHAIN_MODE "chain_mode"       /* 1.2: "sha256" or "hmac-sha256" */
#define FLOPLEDGER_ATTR_CHAIN_HEAD "chain_head"   /* 1.2: 64 hex digits, hash of the chain heads */
#define FLOPLEDGER_ATTR_HMAC_KEY_ID "hmac_key_id" /* 1.2, hmac-sha256 only: 16 hex digits */

#define FLOPLEDGER_FORMAT_TAG "flopledger-trace"

/* Datasets (1-D, chunked, unlimited, compound rows). */
#define FLOPLEDGER_DSET_STEPS "steps"
#define FLOPLEDGER_DSET_SEGMENTS "segments"
#define FLOPLEDGER_DSET_EVENTS "events"
#define FLOPLEDGER_DSET_ENVIRONMENT "environment" /* 1.1: (segment, key, value) rows */

/* Fixed string lengths inside compound rows (bytes, NUL-padded). */
#define FLOPLEDGER_DECIMAL_LEN 48
#define FLOPLEDGER_JOB_ID_LEN 64
#define FLOPLEDGER_LAUNCHER_LEN 16
#define FLOPLEDGER_HOSTS_LEN 1024
#define FLOPLEDGER_EVENT_KIND_LEN 32
#define FLOPLEDGER_EVENT_DETAIL_LEN 256
#define FLOPLEDGER_ENV_KEY_LEN 64
#define FLOPLEDGER_ENV_VALUE_LEN 4096
#define FLOPLEDGER_HASH_LEN 64 /* 1.2: the row's chain hash, 64 lower-case hex digits */

/* Segment end states (uint8). */
#define FLOPLEDGER_SEGMENT_RUNNING 0 /* still open; after the job died, "not cleanly closed" */
#define FLOPLEDGER_SEGMENT_CLEAN 1   /* every rank finished normally */
#define FLOPLEDGER_SEGMENT_ERROR 2   /* a rank exited with a non-zero status; exit_status says */
/* Appended codes (no version change: a reader without them refuses such a row with a clear
 * "state N is not ..." error instead of misreading it; docs/trace-format.md): how a job that was
 * stopped from outside ended. 3 is written by the runtime itself; 4-6 are stamped afterwards by
 * `flopledger stamp` (the SLURM epilog) from the scheduler's job state. */
#define FLOPLEDGER_SEGMENT_TERMINATED 3 /* SIGTERM flush: scancel, time limit or pre-emption */
#define FLOPLEDGER_SEGMENT_CANCELLED 4  /* the scheduler says the job was cancelled (scancel) */
#define FLOPLEDGER_SEGMENT_TIMEOUT 5    /* the scheduler says the job reached its time limit */
#define FLOPLEDGER_SEGMENT_KILLED 6     /* the job died without closing it (SIGKILL, node, OOM) */
#define FLOPLEDGER_SEGMENT_LAST_STATE 6

/* Step-row verdict methods (uint8). */
#define FLOPLEDGER_METHOD_COUNTED 0
#define FLOPLEDGER_METHOD_ANALYTIC 1
#define FLOPLEDGER_METHOD_HARDWARE 2

#endif /* FLOPLEDGER_TRACE_FORMAT_H */
