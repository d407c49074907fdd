#!/usr/bin/env python3
"""Side by side, in one run: kade and its peers on one shared 20-rule table
(``benchmarks/peer_table.py``: client tier from revenue, industry, years as client
and credit rating), every contender's outputs checked row by row against the
hand-written pandas masks; and kade's hit policies on the same rules and rows.

    pip install -e '.[bench]'                       # zen-engine, pyDMNrules
    python benchmarks/bench_peers.py                 # 100,000 rows; pyDMNrules on 2,000
    python benchmarks/bench_peers.py --rows 20000 --repeat 3 --write-docs

Contenders (each given the same pandas DataFrame; a contender's time includes turning
it into what that engine takes, and its results back into a column):

* pandas masks: ``peer_table.pandas_masks`` - numpy masks per rule, np.select on rule
  numbers, tier and rule id by lookup. The reference every other result is checked against.
* plain Python: pre-compiled predicates in one loop over the rows.
* kade ``engine.evaluate_frame`` with reasons (the documented API), and with
  ``reasons=False``; kade with durable-rules as its matcher (``--engine durable``,
  through ``engine.evaluate_sheets``).
* zen-engine: the decision pre-compiled (``ZenDecisionContent``) and evaluated row by
  row through ``ZenEngine.evaluate`` (GoRules' recommended fast path), and ``evaluate_batch``.
* pyDMNrules: ``DMN.decide`` row by row, on a slice (``--slice`` rows; it manages
  about a thousand rows a second).

Times are medians of ``--repeat`` interleaved runs (one run for the slow ones).
Second table: the same 20 rules under every hit policy (U, A, P, R, O, C, C+, C#,
C<, C>; the aggregations over a points output) through ``evaluate_frame`` with
reasons, each checked against what the policy means computed from the masks;
time as a multiple of the FIRST table's. ``--write-docs`` replaces the section
between ``<!-- peers:start -->`` and ``<!-- peers:end -->`` in docs/performance.md.
Not a pytest test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import peer_table as table  # noqa: E402
from common import code_version, machine, write_section  # noqa: E402

START, END = "<!-- peers:start -->", "<!-- peers:end -->"
POLICIES = ("F", "U", "A", "P", "R", "O", "C", "C+", "C#", "C<", "C>")
REASONS_TARGET = 2_000_000  # rows/s, evaluate_frame with reasons
REASONS_RATIO = 6.0  # × pandas masks, reasons on
PLAIN_RATIO = 2.0  # × pandas masks, reasons off
MULTI_RATIO = 8.0  # × the FIRST table, reasons on


# -------------------------------------------------------------- contenders ----


def kade_contender(rules, reasons: bool = True):
    import engine

    def run(df):
        out = engine.evaluate_frame(rules, df, "clients", reasons=reasons)
        return out["tier"].to_numpy(), out["client_tier.rule"].to_numpy()

    return run


def kade_durable(rules):
    import engine

    def run(df):
        evaluation = engine.evaluate_sheets(rules, [engine.Sheet("clients", df)], engine="durable")
        out = engine.result_frame(evaluation, "clients")
        return out["tier"].to_numpy(), out["client_tier.rule"].to_numpy()

    return run


def zen_precompiled():
    import zen

    content = zen.ZenDecisionContent(table.zen_graph())
    decider = zen.ZenEngine({"loader": lambda key: content})

    def run(df):
        records = df.to_dict("records")
        return np.array([decider.evaluate("tier", r)["result"].get("tier") for r in records], dtype=object), None

    return run


def zen_batch():
    import zen

    content = zen.ZenDecisionContent(table.zen_graph())
    decider = zen.ZenEngine({"loader": lambda key: content})

    def run(df):
        answers = decider.evaluate_batch([{"key": "tier", "context": r} for r in df.to_dict("records")])
        tiers = [a["data"]["result"].get("tier") if a.get("success") else None for a in answers]
        return np.array(tiers, dtype=object), None

    return run


def pydmn(folder: Path):
    import pyDMNrules

    dmn = pyDMNrules.DMN()
    status = dmn.load(str(table.write_pydmn_workbook(folder / "tier_pydmn.xlsx")))
    if "errors" in status:
        raise RuntimeError(f"pyDMNrules cannot load the table: {status}")

    def run(df):
        tiers = []
        for record in df.to_dict("records"):
            _status, decided = dmn.decide(record)
            tiers.append(decided["Result"]["tier"])
        return np.array(tiers, dtype=object), None

    return run


def python_loop(df):
    return np.array(table.plain_python(df), dtype=object), None


# ------------------------------------------------------------------ runs ----


def timed(run, df) -> tuple[float, tuple]:
    start = time.perf_counter()
    result = run(df)
    return time.perf_counter() - start, result


def agreement(got, want) -> int:
    """Rows where the contender's value equals the reference."""
    return int(sum(a == b for a, b in zip(got, want, strict=True)))


def compare_peers(rows: int, slice_rows: int, repeat: int, folder: Path) -> dict:
    import engine

    df = table.make_rows(rows)
    small = df.head(slice_rows).reset_index(drop=True)
    first_rules = engine.load_rules(table.write_kade_rules(folder / "F", "F"))
    contenders = {
        "pandas masks (hand-written, the reference)": (lambda d: table.pandas_masks(d), df, repeat),
        "kade evaluate_frame, reasons on": (kade_contender(first_rules), df, repeat),
        "kade evaluate_frame, reasons=False": (kade_contender(first_rules, reasons=False), df, repeat),
        "plain Python loop": (python_loop, df, repeat),
        "kade, durable-rules matcher": (kade_durable(first_rules), small, 1),
        "zen-engine, pre-compiled, row by row": (zen_precompiled(), df, 1),
        "zen-engine, evaluate_batch": (zen_batch(), df, 1),
        "pyDMNrules, decide row by row": (pydmn(folder), small, 1),
    }
    for run, data, _ in contenders.values():  # warm up: imports, first calls
        run(data.head(50))
    times: dict[str, list[float]] = {name: [] for name in contenders}
    answers: dict[str, tuple] = {}
    loads = []
    for attempt in range(repeat):  # interleaved: drift hits every contender alike
        for name, (run, data, runs) in contenders.items():
            if attempt >= runs:
                continue
            loads.append(os.getloadavg()[0])
            seconds, answers[name] = timed(run, data)
            times[name].append(seconds)
    want_tier, want_rule = table.pandas_masks(df)
    out = []
    for name, (_run, data, _runs) in contenders.items():
        tiers, rule_ids = answers[name]
        n = len(data)
        seconds = statistics.median(times[name])
        out.append(
            {
                "contender": name,
                "rows": n,
                "seconds": seconds,
                "runs": len(times[name]),
                "rows_per_s": n / seconds,
                "tier_agree": agreement(tiers, want_tier[:n]),
                "rule_agree": None if rule_ids is None else agreement(rule_ids, want_rule[:n]),
            }
        )
    reference = out[0]["seconds"] / out[0]["rows"]
    for row in out:
        row["vs_masks"] = (row["seconds"] / row["rows"]) / reference
    return {"rows": rows, "slice": slice_rows, "contenders": out, "load_before": loads}


def compare_policies(rows: int, repeat: int, folder: Path) -> dict:
    import engine

    df = table.make_rows(rows)
    masks = table.rule_masks(df)
    rulesets = {
        p: engine.load_rules(
            table.write_kade_rules(
                folder / p.replace("+", "sum").replace("#", "count").replace("<", "min").replace(">", "max"), p
            )
        )
        for p in POLICIES
    }
    for rules in rulesets.values():
        engine.evaluate_frame(rules, df.head(50), "clients")
    times: dict[str, list[float]] = {p: [] for p in POLICIES}
    frames = {}
    loads = []
    for _ in range(repeat):
        for policy, rules in rulesets.items():
            loads.append(os.getloadavg()[0])
            start = time.perf_counter()
            frames[policy] = engine.evaluate_frame(rules, df, "clients")
            times[policy].append(time.perf_counter() - start)
    first = statistics.median(times["F"])
    out = []
    for policy in POLICIES:
        output = "points" if policy in ("C+", "C#", "C<", "C>") else "tier"
        got = frames[policy][output].tolist()
        seconds = statistics.median(times[policy])
        errors = int(frames[policy]["kade.errors"].notna().sum())
        out.append(
            {
                "policy": policy,
                "seconds": seconds,
                "rows_per_s": rows / seconds,
                "vs_first": seconds / first,
                "agree": agreement(got, table.expected(policy, masks)),
                "rows_in_error": errors,
            }
        )
    return {"rows": rows, "policies": out, "load_before": loads}


# ---------------------------------------------------------------- report ----


def render(peers: dict, policies: dict) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} with `python benchmarks/bench_peers.py`; kade {code_version()}; "
        f"{machine()}; zen-engine {_version('zen-engine')}, pyDMNrules {_version('pyDMNrules')}, "
        f"durable-rules {_version('durable-rules')}, pandas {_version('pandas')}, numpy {_version('numpy')}.",
        "",
        f"**One 20-rule FIRST table, {peers['rows']:,} rows** (medians of interleaved runs; "
        f"agreement = rows whose tier / rule id equal the pandas masks'):",
        "",
        "| contender | rows | runs | seconds | rows/s | time per row vs pandas masks | tier agrees | rule id agrees |",
        "|:---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in peers["contenders"]:
        rule = "–" if c["rule_agree"] is None else f"{c['rule_agree']:,} / {c['rows']:,}"
        lines.append(
            f"| {c['contender']} | {c['rows']:,} | {c['runs']} | {c['seconds']:.4f} | {c['rows_per_s']:,.0f} | "
            f"{c['vs_masks']:.1f}× | {c['tier_agree']:,} / {c['rows']:,} | {rule} |"
        )
    by_name = {c["contender"]: c for c in peers["contenders"]}
    on, off = by_name["kade evaluate_frame, reasons on"], by_name["kade evaluate_frame, reasons=False"]
    lines += [
        "",
        f"Targets: `evaluate_frame` with reasons ≥ {REASONS_TARGET:,} rows/s and ≤ {REASONS_RATIO:g}× pandas masks: "
        f"{on['rows_per_s']:,.0f} rows/s, {on['vs_masks']:.1f}× "
        f"({'met' if on['rows_per_s'] >= REASONS_TARGET and on['vs_masks'] <= REASONS_RATIO else 'missed'}); "
        f"`reasons=False` ≤ {PLAIN_RATIO:g}×: {off['vs_masks']:.1f}× ({'met' if off['vs_masks'] <= PLAIN_RATIO else 'missed'}).",
        "",
        f"**Every hit policy over the same rules and {policies['rows']:,} rows** (`evaluate_frame` with reasons; "
        "U and A make rows with several disagreeing matches errors, which is what they mean; agreement = rows "
        "whose value equals the policy's meaning computed from the masks, an error counting as agreeing when the "
        "policy makes it one):",
        "",
        f"| hit policy | seconds | rows/s | time vs FIRST (target ≤ {MULTI_RATIO:g}×) | agrees | rows in error |",
        "|:---|---:|---:|:---|---:|---:|",
    ]
    for p in policies["policies"]:
        verdict = "met" if p["vs_first"] <= MULTI_RATIO else "missed"
        lines.append(
            f"| {p['policy']} | {p['seconds']:.3f} | {p['rows_per_s']:,.0f} | {p['vs_first']:.1f}× ({verdict}) | "
            f"{p['agree']:,} / {policies['rows']:,} | {p['rows_in_error']:,} |"
        )
    loads = peers["load_before"] + policies["load_before"]
    lines += [
        "",
        f"Load average (1 min) before each run: {min(loads):.2f} … {max(loads):.2f} (median {statistics.median(loads):.2f}).",
    ]
    return "\n".join(lines)


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--slice", type=int, default=2_000, help="rows for the slow contenders (pyDMNrules, durable)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--output", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        peers = compare_peers(args.rows, args.slice, args.repeat, Path(tmp))
        policies = compare_policies(args.rows, args.repeat, Path(tmp))
    text = render(peers, policies)
    print(text)
    if args.output:
        args.output.write_text(json.dumps({"peers": peers, "policies": policies}, indent=1))
    if args.write_docs:
        write_section(START, END, text)


if __name__ == "__main__":
    main()
