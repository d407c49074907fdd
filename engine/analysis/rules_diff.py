"""What changed between two versions of the rules, in the rules' own terms.

- ``diff_rulesets(old, new)``: decisions added or removed; per decision the hit
  policy, title, rows, columns, default row; per rule (matched by rule id) added,
  removed, moved, each changed entry old → new, thresholds (``>= 450`` →
  ``>= 500`` is "threshold 450 → 500") and annotations; glossary and entities.
  Not a cell dump: a rule that only moved down a row is one line.
- ``decision_changes(old, new, workbook)``: both versions decide the same
  workbook; per decision, the rows whose result changes (before / after value
  and rule, by row key).
- ``load_rules_at("HEAD~1:rules/client_tier.xlsx")``: a rule set as it was in a
  git revision (a folder, or one workbook with its sibling workbooks so the
  glossary of the same revision is used); ``load_rules_spec`` takes either that
  or a plain path.
"""

from __future__ import annotations

import dataclasses
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine import feel
from engine.errors import Position, RuleError
from engine.evaluation.bind import bind
from engine.evaluation.columns import is_none, to_python
from engine.evaluation.decisions import Evaluation, evaluate
from engine.feel import feel_literal, feel_text
from engine.io.registers import read_workbook
from engine.model import DecisionTable, RuleSet
from engine.model.rulebook import _display_path, load_rules
from engine.text import format_value, json_value

# ------------------------------------------------------------- rule changes ----


@dataclass(frozen=True)
class Change:
    """One change a reviewer should see."""

    kind: str  # decision_added | decision_removed | decision | rule_added | rule_removed | rule_moved | entry |
    #            annotation | default | column_added | column_removed | variable_added | variable_removed |
    #            variable | entity_added | entity_removed | entity
    decision: str | None = None
    rule: str | None = None
    field: str | None = None  # the column (header) or property that changed
    old: str | None = None
    new: str | None = None
    note: str = ""  # "threshold 450 → 500", "order matters under hit policy F"
    where: str | None = None  # file!sheet!cell in the version that has it (new, else old)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class RulesetDiff:
    changes: list[Change]

    def __bool__(self) -> bool:
        return bool(self.changes)

    def to_dict(self) -> dict:
        return {"changes": [c.to_dict() for c in self.changes]}

    def render_text(self) -> str:
        return render_diff(self)


def diff_rulesets(old: RuleSet, new: RuleSet) -> RulesetDiff:
    changes: list[Change] = []
    old_tables = {t.name: t for t in old.decisions}
    new_tables = {t.name: t for t in new.decisions}
    for name, table in new_tables.items():
        if name not in old_tables:
            changes.append(
                Change(
                    "decision_added",
                    name,
                    note=f"{len(table.rules)} rules, hit policy {table.hit_policy}",
                    where=_where(table.position),
                )
            )
        else:
            changes += _diff_table(old_tables[name], table)
    for name, table in old_tables.items():
        if name not in new_tables:
            changes.append(
                Change("decision_removed", name, note=f"had {len(table.rules)} rules", where=_where(table.position))
            )
    changes += _diff_glossary(old, new)
    return RulesetDiff(changes)


def _where(position: Position | None) -> str | None:
    text = str(position) if position is not None else ""
    return text or None


def _column_key(clause) -> str:
    """Columns match by what they read (the variable), not by header spelling."""
    return feel_text(clause.expr)


def _diff_table(old: DecisionTable, new: DecisionTable) -> list[Change]:
    out = []
    for prop, a, b in (
        ("hit policy", old.hit_policy, new.hit_policy),
        ("title", old.title, new.title),
        ("rows", old.entity, new.entity),
    ):
        if a != b:
            out.append(Change("decision", new.name, field=prop, old=a, new=b, where=_where(new.position)))
    return out + _diff_columns(old, new) + _diff_rules(old, new) + _moves(old, new)


def _diff_columns(old: DecisionTable, new: DecisionTable) -> list[Change]:
    """Inputs and outputs added or removed, and default-row changes."""
    out = []
    old_in, new_in = {_column_key(c): c for c in old.inputs}, {_column_key(c): c for c in new.inputs}
    out += [
        Change("column_added", new.name, field=c.label, note="input", where=_where(c.position))
        for key, c in new_in.items()
        if key not in old_in
    ]
    out += [
        Change("column_removed", new.name, field=c.label, note="input", where=_where(c.position))
        for key, c in old_in.items()
        if key not in new_in
    ]
    out += [
        Change("column_added", new.name, field=c.name, note="output", where=_where(c.position))
        for c in new.outputs
        if c.name not in old.output_names
    ]
    out += [
        Change("column_removed", new.name, field=c.name, note="output", where=_where(c.position))
        for c in old.outputs
        if c.name not in new.output_names
    ]
    for clause in new.outputs:
        if clause.name in old.output_names:
            before = old.outputs[old.output_names.index(clause.name)].default
            if before != clause.default:
                out.append(
                    Change(
                        "default",
                        new.name,
                        field=clause.name,
                        old=_entry(before),
                        new=_entry(clause.default),
                        where=_where(new.position),
                    )
                )
    return out


def _diff_rules(old: DecisionTable, new: DecisionTable) -> list[Change]:
    """Rules (matched by id) added, removed, and changed entry by entry."""
    out = []
    name = new.name
    old_in = {_column_key(c): j for j, c in enumerate(old.inputs)}
    old_rules = {r.id: r for r in old.rules}
    for index, rule in enumerate(new.rules):
        before = old_rules.get(rule.id)
        if before is None:
            out.append(
                Change(
                    "rule_added",
                    name,
                    rule.id,
                    new=_rule_text(new, rule),
                    note=f"row {index + 1} of {len(new.rules)}",
                    where=_where(rule.position),
                )
            )
            continue
        for j, clause in enumerate(new.inputs):
            key = _column_key(clause)
            previous = before.inputs[old_in[key]] if key in old_in else None
            if previous != rule.inputs[j] and not (previous is None and isinstance(rule.inputs[j], feel.AnyTest)):
                out.append(_entry_change(name, rule.id, clause.label, previous, rule.inputs[j], _cell(rule, j)))
        for k, output in enumerate(new.outputs):
            previous = before.outputs[old.output_names.index(output.name)] if output.name in old.output_names else None
            if previous != rule.outputs[k]:
                out.append(
                    _entry_change(
                        name, rule.id, output.name, previous, rule.outputs[k], _cell(rule, len(new.inputs) + k)
                    )
                )
        if before.annotation != rule.annotation:
            out.append(
                Change(
                    "annotation",
                    name,
                    rule.id,
                    "annotation",
                    before.annotation,
                    rule.annotation,
                    where=_where(rule.position),
                )
            )
    new_ids = {r.id for r in new.rules}
    out += [
        Change("rule_removed", name, r.id, old=_rule_text(old, r), where=_where(r.position))
        for r in old.rules
        if r.id not in new_ids
    ]
    return out


def _cell(rule, j: int) -> str | None:
    return _where(rule.cells[j]) if j < len(rule.cells) else _where(rule.position)


def _entry(node) -> str:
    return feel_text(node) if node is not None else ""


def _entry_change(decision: str, rule: str, column: str, old, new, where) -> Change:
    thresholds = _thresholds(old, new) if old is not None else None
    note = ""
    if thresholds:
        note = "threshold " + ", ".join(f"{feel_literal(a)} → {feel_literal(b)}" for a, b in thresholds)
    return Change(
        "entry", decision, rule, column, _entry(old) if old is not None else "(no column)", _entry(new), note, where
    )


def _thresholds(old, new) -> list[tuple] | None:
    """The literal numbers / dates that changed when the entries are otherwise
    the same (same comparisons, same shape); None if the shape changed."""
    if type(old) is not type(new):
        return None
    if isinstance(old, feel.Literal):
        if old.type != new.type or old.type not in ("number", "date"):
            return None if old != new else []
        return [] if old.value == new.value else [(old.value, new.value)]
    if not dataclasses.is_dataclass(old):
        return [] if old == new else None
    found = []
    for f in dataclasses.fields(old):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if isinstance(a, tuple):
            if not isinstance(b, tuple) or len(a) != len(b):
                return None
            pairs = list(zip(a, b))
        else:
            pairs = [(a, b)]
        for x, y in pairs:
            sub = _thresholds(x, y) if dataclasses.is_dataclass(x) else ([] if x == y else None)
            if sub is None:
                return None
            found += sub
    return found


def _rule_text(table: DecisionTable, rule) -> str:
    """'client_score: >= 450 → client_tier "platinum"'."""
    conditions = [
        f"{c.label}: {feel_text(t)}" for c, t in zip(table.inputs, rule.inputs) if not isinstance(t, feel.AnyTest)
    ]
    results = ", ".join(f"{o.name} {feel_text(e)}" for o, e in zip(table.outputs, rule.outputs))
    return f"{'; '.join(conditions) or 'any row'} → {results}"


def _moves(old: DecisionTable, new: DecisionTable) -> list[Change]:
    """Rules whose order among the rules both versions have changed: those
    outside the longest run that kept its order."""
    common = [r.id for r in new.rules if r.id in {x.id for x in old.rules}]
    old_index = {r.id: i for i, r in enumerate(old.rules)}
    kept = _longest_increasing([old_index[i] for i in common])
    kept_ids = {common[i] for i in kept}
    matters = new.hit_policy in ("F", "R", "O", "P", "C")
    out = []
    for position, rule_id in enumerate(common):
        if rule_id in kept_ids:
            continue
        after = common[position - 1] if position else None
        out.append(
            Change(
                "rule_moved",
                new.name,
                rule_id,
                "order",
                new=f"now after {after}" if after else "now first",
                note=f"order matters under hit policy {new.hit_policy}" if matters else "",
                where=_where(new.rules[[r.id for r in new.rules].index(rule_id)].position),
            )
        )
    return out


def _longest_increasing(values: list[int]) -> list[int]:
    """Indexes of one longest strictly increasing subsequence (patience sorting)."""
    import bisect

    tails: list[int] = []
    tail_index: list[int] = []
    parent = [-1] * len(values)
    for i, v in enumerate(values):
        k = bisect.bisect_left(tails, v)
        if k == len(tails):
            tails.append(v)
            tail_index.append(i)
        else:
            tails[k], tail_index[k] = v, i
        parent[i] = tail_index[k - 1] if k else -1
    out, i = [], tail_index[-1] if tail_index else -1
    while i >= 0:
        out.append(i)
        i = parent[i]
    return out[::-1]


_VARIABLE_FIELDS = (
    ("entity", lambda v: v.entity or ""),
    ("column header", lambda v: " | ".join(v.headers)),
    ("type", lambda v: v.type),
    ("allowed values", lambda v: feel_text(v.allowed) if v.allowed is not None else ""),
    ("label", lambda v: v.label),
    ("description", lambda v: v.description),
    ("records", lambda v: v.records or ""),
    ("compare", lambda v: v.compare or ""),
)
_ENTITY_FIELDS = (
    ("sheet", lambda e: " | ".join(e.sheets)),
    ("key", lambda e: e.key),
    ("parent", lambda e: e.parent or ""),
    ("link", lambda e: " | ".join(e.link or ())),
)


def _diff_named(kind: str, old: dict, new: dict, fields, summary=lambda item: None) -> list[Change]:
    """Added, removed and changed entries of two name -> glossary item maps, field by field."""
    out = []
    for name, item in new.items():
        if name not in old:
            out.append(Change(f"{kind}_added", field=name, new=summary(item), where=_where(item.position)))
            continue
        for label, get in fields:
            a, b = get(old[name]), get(item)
            if a != b:
                out.append(Change(kind, field=f"{name} {label}", old=a, new=b, where=_where(item.position)))
    out += [
        Change(f"{kind}_removed", field=name, where=_where(item.position))
        for name, item in old.items()
        if name not in new
    ]
    return out


def _diff_glossary(old: RuleSet, new: RuleSet) -> list[Change]:
    return _diff_named(
        "variable", old.variables, new.variables, _VARIABLE_FIELDS, lambda v: f"{v.type}, {v.entity or 'no entity'}"
    ) + _diff_named("entity", old.entities, new.entities, _ENTITY_FIELDS)


# ------------------------------------------------------------- row changes -----


@dataclass(frozen=True)
class RowChange:
    """One row whose decision is different under the new rules."""

    row: int  # Excel row number in the data sheet
    key: object  # the entity's key (client_id ...) when the sheet has it
    before: dict  # output -> value (None: empty)
    after: dict
    rule_before: str | None
    rule_after: str | None
    error_before: str | None = None
    error_after: str | None = None


@dataclass
class DecisionImpact:
    decision: str
    entity: str
    sheet: str
    rows: int
    changed: list[RowChange] = field(default_factory=list)
    other_rule: int = 0  # rows with the same result, decided by another rule

    def to_dict(self) -> dict:
        return {
            "decision": self.decision,
            "entity": self.entity,
            "sheet": self.sheet,
            "rows": self.rows,
            "changed": len(self.changed),
            "other_rule": self.other_rule,
            "rows_changed": [
                {
                    "row": c.row,
                    "key": json_value(c.key),
                    "before": {k: json_value(v) for k, v in c.before.items()},
                    "after": {k: json_value(v) for k, v in c.after.items()},
                    "rule_before": c.rule_before,
                    "rule_after": c.rule_after,
                    "error_before": c.error_before,
                    "error_after": c.error_after,
                }
                for c in self.changed
            ],
        }


def decision_changes(old: RuleSet, new: RuleSet, workbook: str | Path) -> list[DecisionImpact]:
    """Decide ``workbook`` with both rule sets; per decision both have, the rows
    whose outputs (or error) differ. Raises DataError if the workbook cannot be
    used with either version (a column the new rules need is missing...)."""
    sheets = read_workbook(workbook)
    before = evaluate(old, bind(old, sheets, str(workbook)), reasons=False)
    after = evaluate(new, bind(new, sheets, str(workbook)), reasons=False)
    impacts = []
    for name in after.results:
        if name not in before.results:
            continue
        impacts.append(_impact(before, after, name))
    return impacts


def _impact(before: Evaluation, after: Evaluation, name: str) -> DecisionImpact:
    a, b = before.results[name], after.results[name]
    entity = b.decision.entity
    assert entity is not None  # only tables over an entity are evaluated
    rows = after.rows[entity]
    outputs = [o for o in b.decision.output_names if o in a.outputs]
    failed_a, failed_b = ~is_none(a.errors), ~is_none(b.errors)
    differs = failed_a != failed_b
    for out in outputs:
        differs |= ~_same_values(a.outputs[out], b.outputs[out])
    same_rule = _same_values(a.rules, b.rules)
    impact = DecisionImpact(
        name, entity, rows.sheet, len(rows), other_rule=int((~differs & ~same_rule & ~failed_a).sum())
    )
    changed = np.flatnonzero(differs)
    values = {out: (_python(a.outputs[out], changed), _python(b.outputs[out], changed)) for out in outputs}
    for k, i in enumerate(changed):  # Python objects for the changed rows only
        impact.changed.append(
            RowChange(
                int(i) + 2,
                rows.keys[i] if rows.keys is not None else None,
                {o: values[o][0][k] for o in outputs},
                {o: values[o][1][k] for o in outputs},
                a.rules[i],
                b.rules[i],
                a.errors[i],
                b.errors[i],
            )
        )
    return impact


def _same_values(a, b) -> np.ndarray:
    """Row by row: equal values (two empties are equal). Columns or object arrays."""
    x, y = getattr(a, "values", a), getattr(b, "values", b)
    if x.dtype.kind == "f" and y.dtype.kind == "f":
        return (x == y) | (np.isnan(x) & np.isnan(y))
    if x.dtype.kind == "f":
        x = to_python(a.type, x)
    if y.dtype.kind == "f":
        y = to_python(b.type, y)
    return np.asarray(np.equal(x, y, dtype=object), dtype=bool)  # lists and None compare as Python does


def _python(column, rows: np.ndarray) -> np.ndarray:
    values = column.values[rows]
    return to_python(column.type, values) if column.is_float else values


# ------------------------------------------------------------- git -------------


def load_rules_spec(spec: str | Path, repo: str | Path | None = None) -> RuleSet:
    """A path on disk, or ``REVISION:PATH`` (``HEAD~1:rules/client_tier.xlsx``,
    ``main:rules``) read from git."""
    text = str(spec)
    if Path(text).exists() or ":" not in text:
        return load_rules(text)
    return load_rules_at(text, repo)


def load_rules_at(spec: str, repo: str | Path | None = None) -> RuleSet:
    """The rules of ``REVISION:PATH`` as git has them. PATH is from the
    repository root (``./`` for the current folder, as in ``git show``). For one
    workbook, the other workbooks of its folder at the same revision come along:
    the glossary is read from them. Cells are named ``REVISION:PATH!sheet!cell``."""
    revision, path = spec.split(":", 1)
    cwd = Path(repo) if repo is not None else Path.cwd()
    kind = _git(cwd, "cat-file", "-t", spec).decode().strip()
    folder = path.rstrip("/") if kind == "tree" else str(Path(path).parent)
    names = [
        n
        for n in _git(
            cwd, "ls-tree", "-z", "--name-only", f"{revision}:{folder}" if folder not in ("", ".") else f"{revision}:"
        )
        .decode()
        .split("\0")
        if n.lower().endswith((".xlsx", ".xlsm")) and not n.startswith(("~$", "."))
    ]
    if kind == "blob" and Path(path).name not in names:
        names.append(Path(path).name)
    with tempfile.TemporaryDirectory(prefix="kade-rules-") as tmp:
        target = Path(tmp) / (Path(folder).name or "rules")
        target.mkdir()
        for name in names:
            blob = f"{revision}:{folder}/{name}" if folder not in ("", ".") else f"{revision}:{name}"
            (target / name).write_bytes(_git(cwd, "show", blob))
        rules = load_rules(target if kind == "tree" else target / Path(path).name)
        label = f"{revision}:{folder}" if folder not in ("", ".") else f"{revision}:"
        # load_rules names files relative to the current folder when it can
        for shown in dict.fromkeys((_display_path(target), str(target))):
            rules = _relabel(rules, shown, label)
    return rules


def _git(cwd: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise RuleError("git is not installed: cannot read rules from a revision") from None
    if done.returncode != 0:
        raise RuleError(f"git {' '.join(args)}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def _relabel(value, old: str, new: str):
    """The same rule set with file names under ``old`` shown as ``new``."""
    if isinstance(value, Position):
        if value.file and value.file.startswith(old):
            return dataclasses.replace(value, file=new + value.file[len(old) :])
        return value
    if isinstance(value, str):
        return new + value[len(old) :] if value.startswith(old) else value
    if type(value).__module__ == feel.__name__:
        return value  # cell contents hold no file names
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(
            value, **{f.name: _relabel(getattr(value, f.name), old, new) for f in dataclasses.fields(value) if f.init}
        )
    if isinstance(value, tuple):
        return tuple(_relabel(v, old, new) for v in value)
    if isinstance(value, list):
        return [_relabel(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _relabel(v, old, new) for k, v in value.items()}
    return value


# ------------------------------------------------------------- text ------------

_SIGN = {
    "decision_added": "+",
    "rule_added": "+",
    "column_added": "+",
    "variable_added": "+",
    "entity_added": "+",
    "decision_removed": "-",
    "rule_removed": "-",
    "column_removed": "-",
    "variable_removed": "-",
    "entity_removed": "-",
}


def _line(change: Change) -> str:
    sign = _SIGN.get(change.kind, "~")
    subject = change.rule or change.field or change.decision or ""
    if change.kind == "entry":
        text = f"{change.rule}  {change.field}: {change.old} → {change.new}"
    elif change.kind in ("rule_added", "rule_removed"):
        text = f"{change.rule}  {'added' if sign == '+' else 'removed'}: {change.new or change.old}"
    elif change.kind == "rule_moved":
        text = f"{change.rule}  moved, {change.new}"
    elif change.kind == "annotation":
        text = f"{change.rule}  annotation: {change.old!r} → {change.new!r}"
    elif change.kind in ("decision", "default", "variable", "entity"):
        what = f"{change.field} of the default row" if change.kind == "default" else change.field
        text = f"{what}: {change.old or '(empty)'} → {change.new or '(empty)'}"
    elif change.kind in ("column_added", "column_removed"):
        text = f"{change.note} column {change.field} {'added' if sign == '+' else 'removed'}"
    elif change.kind in ("decision_added", "decision_removed"):
        text = f"decision {change.decision} {'added' if sign == '+' else 'removed'} ({change.note})"
        return f"  {sign} {text}"
    else:
        text = f"{subject} {change.kind.split('_')[-1]}"
    note = (
        f"   ({change.note})"
        if change.note and change.kind not in ("column_added", "column_removed", "rule_added")
        else ""
    )
    return f"  {sign} {text}{note}"


def render_diff(diff: RulesetDiff) -> str:
    if not diff.changes:
        return "no changes in the rules\n"
    lines = []
    current = object()
    for change in diff.changes:
        group = change.decision if not change.kind.startswith(("variable", "entity")) else None
        if change.kind in ("decision_added", "decision_removed"):
            group = "(decisions)"
        if group != current:
            current = group
            lines.append({None: "glossary", "(decisions)": "decisions"}.get(group, f"decision {group}"))
        lines.append(_line(change))
    return "\n".join(lines) + "\n"


def _shown(values: dict) -> str:
    if len(values) == 1:
        return format_value(next(iter(values.values())))
    return ", ".join(f"{k} {format_value(v)}" for k, v in values.items())


def render_impact(impacts: list[DecisionImpact], limit: int = 20) -> str:
    """Per decision: how many rows change, and the first ``limit`` with before → after."""
    lines = []
    for impact in impacts:
        if not impact.changed:
            continue
        lines.append(
            f"{impact.decision}: {len(impact.changed):,} of {impact.rows:,} rows change (sheet {impact.sheet})"
        )
        for change in impact.changed[:limit]:
            who = f"{change.key}" if change.key is not None else f"row {change.row}"
            moved = {k for k in change.after if change.before.get(k) != change.after[k]} or set(change.after)
            before = (
                f"error ({change.error_before})"
                if change.error_before
                else f"{_shown({k: v for k, v in change.before.items() if k in moved})} ({change.rule_before})"
            )
            after = (
                f"error ({change.error_after})"
                if change.error_after
                else f"{_shown({k: v for k, v in change.after.items() if k in moved})} ({change.rule_after})"
            )
            lines.append(f"  {who}: {before} → {after}")
        if len(impact.changed) > limit:
            lines.append(f"  … and {len(impact.changed) - limit:,} more")
    same = [i.decision for i in impacts if not i.changed]
    if same:
        lines.append(f"no row changes: {', '.join(same)}")
    moved_rule = sum(i.other_rule for i in impacts)
    if moved_rule:
        lines.append(f"{moved_rule:,} row(s) keep their result but are decided by another rule")
    total = sum(len(i.changed) for i in impacts)
    lines.append(f"{total:,} row decision(s) change")
    return "\n".join(lines) + "\n"
