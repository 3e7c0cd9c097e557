#!/usr/bin/env python3
"""End-to-end: `flopledger verify` on ledgers written by real 2-rank mpi_gemm jobs.

  - an untouched ledger verifies (exit 0) and `flopledger report` shows its head hash;
  - flipping any byte of one step row's stored record (every byte, or a seeded sample when that
    would take more than about 60 s) makes verify exit 1 naming that row; restoring it verifies;
  - a deleted step row, two reordered segments of a two-job ledger and an edited cumulative total
    are each detected (exit 1, the row or segment named);
  - the keyed mode end to end: FLOPLEDGER_HMAC_KEY_FILE for the job; verify with the key exits 0,
    with another key exits 1 saying "wrong key", without a key exits 1 saying the chain could not
    be checked; a second job without the key is refused before it starts.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

STEPS = 4
BYTE_BUDGET_S = 60.0


def job(c, paths, args, ledger, label, env_extra=None):
    res = E.flopledger_run(paths, 2, ledger, [paths.mpi_gemm, "--steps", str(STEPS)],
                           every_steps=1, every_seconds=3600, env=E.base_env(env_extra),
                           verbose=args.verbose)
    c.ran_ok(res, label)
    return res


def verify(paths, ledger, *extra):
    return E.run([paths.cli, "verify", ledger, *extra], timeout=60)


def verify_json(paths, ledger, *extra):
    res = verify(paths, ledger, "--json", *extra)
    try:
        return res, json.loads(res.stdout)
    except ValueError:
        return res, {}


def flip(ledger, dataset, row, byte):
    with h5py.File(ledger, "r+", locking=False) as f:
        ds = f[dataset]
        record = ds[row:row + 1]
        record.view(np.uint8)[byte] ^= 0x01
        ds[row:row + 1] = record


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_verify", args)
    paths = E.Paths(args)
    c.require(paths.cli, "the flopledger command")
    c.require(paths.mpi_gemm, "mpi_gemm")

    # A two-job ledger.
    ledger = c.path("plain", "ledger.h5")
    job(c, paths, args, ledger, "job 1 (plain sha256 chain)")
    second = job(c, paths, args, ledger, "job 2, appended to the same ledger")
    res = verify(paths, ledger)
    c.equal(res.rc, 0, "an untouched two-job ledger verifies")
    c.check("chain: verified (sha256)" in res.stdout, "verify says the sha256 chain verified",
            res.tail())
    res, doc = verify_json(paths, ledger)
    c.equal(doc.get("chain"), "verified", "verify --json: chain")
    head = doc.get("chain_head", "")
    c.equal(len(head), 64, "verify --json: the head is 64 hex digits")
    c.check(f"ledger chain head (sha256): {head}" in second.output,
            "rank 0 prints the head at the end of the job (to anchor it)", second.tail())
    rep = E.run([paths.cli, "report", ledger, "--json"], timeout=60)
    c.equal(json.loads(rep.stdout).get("chain_head") if rep.rc == 0 else None, head,
            "report --json shows the same head")
    rep = E.run([paths.cli, "report", ledger], timeout=60)
    c.check(head in rep.stdout and "Chain: sha256" in rep.stdout, "report text shows the head")

    with h5py.File(ledger, "r", locking=False) as f:
        n_rows = f["steps"].shape[0]
        record_size = f["steps"].dtype.itemsize
        segments = f["segments"].shape[0]
    c.equal(segments, 2, "the ledger has two segments")
    c.check(n_rows >= 4, f"the ledger has {n_rows} step rows")
    target = n_rows // 2

    # Every byte of one step row (or a seeded sample when that would be too slow).
    order = list(range(record_size))
    random.Random(1234).shuffle(order)
    start = time.time()
    checked, undetected, unnamed = 0, [], []
    for byte in order:
        if time.time() - start > BYTE_BUDGET_S:
            break
        flip(ledger, "steps", target, byte)
        r = subprocess.run([paths.cli, "verify", ledger], capture_output=True, text=True)
        if r.returncode != 1:
            undetected.append(byte)
        elif f"FAILED: steps row {target}:" not in r.stdout:
            unnamed.append(byte)
        flip(ledger, "steps", target, byte)
        checked += 1
    print(f"  flipped {checked} of {record_size} bytes of steps row {target}", flush=True)
    c.check(checked == record_size or checked >= 200,
            f"flipped every byte or a sample of at least 200 ({checked} of {record_size})")
    c.equal(undetected, [], "every flipped byte is detected (exit 1)")
    c.equal(unnamed, [], f"every flipped byte is reported at steps row {target} first")
    c.equal(verify(paths, ledger).rc, 0, "restored: the ledger verifies again")

    # An edited cumulative total.
    edited = c.path("edited", "ledger.h5")
    shutil.copy(ledger, edited)
    with h5py.File(edited, "r+", locking=False) as f:
        ds = f["steps"]
        record = ds[target:target + 1]
        record["cumulative_counted"][0] = str(int(record["cumulative_counted"][0]) + 2).encode()
        ds[target:target + 1] = record
    res = verify(paths, edited)
    c.equal(res.rc, 1, "an edited cumulative total: exit 1")
    c.check(f"steps row {target}: cumulative_counted is" in res.stdout,
            "the edited total is named and recomputed", res.tail())

    # A deleted step row.
    deleted = c.path("deleted", "ledger.h5")
    shutil.copy(ledger, deleted)
    with h5py.File(deleted, "r+", locking=False) as f:
        ds = f["steps"]
        rows = ds[...]
        kept = np.concatenate([rows[:target], rows[target + 1:]])
        ds.resize((len(kept),))
        ds[...] = kept
    res = verify(paths, deleted)
    c.equal(res.rc, 1, "a deleted step row: exit 1")
    c.check(f"FAILED: steps row {target}:" in res.stdout, "the gap is named at the deleted row",
            res.tail())

    # Two segments reordered.
    reordered = c.path("reordered", "ledger.h5")
    shutil.copy(ledger, reordered)
    with h5py.File(reordered, "r+", locking=False) as f:
        ds = f["segments"]
        rows = ds[...]
        ds[...] = rows[::-1].copy()
    res = verify(paths, reordered)
    c.equal(res.rc, 1, "reordered segments: exit 1")
    c.check("segments row 0: segment id 1, expected 0" in res.stdout,
            "the reordered segments are named", res.tail())

    # The keyed chain.
    key = c.path("keyed", "ledger.key")
    other = c.path("keyed", "other.key")
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    with open(other, "wb") as f:
        f.write(os.urandom(32))
    keyed = c.path("keyed", "ledger.h5")
    res = job(c, paths, args, keyed, "a job with FLOPLEDGER_HMAC_KEY_FILE",
              {"FLOPLEDGER_HMAC_KEY_FILE": key})
    with open(key, "rb") as f:
        secret = f.read()
    with open(keyed, "rb") as f:
        c.check(secret not in f.read(), "the key's bytes are not in the ledger")
    res, doc = verify_json(paths, keyed, "--hmac-key-file", key)
    c.equal((res.rc, doc.get("chain"), doc.get("chain_mode")), (0, "verified", "hmac-sha256"),
            "keyed ledger, right key: verified")
    res, doc = verify_json(paths, keyed, "--hmac-key-file", other)
    c.equal((res.rc, doc.get("chain")), (1, "wrong_key"), "keyed ledger, another key: exit 1")
    c.check("wrong key" in " ".join(doc.get("notes", [])), "it says: wrong key")
    res, doc = verify_json(paths, keyed)
    c.equal((res.rc, doc.get("chain")), (1, "no_key"), "keyed ledger, no key: exit 1")
    res = verify(paths, keyed)
    c.check("could not be checked" in res.stdout, "it says the chain could not be checked",
            res.tail())
    flip(keyed, "steps", 1, 20)
    res = verify(paths, keyed, "--hmac-key-file", key)
    c.check(res.rc == 1 and "FAILED: steps row 1:" in res.stdout,
            "keyed ledger: an edited row is detected", res.tail())
    flip(keyed, "steps", 1, 20)
    res = E.flopledger_run(paths, 2, keyed, [paths.mpi_gemm, "--steps", str(STEPS)],
                           every_steps=1, every_seconds=3600, verbose=args.verbose)
    c.check(res.rc != 0 and "FLOPLEDGER_HMAC_KEY_FILE" in res.stderr,
            "a job without the key is refused from appending to the keyed ledger", res.tail())
    short = c.path("keyed", "short.key")
    with open(short, "wb") as f:
        f.write(b"tooshort")
    res = E.flopledger_run(paths, 2, c.path("keyed", "new.h5"), [paths.mpi_gemm],
                           env=E.base_env({"FLOPLEDGER_HMAC_KEY_FILE": short}),
                           verbose=args.verbose)
    c.check(res.rc == 2 and short in res.stderr and "tooshort" not in res.stderr,
            "a short key file is a configuration error naming the file, not its content",
            res.tail())
    c.finish()


if __name__ == "__main__":
    main()
