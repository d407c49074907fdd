"""The one 20-rule decision table every contender of ``bench_peers.py`` evaluates
("client tier", from /work/shared/notes/peers.md's spec), written in each
contender's own format from ``RULES``: a kade rules folder, a GoRules JDM graph
(zen-engine), a pyDMNrules workbook, pandas masks and plain-Python predicates.

Each rule: revenue interval [lo, hi) (None = unbounded), industries (None = any),
minimum years as client (None = any), credit ratings (None = any), tier, points.
``points`` is the number output the aggregating hit policies (C+, C<, C>) use.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

M = 1_000_000
FIN_TECH = ["finance", "tech"]
INDUSTRIES = ["finance", "tech", "healthcare", "manufacturing", "retail", "energy", "public", "other"]
TIERS = ["platinum", "gold", "silver", "standard"]  # highest priority first (hit policies P and O)
INPUTS = ["annual_revenue", "industry", "years_as_client", "credit_rating"]

# (rev_lo, rev_hi, industries, min_years, ratings, tier)
RULES = [
    (50 * M, None, ["finance", "tech", "energy"], 5, ["A"], "platinum"),
    (50 * M, None, None, 3, ["A"], "platinum"),
    (20 * M, 50 * M, FIN_TECH, 5, ["A"], "platinum"),
    (50 * M, None, None, None, ["B"], "gold"),
    (20 * M, 50 * M, None, 3, ["A", "B"], "gold"),
    (10 * M, 20 * M, ["finance", "tech", "healthcare"], 7, ["A"], "gold"),
    (10 * M, 20 * M, None, 2, ["A"], "gold"),
    (10 * M, 20 * M, None, None, ["B"], "silver"),
    (5 * M, 10 * M, ["healthcare", "manufacturing"], 5, ["A", "B"], "gold"),
    (5 * M, 10 * M, None, 3, ["A"], "silver"),
    (5 * M, 10 * M, None, 1, ["B"], "silver"),
    (1 * M, 5 * M, FIN_TECH, 10, ["A"], "silver"),
    (1 * M, 5 * M, ["retail", "manufacturing"], 5, ["A", "B"], "silver"),
    (1 * M, 5 * M, None, 3, ["A"], "silver"),
    (None, 1 * M, ["tech"], 10, ["A"], "silver"),
    (None, None, ["public"], 2, ["A", "B"], "silver"),
    (20 * M, None, None, None, ["C"], "silver"),
    (None, None, None, 15, ["A", "B"], "silver"),
    (None, None, None, None, ["C"], "standard"),
    (None, None, None, None, None, "standard"),  # catch-all
]
POINTS = {"platinum": 40, "gold": 30, "silver": 20, "standard": 10}


def make_rows(n: int, seed: int = 42) -> pd.DataFrame:
    """Deterministic client rows, typed as a DataFrame a user would have."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            # log-uniform revenue between 100k and 200M, so every band is populated
            "annual_revenue": np.round(10 ** rng.uniform(5, np.log10(200 * M), n), 2),
            "industry": rng.choice(INDUSTRIES, n),
            "years_as_client": rng.integers(0, 31, n),
            "credit_rating": rng.choice(["A", "B", "C"], n, p=[0.4, 0.4, 0.2]),
        }
    )


# ------------------------------------------------------------- cell texts ----


def _revenue(lo, hi) -> str | None:
    if lo is not None and hi is not None:
        return f"[{lo}..{hi})"
    if lo is not None:
        return f">= {lo}"
    if hi is not None:
        return f"< {hi}"
    return None


def _listed(values) -> str | None:
    return None if values is None else ", ".join(f'"{v}"' for v in values)


def feel_cells(rule) -> list[str | None]:
    """The four input cells as S-FEEL unary tests (None: any); zen shares the syntax."""
    lo, hi, industries, years, ratings, _tier = rule
    return [_revenue(lo, hi), _listed(industries), None if years is None else f">= {years}", _listed(ratings)]


# ------------------------------------------------------------------- kade ----

GLOSSARY = [
    ("annual_revenue", "clients", "annual_revenue", "number", "", "annual revenue", ""),
    ("industry", "clients", "industry", "string", "", "industry", ""),
    ("years_as_client", "clients", "years_as_client", "number", "", "years as client", ""),
    ("credit_rating", "clients", "credit_rating", "string", "", "credit rating", ""),
    ("tier", "clients", "tier", "string", ", ".join(f'"{t}"' for t in TIERS), "tier", "decision output"),
    ("points", "clients", "points", "number", "", "points", "decision output"),
]


def write_kade_rules(folder: Path, hit_policy: str = "F") -> Path:
    """A kade rules folder with one table ``client_tier`` under ``hit_policy``;
    C+, C<, C> and C# aggregate ``points``, the others decide ``tier``."""
    from openpyxl import Workbook

    from engine.model.rulebook import add_decision_sheet, add_glossary_sheets

    folder.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    book.remove(book.active)
    add_glossary_sheets(book, GLOSSARY, [("clients", "clients", "", "", "")])
    book.save(folder / "glossary.xlsx")
    numeric = hit_policy in ("C+", "C<", "C>", "C#")
    output = "points" if numeric else "tier"
    rules = [
        (f"T{i:02d}", *[c or "-" for c in feel_cells(r)], str(POINTS[r[5]]) if numeric else f'"{r[5]}"', f"rule {i}")
        for i, r in enumerate(RULES, 1)
    ]
    columns = [("input", name) for name in INPUTS] + [("output", output)]
    book = Workbook()
    book.remove(book.active)
    add_decision_sheet(book, "client_tier", "clients", hit_policy, columns, rules)
    book.save(folder / "client_tier.xlsx")
    return folder


# ------------------------------------------------------------ the others ----


def zen_graph() -> str:
    """The table as a GoRules JDM decision graph (JSON), hit policy first."""
    ids = [f"in_{name}" for name in INPUTS]
    rules = []
    for i, rule in enumerate(RULES, 1):
        cells = {cid: cell or "" for cid, cell in zip(ids, feel_cells(rule))}
        rules.append({"_id": f"T{i:02d}", **cells, "out_tier": f'"{rule[5]}"'})
    table = {
        "hitPolicy": "first",
        "inputs": [{"id": cid, "name": name, "field": name, "type": "expression"} for cid, name in zip(ids, INPUTS)],
        "outputs": [{"id": "out_tier", "name": "Tier", "field": "tier", "type": "expression"}],
        "rules": rules,
    }
    graph = {
        "contentType": "application/vnd.gorules.decision",
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "Request", "position": {"x": 0, "y": 0}},
            {
                "id": "tier_table",
                "type": "decisionTableNode",
                "name": "ClientTier",
                "position": {"x": 300, "y": 0},
                "content": table,
            },
            {"id": "response", "type": "outputNode", "name": "Response", "position": {"x": 600, "y": 0}},
        ],
        "edges": [
            {"id": "e1", "sourceId": "request", "targetId": "tier_table", "type": "edge"},
            {"id": "e2", "sourceId": "tier_table", "targetId": "response", "type": "edge"},
        ],
    }
    return json.dumps(graph)


def write_pydmn_workbook(path: Path) -> Path:
    """pyDMNrules' 'rules as rows' layout: table name in B2, hit policy and headings
    in row 3, a double border between the inputs and the output, one rule a row."""
    from openpyxl import Workbook
    from openpyxl.styles import Border, Side

    thin, double = Side(style="thin"), Side(style="double")
    book = Workbook()
    sheet = book.active
    sheet.title = "ClientTier"
    sheet["B2"] = "ClientTier"
    sheet["B2"].border = Border(left=thin, bottom=thin)
    last_input = len(INPUTS)

    def put(row: int, values: list, bottom: Side):
        for j, value in enumerate(values):
            cell = sheet.cell(row=row, column=2 + j, value=value)
            right = double if j == last_input else thin
            left = double if j == last_input + 1 else thin
            cell.border = Border(left=left, right=right, top=thin, bottom=bottom)

    put(3, ["F", *INPUTS, "tier"], double)
    for i, rule in enumerate(RULES, 1):
        put(3 + i, [i, *[c or "-" for c in feel_cells(rule)], f'"{rule[5]}"'], thin)
    book.save(path)
    return path


def rule_masks(df: pd.DataFrame) -> np.ndarray:
    """(rules, rows) booleans: which rules match each row, written by hand with
    pandas/numpy as an expert would for speed (text columns factorised once, each
    list test decided on the distinct values)."""
    revenue = df["annual_revenue"].to_numpy()
    years = df["years_as_client"].to_numpy()
    text = {name: pd.factorize(df[name]) for name in ("industry", "credit_rating")}

    def isin(name: str, values: list) -> np.ndarray:
        codes, uniques = text[name]
        return np.append(np.isin(np.asarray(uniques, dtype=object), values), False)[codes]

    masks = np.ones((len(RULES), len(df)), dtype=bool)
    for mask, (lo, hi, industries, min_years, ratings, _tier) in zip(masks, RULES):
        if lo is not None:
            mask &= revenue >= lo
        if hi is not None:
            mask &= revenue < hi
        if industries is not None:
            mask &= isin("industry", industries)
        if min_years is not None:
            mask &= years >= min_years
        if ratings is not None:
            mask &= isin("credit_rating", ratings)
    return masks


TIER_OF = np.array([r[5] for r in RULES] + [None], dtype=object)
RULE_IDS = np.array([f"T{i:02d}" for i in range(1, len(RULES) + 1)] + [None], dtype=object)


def pandas_masks(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The FIRST-hit table by hand: the masks, the first matching rule by np.select
    on rule numbers, then tier and rule id by lookup."""
    first = np.select(list(rule_masks(df)), list(range(len(RULES))), default=len(RULES))
    return TIER_OF[first], RULE_IDS[first]


def expected(policy: str, masks: np.ndarray) -> list:
    """What each hit policy decides per row, from the match masks (None: an error,
    for U with several matches and A with matches that disagree)."""
    tiers = TIER_OF[:-1]
    points = np.array([POINTS[t] for t in tiers], dtype=float)
    rank = np.array([TIERS.index(t) for t in tiers])
    out = []
    for matched in masks.T:
        hit = np.flatnonzero(matched)
        if policy == "F":
            out.append(tiers[hit[0]])
        elif policy == "U":
            out.append(tiers[hit[0]] if len(hit) == 1 else None)
        elif policy == "A":
            out.append(tiers[hit[0]] if len(set(tiers[hit])) == 1 else None)
        elif policy == "P":
            out.append(tiers[hit[np.argmin(rank[hit])]])
        elif policy == "C+":
            out.append(float(points[hit].sum()))
        elif policy == "C#":
            out.append(float(len(hit)))
        elif policy == "C<":
            out.append(float(points[hit].min()))
        elif policy == "C>":
            out.append(float(points[hit].max()))
        elif policy in ("C", "R"):
            out.append(list(tiers[hit]))
        else:  # O: by output priority, then rule order
            out.append(list(tiers[hit[np.argsort(rank[hit], kind="stable")]]))
    return out


def plain_python(df: pd.DataFrame) -> list:
    """Pre-compiled Python predicates, one loop over the rows (FIRST hit)."""
    tests = []
    for lo, hi, industries, min_years, ratings, tier in RULES:
        inds = frozenset(industries) if industries else None
        rats = frozenset(ratings) if ratings else None

        def test(r, lo=lo, hi=hi, inds=inds, years=min_years, rats=rats):
            return (
                (lo is None or r[0] >= lo)
                and (hi is None or r[0] < hi)
                and (inds is None or r[1] in inds)
                and (years is None or r[2] >= years)
                and (rats is None or r[3] in rats)
            )

        tests.append((test, tier))
    out = []
    for row in zip(*(df[c].tolist() for c in INPUTS)):
        out.append(next((tier for test, tier in tests if test(row)), None))
    return out
