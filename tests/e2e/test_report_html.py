#!/usr/bin/env python3
"""End-to-end: the audit report and the exports of a real ledger.

  - `flopledger run` meters mpi_gemm on 2 ranks into a ledger;
  - `flopledger report --html OUT` writes one self-contained page: no URL, no script, two SVG
    charts, the exact modification total; headless Chromium renders it to a PNG, which is
    decoded here (zlib + struct, no PIL) and must be 1200x2400 with a substantial share of
    non-white pixels and several distinct colours (the charts);
  - `flopledger report --markdown` prints Markdown tables with the status and exact total;
  - `flopledger export --json` parses with json.loads and carries every key of AWS's
    flops_meter.json; `--csv` parses with the csv module, one row per step row, and its FLOP
    columns sum exactly to the report's counted total;
  - a missing file is an error naming the path (exit 1); bad options exit 2.
"""

import csv
import io
import json
import os
import shutil
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402

STEPS, RANKS = 3, 2
WIDTH, HEIGHT = 1200, 2400

# Every key AWS's sagemaker_code/flops_meter.py writes into flops_meter.json.
AWS_KEYS = ["N_total", "N_trainable", "tokens_processed", "Flops_architecture", "Flops_hardware",
            "pct_of_pretrain", "exceeds_30pct", "model_name", "num_epochs",
            "training_duration_seconds", "gpu_size", "gpu_rank", "Flops_original",
            "threshold_type", "threshold_value", "training_job_name", "training_id",
            "recipe_config", "recipe_config_details", "gpu_name", "instance_type",
            "model_package_group_name"]


def decode_png(path):
    """(width, height, rows of (r, g, b) tuples) of an 8-bit RGB or RGBA, non-interlaced PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace != 0:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        ftype, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 0xFF
            elif ftype == 2:
                line[x] = (line[x] + b) & 0xFF
            elif ftype == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 0xFF
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, bpp)])
        prev = line
    return width, height, rows


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def case_html(c, paths, ledger, total):
    page = c.path("report", "report.html")
    res = E.run([paths.cli, "report", ledger, "--html", page], timeout=60)
    c.ran_ok(res, "flopledger report --html")
    if not c.check(os.path.exists(page), "the HTML page was written"):
        return
    with open(page, encoding="utf-8") as f:
        html = f.read()
    c.check(html.startswith("<!DOCTYPE html>"), "the page is HTML")
    c.check("http" not in html.lower(), "no URL anywhere in the page")
    c.check("<script" not in html.lower(), "no script in the page")
    c.equal(html.count("<svg"), 2, "two inline SVG charts")
    c.check(str(total) in html, "the page shows the exact total")
    c.check("downstream_user" in html, "the page shows the status")
    c.check("Methods side by side" in html and "not applicable" in html,
            "the page shows the methods, with the unavailable ones marked")

    chromium = find_chromium()
    if not c.check(chromium is not None, "headless Chromium is installed (Debian package "
                                         "chromium; .ci/install-deps.sh installs it)"):
        return
    png = c.path("report", "report.png")
    env = E.base_env({"HOME": c.subdir("chromium-home")})
    res = E.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 "--no-first-run", "--disable-extensions",
                 f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}",
                 "file://" + page], env=env, timeout=120)
    if not c.check(os.path.exists(png), "Chromium wrote a screenshot", res.tail()):
        return
    try:
        width, height, rows = decode_png(png)
    except (ValueError, zlib.error, struct.error, TypeError) as e:
        c.check(False, "the screenshot decodes as a PNG", repr(e))
        return
    c.equal((width, height), (WIDTH, HEIGHT), "screenshot size")
    pixels = [p for row in rows for p in row]
    non_white = sum(1 for p in pixels if min(p) < 245)
    share = non_white / len(pixels)
    c.check(share > 0.03, f"a substantial share of the pixels is not white ({share:.3f})")
    # Colours of the charts: saturated pixels (not greys/anti-aliased text), bucketed.
    colours = {}
    for p in pixels:
        if max(p) - min(p) > 60:
            key = (p[0] // 32, p[1] // 32, p[2] // 32)
            colours[key] = colours.get(key, 0) + 1
    distinct = sorted((n, k) for k, n in colours.items() if n >= 100)
    c.check(len(distinct) >= 4, f"several distinct colours appear ({len(distinct)} buckets of "
                                f"at least 100 pixels)", repr(distinct[-10:]))


def case_markdown(c, paths, ledger, total):
    res = E.run([paths.cli, "report", ledger, "--markdown"], timeout=60)
    c.ran_ok(res, "flopledger report --markdown")
    c.check("**Status: downstream_user**" in res.stdout, "Markdown names the status", res.tail())
    c.check(f"| Modification compute (exact) | {total} FLOP |" in res.stdout,
            "Markdown shows the exact modification total", res.tail())
    c.check("<svg" not in res.stdout, "Markdown has no chart")
    out = c.path("report", "report.md")
    res = E.run([paths.cli, "report", ledger, "--markdown", "--output", out], timeout=60)
    c.ran_ok(res, "flopledger report --markdown --output")
    c.check(os.path.exists(out) and os.path.getsize(out) > 100, "--output wrote the file")


def case_exports(c, paths, ledger, total):
    rep = E.report_json(c, paths, ledger)
    res = E.run([paths.cli, "export", ledger, "--json"], timeout=60)
    c.ran_ok(res, "flopledger export --json")
    try:
        doc = json.loads(res.stdout)
    except ValueError as e:
        c.check(False, "export --json parses with json.loads", repr(e))
        doc = {}
    for key in AWS_KEYS:
        c.check(key in doc, f"export --json carries AWS's key {key!r}")
    c.check(isinstance(doc.get("N_total"), int) and isinstance(doc.get("tokens_processed"), int),
            "N_total and tokens_processed are integers, as AWS writes them")
    c.check(doc.get("threshold_type") in ("default_3.3e22", "30pct_of_actual_pretraining"),
            "threshold_type is one of AWS's values")
    c.check(isinstance(doc.get("exceeds_30pct"), bool), "exceeds_30pct is a boolean")
    c.equal(E.as_int(doc.get("totals", {}).get("counted_flops")), total,
            "export --json totals.counted_flops")
    c.equal(len(doc.get("rows", [])), len(E.read_trace(ledger)["steps"]),
            "export --json: one row per step row of the trace")

    res = E.run([paths.cli, "export", ledger, "--csv"], timeout=60)
    c.ran_ok(res, "flopledger export --csv")
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    trace = E.read_trace(ledger)
    c.equal(len(rows), len(trace["steps"]), "CSV: one line per step row of the trace")
    flops = sum(int(r["flops"]) for r in rows)
    c.equal(flops, total, "CSV: the flops column sums to the total")
    if rep is not None:
        c.equal(flops, E.as_int(rep.get("counted_flops")), "CSV sum == report's counted_flops")
    for prefix, names in (("flops_precision_", E.PRECISIONS), ("flops_phase_", E.PHASES),
                          ("flops_source_", E.SOURCES)):
        s = sum(int(r[prefix + n]) for r in rows for n in names)
        c.equal(s, total, f"CSV: the {prefix}* columns sum to the total")
    out = c.path("export", "ledger.csv")
    res = E.run([paths.cli, "export", ledger, "--csv", "--output", out], timeout=60)
    c.ran_ok(res, "flopledger export --csv --output")
    with open(out, encoding="utf-8") as f:
        c.equal(len(list(csv.DictReader(f))), len(rows), "--output wrote the same CSV")


def case_errors(c, paths, ledger):
    missing = os.path.join(c.tmp, "no-such-dir", "missing.h5")
    for cmd in (["report", missing, "--html", c.path("err", "x.html")],
                ["report", missing, "--markdown"], ["export", missing, "--json"],
                ["export", missing, "--csv"]):
        res = E.run([paths.cli] + cmd, timeout=60)
        c.equal(res.rc, 1, f"{' '.join(cmd[:1] + cmd[2:])} on a missing file exits 1")
        c.check(missing in res.stderr, "the message names the path", res.tail())
    for cmd in (["export", ledger], ["export", ledger, "--json", "--csv"],
                ["report", ledger, "--html"], ["report", ledger, "--json", "--markdown"],
                ["report", ledger, "--output", "x.md"], ["export", ledger, "--bogus"]):
        res = E.run([paths.cli] + cmd, timeout=60)
        c.equal(res.rc, 2, f"bad options {' '.join(cmd[2:])!r} exit 2")
    res = E.run([paths.cli, "export", "--help"], timeout=30)
    c.ran_ok(res, "flopledger export --help")


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_report_html", args)
    paths = E.Paths(args)
    c.require(paths.cli, "the flopledger command in the build directory")
    c.require(paths.runtime, "libflopledger.so in the build directory")
    c.require(paths.mpi_gemm, "mpi_gemm in the build directory")
    total = E.mpi_gemm_expected(RANKS, STEPS)["total"]
    ledger = c.path("trace", "ledger.h5")
    res = E.flopledger_run(paths, RANKS, ledger, [paths.mpi_gemm, "--steps", str(STEPS)],
                           every_steps=1, every_seconds=3600, verbose=args.verbose)
    c.ran_ok(res, "flopledger run mpi_gemm (the ledger under test)")
    case_html(c, paths, ledger, total)
    case_markdown(c, paths, ledger, total)
    case_exports(c, paths, ledger, total)
    case_errors(c, paths, ledger)
    c.finish()


if __name__ == "__main__":
    main()
