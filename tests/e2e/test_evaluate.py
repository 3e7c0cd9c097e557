#!/usr/bin/env python3
"""End-to-end: `flopledger evaluate`, the verdict for given figures under both rule sets.

  - eu-gpai-2025-07 (default): one third of a known original, exactly at the line and one FLOP
    over; unknown original (1/3 x 1e23, floored); unknown with systemic risk (1/3 x 1e25);
    cumulative compute over 1e25 flagged and notify_commission set;
  - aws-ftfm: 30% of a known original of at least 1e23; a fixed 3.3e22 below it or unknown; no
    systemic-risk status even when flagged;
  - a rule-set file given by path; --list-rule-sets;
  - bad numbers (abc, -5, 2.5, 1e400), an unknown rule set, contradicting options: exit 2 with a
    message naming the option and the value.
"""

import json
import os
import sys
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402


def evaluate(c, paths, args, what):
    res = E.run([paths.cli, "evaluate", "--json"] + args, timeout=60)
    if not c.ran_ok(res, f"{what}: flopledger evaluate --json"):
        return None
    try:
        return json.loads(res.stdout)
    except ValueError as e:
        c.check(False, f"{what}: output is one JSON object", repr(e))
        return None


def case_verdicts(c, paths):
    third_e23 = 10**23 // 3
    third_e25 = 10**25 // 3
    # (label, args, status, rule, threshold, notify, cumulative_over, original)
    cases = [
        ("eu known: exactly one third", ["--modification-flops", "1e23", "--original-flops", "3e23"],
         "downstream_user", "known_original_fraction", 10**23, False, False, str(3 * 10**23)),
        ("eu known: one FLOP over",
         ["--modification-flops", str(10**23 + 1), "--original-flops", "3e23"],
         "provider", "known_original_fraction", 10**23, False, False, str(3 * 10**23)),
        ("eu known 1e23+1: the floor of a third", ["--modification-flops", str(third_e23 + 1),
                                                    "--original-flops", str(10**23 + 1)],
         "provider", "known_original_fraction", third_e23, False, False, str(10**23 + 1)),
        ("eu unknown: at the floor", ["--modification-flops", str(third_e23), "--original-unknown"],
         "downstream_user", "unknown_original_default", third_e23, False, False, "unknown"),
        ("eu unknown (default): one over", ["--modification-flops", str(third_e23 + 1)],
         "provider", "unknown_original_default", third_e23, False, False, "unknown"),
        ("eu unknown systemic: one over",
         ["--modification-flops", str(third_e25 + 1), "--original-systemic-risk"],
         "provider_systemic_risk", "unknown_original_systemic_risk", third_e25, True, False,
         "unknown"),
        ("eu known 9e24: cumulative over 1e25",
         ["--modification-flops", "3000000000000000000000001", "--original-flops", "9e24"],
         "provider_systemic_risk", "known_original_fraction", 3 * 10**24, True, True,
         str(9 * 10**24)),
        ("aws unknown: exactly 3.3e22",
         ["--rule-set", "aws-ftfm", "--modification-flops", "3.3e22"],
         "downstream_user", "unknown_original_default", 33 * 10**21, False, False, "unknown"),
        ("aws unknown: one over", ["--rule-set", "aws-ftfm", "--modification-flops",
                                   str(33 * 10**21 + 1), "--original-systemic-risk"],
         "provider", "unknown_original_default", 33 * 10**21, False, False, "unknown"),
        ("aws known below 1e23", ["--rule-set", "aws-ftfm", "--modification-flops",
                                  str(33 * 10**21 + 1), "--original-flops", str(10**23 - 1)],
         "provider", "known_original_below_floor", 33 * 10**21, False, False, str(10**23 - 1)),
        ("aws known 1e23: 30%", ["--rule-set", "aws-ftfm", "--modification-flops", "3e22",
                                 "--original-flops", "1e23"],
         "downstream_user", "known_original_fraction", 3 * 10**22, False, False, str(10**23)),
        ("aws known 9e24, systemic: flagged, not systemic",
         ["--rule-set", "aws-ftfm", "--modification-flops", "3e24", "--original-flops", "9e24",
          "--original-systemic-risk"],
         "provider", "known_original_fraction", 27 * 10**23, False, True, str(9 * 10**24)),
    ]
    for label, args, status, rule, threshold, notify, cumulative, original in cases:
        j = evaluate(c, paths, args, label)
        if j is None:
            continue
        c.equal(j.get("status"), status, f"{label}: status")
        c.equal(j.get("rule"), rule, f"{label}: rule")
        c.equal(j.get("threshold_flops"), str(threshold), f"{label}: threshold_flops")
        c.equal(j.get("notify_commission"), notify, f"{label}: notify_commission")
        c.equal(j.get("cumulative_over_systemic_presumption"), cumulative,
                f"{label}: cumulative_over_systemic_presumption")
        c.equal(j.get("original_flops"), original, f"{label}: original_flops")
        expected_set = "aws-ftfm" if "aws-ftfm" in args else "eu-gpai-2025-07"
        c.equal(j.get("rule_set"), expected_set, f"{label}: rule_set")
        mod = args[args.index("--modification-flops") + 1]
        c.equal(j.get("modification_flops"), str(int(Decimal(mod))), f"{label}: modification_flops")
        c.check(rule in j.get("reasoning", ""), f"{label}: the reasoning names the rule")
        frac = j.get("fraction_of_threshold")
        c.check(isinstance(frac, (int, float)), f"{label}: fraction_of_threshold is a number")


def case_text_and_files(c, paths):
    res = E.run([paths.cli, "evaluate", "--modification-flops", "3000000000000000000000001",
                 "--original-flops", "9e24"], timeout=60)
    c.ran_ok(res, "evaluate (text)")
    for part in ("Status:         provider_systemic_risk",
                 "Threshold:      3.0e24 FLOP (3000000000000000000000000)",
                 "Rule:           known_original_fraction", "Art. 51(2)", "Reasoning:"):
        c.check(part in res.stdout, f"evaluate text shows {part!r}", res.tail())

    res = E.run([paths.cli, "evaluate", "--list-rule-sets"], timeout=60)
    c.ran_ok(res, "evaluate --list-rule-sets")
    c.check("eu-gpai-2025-07" in res.stdout and "aws-ftfm" in res.stdout,
            "--list-rule-sets names both rule sets", res.tail())

    source = os.path.join(paths.source, "accounting", "rulesets", "eu-gpai-2025-07.rules")
    with open(source, encoding="utf-8") as f:
        text = f.read()
    new = c.path("rules", "eu-gpai-2099-01.rules")
    with open(new, "w", encoding="utf-8") as f:
        f.write(text.replace("name = eu-gpai-2025-07", "name = eu-gpai-2099-01")
                .replace("unknown_original_base = 1e23", "unknown_original_base = 3e23"))
    j = evaluate(c, paths, ["--rule-set", new, "--modification-flops", "1e23"], "rule-set file")
    if j is not None:
        c.equal(j.get("rule_set"), "eu-gpai-2099-01", "rule-set file: rule_set")
        c.equal(j.get("threshold_flops"), str(10**23), "rule-set file: threshold from the file")
        c.equal(j.get("status"), "downstream_user", "rule-set file: status")

    bad = c.path("rules", "bad.rules")
    with open(bad, "w", encoding="utf-8") as f:
        f.write(text.replace("fraction = 1/3", "fraction = 1/0"))
    res = E.run([paths.cli, "evaluate", "--rule-set", bad, "--modification-flops", "1"],
                timeout=60)
    c.equal(res.rc, 2, "a bad rule-set file exits 2")
    c.check(bad in res.stderr and "zero denominator" in res.stderr,
            "the error names the file and the value", res.tail())


def case_bad_inputs(c, paths):
    cases = [
        (["--modification-flops", "abc"], "--modification-flops 'abc'"),
        (["--modification-flops", "-5"], "--modification-flops '-5'"),
        (["--modification-flops", "2.5"], "--modification-flops '2.5'"),
        (["--modification-flops", "1e400"], "--modification-flops '1e400'"),
        (["--modification-flops", "1", "--original-flops", "abc"], "--original-flops 'abc'"),
        (["--modification-flops", "1", "--original-flops", "-5"], "--original-flops '-5'"),
        (["--modification-flops", "1", "--original-flops", "2.5"], "--original-flops '2.5'"),
        (["--modification-flops", "1", "--original-flops", "1e400"], "--original-flops '1e400'"),
        (["--modification-flops", "1", "--rule-set", "nope"], "unknown rule set 'nope'"),
        (["--modification-flops", "1", "--original-flops", "1", "--original-unknown"],
         "contradict"),
        ([], "--modification-flops is required"),
        (["--modification-flops"], "modification-flops"),
    ]
    for args, expected in cases:
        res = E.run([paths.cli, "evaluate"] + args, timeout=60)
        c.equal(res.rc, 2, f"evaluate {' '.join(args)}: exit status")
        c.check(expected in res.stderr, f"evaluate {' '.join(args)}: stderr names {expected!r}",
                res.tail())


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_evaluate", args)
    paths = E.Paths(args)
    c.require(paths.cli, "the flopledger command in the build directory")
    case_verdicts(c, paths)
    case_text_and_files(c, paths)
    case_bad_inputs(c, paths)
    c.finish()


if __name__ == "__main__":
    main()
