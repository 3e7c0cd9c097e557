#!/bin/bash
# flopledger's SLURM epilog: stamps how a metered job ended in its ledger when the job could not
# close its segment itself (SIGKILL after KillWait at a time limit or scancel, a node or memory
# kill), or closed it by the SIGTERM flush without knowing why (cancelled or time limit).
#
# slurmd runs it as root after every job (Epilog= in slurm.conf, or called from the site's own
# epilog). It finds the job's ledgers in the spool file the SPANK plugin wrote
# (SPOOL/$SLURM_JOB_ID), asks slurmctld for the job's state and runs, as the job's user,
#   flopledger stamp LEDGER --job-id $SLURM_JOB_ID --state cancelled|timeout|killed
# It always exits 0: a failing epilog drains the node, and metering must never do that. What it
# did goes to stderr (slurmd's log) and to SPOOL/epilog.log.
#
# Settings (edit here, or set them in a wrapper that execs this script):
#   FL_EPILOG_SPOOL       the plugin's spool=DIR (default /var/spool/flopledger)
#   FL_EPILOG_FLOPLEDGER  the flopledger command (default: flopledger on PATH)
#   FL_EPILOG_SCONTROL    scontrol (default: scontrol on PATH)
set -u
spool=${FL_EPILOG_SPOOL:-/var/spool/flopledger}
flopledger=${FL_EPILOG_FLOPLEDGER:-flopledger}
scontrol=${FL_EPILOG_SCONTROL:-scontrol}
job=${SLURM_JOB_ID:-}

say() {
  echo "flopledger-epilog: job ${job:-?}: $*" >&2
  [ -d "$spool" ] && echo "$(date -u +%FT%TZ) job ${job:-?}: $*" >>"$spool/epilog.log" 2>/dev/null
  return 0
}

case "$job" in
'' | *[!0-9]*) exit 0 ;; # not a job, or not a job id: nothing of ours
esac
list="$spool/$job"
[ -f "$list" ] && [ ! -L "$list" ] || exit 0 # the job did not ask for metering

# How the job ended. While the epilog runs, slurmctld shows the job as COMPLETING (SLURM 22.05 puts
# the final CANCELLED or TIMEOUT in place only once every epilog is done), so the cause is read
# from the job record then: Reason=TimeLimit, or a run time at its limit, is a timeout; a batch
# script ended by a signal (ExitCode=0:15 or 0:9) before its limit and not pre-empted is a
# cancellation (scancel); anything else (a failed job, a node failure) is "killed".
seconds() { # D-HH:MM:SS, HH:MM:SS or MM:SS -> seconds; "" for UNLIMITED and the like
  local t=$1 days=0 h=0 m=0 s=0
  case "$t" in *[!0-9:-]* | '') return ;; esac
  if [[ $t == *-* ]]; then days=${t%%-*} t=${t#*-}; fi
  IFS=: read -r a b c <<<"$t"
  if [ -n "$c" ]; then h=$a m=$b s=$c; elif [ -n "$b" ]; then m=$a s=$b; else m=$a; fi
  echo $(((10#$days * 86400) + (10#$h * 3600) + (10#$m * 60) + 10#$s))
}
shown=$(timeout 30 "$scontrol" show job "$job" -o 2>&1)
field() { printf '%s\n' "$shown" | grep -o " $1=[^ ]*" | head -n 1 | cut -d= -f2-; }
state=$(field JobState)
if [ "$state" = COMPLETING ]; then
  reason=$(field Reason) exit_code=$(field ExitCode) preempted=$(field PreemptTime)
  run=$(seconds "$(field RunTime)") limit=$(seconds "$(field TimeLimit)")
  if [ "$reason" = TimeLimit ] || { [ -n "$limit" ] && [ -n "$run" ] && [ "$run" -ge "$limit" ]; }; then
    state=TIMEOUT
  elif [ -n "$preempted" ] && [ "$preempted" != None ]; then
    state=PREEMPTED
  elif [ "$exit_code" = 0:15 ] || [ "$exit_code" = 0:9 ]; then
    state=CANCELLED
  else
    state="COMPLETING(ExitCode=$exit_code)"
  fi
fi
[ -n "$state" ] || say "scontrol show job $job gave no job state: ${shown:0:300}"
case "$state" in
CANCELLED) stamp=cancelled ;;
TIMEOUT | DEADLINE) stamp=timeout ;;
PENDING | RUNNING | REQUEUED | REQUEUE_HOLD | REQUEUE_FED | SUSPENDED | CONFIGURING | RESIZING)
  # a requeued job runs again under the same id: its new segment is not this run's to stamp
  say "job state ${state} is not final (requeued?): not stamping"
  exit 0
  ;;
*) stamp=killed ;; # FAILED, NODE_FAIL, OUT_OF_MEMORY, PREEMPTED, ...: an open segment
esac

as_user=()
if [ -n "${SLURM_JOB_USER:-}" ] && [ "$(id -un)" != "$SLURM_JOB_USER" ]; then
  as_user=(runuser -u "$SLURM_JOB_USER" --) # the ledger is the user's: write it as the user
fi

while IFS= read -r ledger; do
  [ -n "$ledger" ] || continue
  if [ ! -f "$ledger" ]; then
    say "ledger $ledger does not exist (the job never wrote it); nothing to stamp"
    continue
  fi
  if out=$(timeout 120 "${as_user[@]}" "$flopledger" stamp "$ledger" --job-id "$job" \
    --state "$stamp" --scheduler-state "${state:-unknown}" 2>&1); then
    say "(SLURM state ${state:-unknown}) $out"
  else
    say "could not stamp $ledger (SLURM state ${state:-unknown}): $out"
  fi
done <"$list"
rm -f "$list"
exit 0
