"""The jobs users start - from the command line, an Excel button or ``kade
serve`` - one function each, from inputs to a result that carries its exit
status. Front ends collect options, call one of these and show the result; the
work, including recording the run in the audit trail, is done here for all of
them alike.

    evaluate_to_file    kade evaluate WORKBOOK|TABLES [-o OUT]
    evaluate_in_place   kade evaluate WORKBOOK --in-place
    evaluate_book       the Evaluate button (desktop RunPython, kade serve)
    check_register      kade check WORKBOOK [--report OUT]
    explain_row         kade explain WORKBOOK --row KEY
    export_run          kade audit export RUN -o OUT

Exit status everywhere: 0 all decided / compliant, 1 some rows in error or
findings, 2 raised as a KadeError before anything was written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from engine import audit
from engine.audit import explain
from engine.errors import DataError, KadeError, OutputError, UsageError
from engine.evaluation import results
from engine.evaluation.bind import bind
from engine.evaluation.decisions import Evaluation, evaluate
from engine.io import writers
from engine.io.registers import formula_note
from engine.io.tables import is_tables, read_register, register_sha256
from engine.model import RuleSet
from engine.model.rulebook import default_rules_path, load_rules
from engine.text import did_you_mean
from engine.version import __version__

if TYPE_CHECKING:
    from engine.analysis.learn import Departure, LearnedTable


class Progress(Protocol):
    """Where a long job reports how far it is (a progress bar)."""

    def start(self, steps: int, rows: int) -> None:
        """Called once the input is read: ``steps`` calls of ``step`` follow."""

    def step(self, what: str) -> None:
        """One step done; ``what`` says what comes next ('writing out.xlsx')."""


class _Silent:
    def start(self, steps: int, rows: int) -> None:
        pass

    def step(self, what: str) -> None:
        pass


@dataclass(frozen=True)
class AuditOptions:
    """Whether and where a run is recorded, and who and what started it."""

    enabled: bool = True
    location: str | None = None  # a SQLite file or postgresql:// URL; None: $KADE_AUDIT, else the default
    front_end: str = "cli"
    user: str | None = None  # None: the operating-system user


NO_AUDIT = AuditOptions(enabled=False)


@contextlib.contextmanager
def audit_store(options: AuditOptions) -> Iterator[audit.AuditStore | None]:
    """The open store, or None when auditing is off. Opened before any work is done,
    so a bad location fails first."""
    if not options.enabled:
        yield None
        return
    store = audit.open_store(options.location)
    try:
        yield store
    finally:
        store.close()


def _record(store, evaluation: Evaluation, options: AuditOptions, *, command: str, run: RunInfo) -> str | None:
    """Record the run in the audit trail under ``run``'s id, time and workbook
    identity (what the results file says too); None when auditing is off."""
    if store is None:
        return None
    origin = audit.Origin(options.front_end, run.workbook, run.workbook_sha256, options.user)
    return audit.record(
        store,
        evaluation,
        command=command,
        engine=run.engine,
        origin=origin,
        version=__version__,
        run_id=run.run_id,
        time=run.time,
    )


@dataclass
class RunInfo:
    """What a results file says about the run that made it (its 'kade summary'
    sheet, its JSON): the same run id, time and hashes as the audit record."""

    run_id: str | None  # None: not recorded (--no-audit)
    time: str
    workbook: str
    workbook_sha256: str
    rule_files: list[tuple[str, str]]  # (path, sha256)
    engine: str
    rows: dict[str, int]  # entity -> rows evaluated
    error_rows: int

    @classmethod
    def of(cls, evaluation: Evaluation, workbook: Path, engine: str, recorded: bool) -> RunInfo:
        return cls(
            audit.new_run_id() if recorded else None,
            audit.now(),
            *register_identity(workbook),
            [(str(Path(f).resolve()), audit.sha256_file(f)) for f in evaluation.rules.sources],
            engine,
            {e: len(r) for e, r in evaluation.rows.items() if evaluation.for_entity(e)},
            results.error_rows(evaluation),
        )

    def rows_for_sheet(self) -> list[list]:
        """Label, value (and a hash) per line: the head of the 'kade summary' sheet."""
        return [
            ["kade run", self.run_id or "not recorded (the audit trail is off)"],
            ["time", self.time],
            ["workbook", self.workbook],
            ["workbook sha256", self.workbook_sha256],
            *(["rules", Path(path).name, sha] for path, sha in self.rule_files),
            ["engine", f"{self.engine} (kade {__version__})"],
            ["rows", ", ".join(f"{entity} {count:,}" for entity, count in self.rows.items())],
            ["rows in error", self.error_rows],
        ]

    def to_dict(self) -> dict:
        doc = dict(self.__dict__)
        doc["rule_files"] = [{"path": path, "sha256": sha} for path, sha in self.rule_files]
        return {**doc, "kade_version": __version__}


# --------------------------------------------------------------- evaluate ------


@dataclass
class EvaluationRun:
    """One evaluation as the user sees it: what was decided, where it went."""

    evaluation: Evaluation
    summary: list[results.DecisionSummary]
    error_rows: int
    output: Path | None = None  # the file written (None for a button: the workbook itself)
    run_id: str | None = None  # the audit record
    notes: list[str] = field(default_factory=list)
    audit_head: str | None = None  # the audit chain's head hash after this run: note it to detect truncation
    backup: Path | None = None  # --in-place: where the original is kept

    @property
    def exit_code(self) -> int:
        # 1: rows in error, or a decision the engine refused (the rest is decided)
        return 1 if self.error_rows or self.evaluation.refused else 0

    def summary_lines(self) -> list[str]:
        return results.summary_lines(self.summary, self.evaluation.skipped, self.error_rows)


FOLDER_FORMATS = ("csv", "parquet")  # one file per sheet in a folder


def default_output(workbook: Path, fmt: str) -> Path:
    """Beside the input, keeping its name: register.xlsx -> register.kade.xlsx
    (a folder register.kade for csv and parquet). Any other input keeps its
    suffix, so register.ods and register.xlsx never write the same file:
    register.ods -> register.ods.kade.xlsx."""
    name = workbook.stem if workbook.suffix.lower() == ".xlsx" else workbook.name
    stem = workbook.with_name(f"{name}.kade")
    return stem if fmt in FOLDER_FORMATS else workbook.with_name(f"{name}.kade.{fmt}")


def format_for(output: Path | None, data: Path | None = None) -> str:
    """The output format guessed from -o's suffix: xlsx, json, csv, parquet (no
    suffix: a csv folder). Without -o: xlsx for a workbook, and for tables the
    input's own format (parquet unless every table is a .csv)."""
    if output is not None and output.suffix.lower().lstrip(".") in writers.FORMATS:
        return output.suffix.lower().lstrip(".")
    if output is None and data is not None and is_tables(data):
        suffixes = {p.suffix.lower() for p in data.rglob("*")} if data.is_dir() else {data.suffix.lower()}
        return "csv" if ".csv" in suffixes and ".parquet" not in suffixes else "parquet"
    return "csv" if output is not None and output.suffix == "" else "xlsx"


def evaluate_to_file(
    workbook: str | Path,
    rules: RuleSet,
    *,
    output: str | Path | None = None,
    fmt: str | None = None,
    engine: str = "vectorized",
    new_workbook: bool = False,
    audit_options: AuditOptions = AuditOptions(),
    progress: Progress | None = None,
) -> EvaluationRun:
    """Decide every row of ``workbook`` (or of Parquet/CSV tables: a file per
    entity, or a folder of them) and write the results to a new file: a copy of
    an .xlsx with the decision columns appended (or a new workbook of the
    evaluated sheets, csv, json, parquet). The input is never modified."""
    workbook = Path(workbook)
    fmt = fmt or format_for(Path(output) if output is not None else None, workbook)
    out = Path(output) if output is not None else default_output(workbook, fmt)
    if out.resolve() == workbook.resolve():
        raise OutputError("the output would overwrite the input workbook; choose another -o")
    progress = progress or _Silent()
    # the copy's source sheets are indexed in the background while the workbook is read and
    # evaluated, from the end of the read's scan on
    copy = fmt == "xlsx" and not new_workbook and workbook.exists()
    source = writers.source_for(workbook, start=False) if copy else None
    sheets = read_register(workbook, scanned=source.start if source is not None else None)
    rows = bind(rules, sheets, str(workbook))
    progress.start(len(rules.decisions) + 1, sum(len(r) for r in rows.values()))
    with audit_store(audit_options) as store:
        evaluation = evaluate(rules, rows, progress=progress.step, engine=engine, trace=store is not None)
        # reasons as Arrow text, without a Python string per row; into a workbook they are made
        # as each block of rows is written, so a million rows' reasons are never held at once
        frames, computed = results.sheet_results(evaluation, deferred=fmt == "xlsx")
        summary = results.summarize(evaluation)
        info = RunInfo.of(evaluation, workbook, engine, recorded=store is not None)
        progress.step(f"writing {out}")
        _write(frames, out, fmt, summary, info, source, {s.name: s.origin for s in sheets}, computed)
        run = EvaluationRun(evaluation, summary, info.error_rows, out)
        run.notes += formula_note(sheets)
        if source is not None and source.why_not:
            run.notes.append(
                f"{out} is a new workbook of the evaluated sheets, not a copy of {workbook}: {source.why_not}"
            )
        run.run_id = _record(store, evaluation, audit_options, command="evaluate", run=info)
        run.audit_head = store.head if store is not None else None
    return run


def register_identity(data: Path) -> tuple[str, str]:
    """How the audit and the results name an input: its resolved path and SHA-256
    (of the workbook file, or of every table file of a Parquet/CSV input)."""
    if is_tables(data):
        return str(data.resolve()), register_sha256(data)
    return str(data.resolve()), audit.sha256_file(data)


def _write(frames, output: Path, fmt: str, summary, info: RunInfo, source=None, origins=None, computed=None):
    if fmt == "xlsx":
        writers.write_xlsx(
            frames, output, results.summary_rows(summary), source, origins, info.rows_for_sheet(), computed
        )
    elif fmt == "csv":
        writers.write_csv(frames, output)
    elif fmt == "parquet":
        writers.write_parquet(frames, output)
    else:
        writers.write_json(frames, output, {"run": info.to_dict(), "decisions": [s.__dict__ for s in summary]})


def evaluate_in_place(
    workbook: str | Path, rules: RuleSet, *, engine: str = "vectorized", audit_options: AuditOptions = AuditOptions()
) -> EvaluationRun:
    """Write the decision columns into the user's own .xlsx (the original kept as a
    backup beside it); refused, with nothing written, when that would lose anything."""
    from engine.excel.inplace import evaluate_in_place as write_in_place

    with audit_store(audit_options) as store:
        done = write_in_place(workbook, rules, trace=store is not None, engine_name=engine)
        evaluation = done.outcome.evaluation
        run = EvaluationRun(
            evaluation,
            results.summarize(evaluation),
            done.outcome.error_rows,
            Path(workbook),
            notes=list(done.notes),
            backup=done.backup,
        )
        info = RunInfo.of(evaluation, Path(workbook), engine, recorded=store is not None)
        run.run_id = _record(store, evaluation, audit_options, command="evaluate --in-place", run=info)
        run.audit_head = store.head if store is not None else None
    return run


def evaluate_book(
    book, rules: RuleSet, *, engine: str = "vectorized", audit_options: AuditOptions, workbook: str | None = None
) -> EvaluationRun:
    """The Evaluate button: decide every data sheet of an open workbook (a
    ``engine.excel.port.WorkbookPort``) and write the results beside the data, and
    the 'kade summary' sheet (run id, time, rule files, the decision table). The
    run records ``workbook`` (default: the book's name) and a hash of the cells
    read: an open workbook may differ from its file."""
    from engine.excel import handlers

    name = workbook or getattr(book, "name", "") or "workbook"
    with audit_store(audit_options) as store:
        outcome = handlers.evaluate(book, rules, trace=store is not None, engine_name=engine)
        evaluation = outcome.evaluation
        run = EvaluationRun(evaluation, results.summarize(evaluation), outcome.error_rows)
        info = RunInfo(
            audit.new_run_id() if store is not None else None,
            audit.now(),
            name,
            _data_hash({e: r for e, r in evaluation.rows.items() if evaluation.for_entity(e)}),
            [(str(Path(f).resolve()), audit.sha256_file(f)) for f in rules.sources],
            engine,
            {e: len(r) for e, r in evaluation.rows.items() if evaluation.for_entity(e)},
            outcome.error_rows,
        )
        run.run_id = _record(store, evaluation, audit_options, command="evaluate (button)", run=info)
    handlers.show_summary(book, info.rows_for_sheet() + [[]] + results.summary_rows(run.summary))
    return run


def _data_hash(entity_rows: dict) -> str:
    """SHA-256 of the values evaluated, sheet by sheet and column by column, as
    the rules read them (typed; unreadable cells by their message). A button
    run's stand-in for the file hash: the same cells give the same hash whether
    Excel sent them or kade read the saved file."""
    digest = hashlib.sha256()
    for entity in sorted(entity_rows):
        rows = entity_rows[entity]
        digest.update(rows.sheet.encode("utf-8"))
        for name in sorted(rows.columns):
            column = rows.columns[name]
            digest.update(name.encode("utf-8"))
            if column.is_float:
                digest.update(np.ascontiguousarray(column.values, dtype=np.float64).tobytes())
            else:
                digest.update(json.dumps(column.values.tolist(), ensure_ascii=False, default=str).encode("utf-8"))
            errors = rows.cell_errors.get(name)
            if errors is not None:
                digest.update(json.dumps(errors.tolist(), ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


# ------------------------------------------------------------------ check ------


@dataclass
class CheckRun:
    compliance: object  # engine.analysis.compliance.Compliance
    report: Path | None
    run_id: str | None
    audit_head: str | None = None  # the audit chain's head hash after this run

    @property
    def exit_code(self) -> int:
        return self.compliance.exit_code  # type: ignore[attr-defined]

    def to_dict(self) -> dict:
        doc = self.compliance.to_dict()  # type: ignore[attr-defined]
        return {
            **doc,
            "report": str(self.report) if self.report else None,
            "audit_run": self.run_id,
            "audit_head": self.audit_head,
        }


def check_register(
    workbook: str | Path,
    rules: RuleSet,
    *,
    report: str | Path | None = None,
    audit_options: AuditOptions = AuditOptions(),
    progress: Progress | None = None,
) -> CheckRun:
    """Compare the decisions a register records with what the rules decide; write
    the report workbook when asked. Raises KadeError when nothing can be checked."""
    from engine.analysis import compliance, compliance_report

    workbook = Path(workbook)
    report_path = Path(report) if report is not None else None
    if report_path is not None and report_path.resolve() == workbook.resolve():
        raise OutputError("the report would overwrite the register; choose another --report")
    progress = progress or _Silent()
    with audit_store(audit_options) as store:
        sheets = read_register(workbook)
        progress.start(compliance.progress_steps(rules) + (report_path is not None), sum(len(s.frame) for s in sheets))
        result = compliance.check_sheets(rules, sheets, source=str(workbook), trace=True, progress=progress.step)
        if report_path is not None:
            progress.step(f"writing {report_path}")
            try:
                compliance_report.write_report(result, report_path)
            except OSError as exc:
                raise OutputError(f"cannot write {report_path}: {exc.strerror or exc}") from exc
        info = RunInfo.of(result.evaluation, workbook, "vectorized", recorded=store is not None)
        run_id = _record(store, result.evaluation, audit_options, command="check", run=info)
    return CheckRun(result, report_path, run_id, store.head if store is not None else None)


# ------------------------------------------------------------------ learn ------


@dataclass
class LearnRun:
    table: LearnedTable
    output: Path  # the learned rule workbook
    departures: list[Departure]
    report: Path | None


def learn_rules(
    workbook: str | Path,
    rules: RuleSet,
    decision: str,
    *,
    output: str | Path,
    from_column: str | None = None,
    inputs: list[str] | None = None,
    max_depth: int | None = None,
    min_leaf: int | None = None,
    report: str | Path | None = None,
) -> LearnRun:
    """Learn the table a register's recorded decisions follow (`kade rules learn`),
    write it as a rule workbook, compare it with the policy and, when asked, write
    the report workbook. Raises KadeError when it cannot learn (too few rows...)."""
    from engine.analysis import learn

    workbook, out = Path(workbook), Path(output)
    if out.suffix.lower() != ".xlsx":
        raise OutputError("the learned table is a rule workbook: -o must end in .xlsx")
    if report is not None and Path(report).resolve() in (workbook.resolve(), out.resolve()):
        raise OutputError("the report would overwrite the register or the learned table; choose another --report")
    evaluation = evaluate(rules, bind(rules, read_register(workbook), str(workbook)), reasons=False)
    table = learn.learn(
        evaluation,
        decision,
        recorded_column=from_column,
        inputs=inputs,
        max_depth=max_depth or learn.DEFAULT_MAX_DEPTH,
        min_leaf=min_leaf or learn.DEFAULT_MIN_LEAF,
    )
    written = learn.write_rule_workbook(table, rules, out)
    learned = load_rules(written).decision(table.decision.name)
    found = learn.departures(table.decision, learned, table.comparison)
    report_path = learn.write_report(table, learned, found, report) if report is not None else None
    return LearnRun(table, written, found, report_path)


# ---------------------------------------------------------------- explain ------


@dataclass
class Explanation:
    source: str  # where the answer comes from: an audited run, or a fresh evaluation
    texts: list[str]  # one explanation per matching row
    notes: list[str] = field(default_factory=list)  # why the answer is not from the audited run

    @property
    def exit_code(self) -> int:
        return 0 if self.texts else 1


def explain_row(
    workbook: str | Path,
    key: str,
    *,
    decision: str | None = None,
    fresh: bool = False,
    rules_path: str | Path | None = None,
    audit_location: str | None = None,
) -> Explanation:
    """Why the row with ``key`` (its key or Excel row number) was decided so.

    From the latest audited run of the workbook (a button run is found by the
    workbook's name) while the workbook and the run's rule files are as the run
    recorded them (SHA-256); when either has changed since, from a fresh
    evaluation of both as they are now, saying so and showing the run's outcome
    where it differs - never from stale data. ``fresh`` or ``rules_path``:
    evaluate now (nothing is recorded). A decision or key that is not there is
    a UsageError naming the closest ones."""
    workbook = Path(workbook)
    if fresh or rules_path is not None:
        rules = load_rules(rules_path if rules_path is not None else default_rules_path())
        return _explain_fresh(workbook, key, rules, decision, "a fresh evaluation with the current rules")
    with audit_store(AuditOptions(location=audit_location)) as store:
        assert store is not None
        run = store.latest_run_for(str(workbook))
        if run is None:
            raise DataError(f"no audited run of {workbook}; run kade evaluate {workbook} first, or use --fresh")
        if run.get("digests"):  # a Spark run keeps digests, not rows: decide the row again
            from engine.spark.job import explain_row as explain_spark_row

            source, records, rules = explain_spark_row(run, workbook, key, rules_path)
            if not records:
                raise _no_row(key, workbook, [])
            _check_decision(decision, [row for _, row in records])
            notes = audit.rule_annotations(rules)
            return Explanation(source, [explain.explain_row(e, row, notes, decision, rules) for e, row in records])
        rules = _rules_of(run)
        changed = _changes_since(run, workbook, rules)
        records = store.rows(run["run_id"], key)
        if changed:
            note = (
                f"{' and '.join(changed)} since audited run {run['run_id']} of {run['time']}: explained from a "
                f"fresh evaluation (nothing recorded; kade evaluate {workbook} records a new run)"
            )
            recorded = {(entity, row["key"]): row for entity, row in records}
            answer = _explain_fresh(workbook, key, rules, decision, "a fresh evaluation", recorded, run["run_id"])
            answer.notes.insert(0, note)
            return answer
        if not records:
            keys = [k for chunk in store.chunks(run["run_id"]) for k in chunk.table()["key"].to_pylist()]
            raise _no_row(key, workbook, keys)
    _check_decision(decision, [row for _, row in records])
    annotations = run.get("annotations", {})
    rule_files = ", ".join(Path(f["path"]).name for f in run["rule_files"])
    source = f"audited run {run['run_id']} of {run['time']} by {run['user']} (rules {rule_files})"
    texts = [explain.explain_row(entity, row, annotations, decision, rules) for entity, row in records]
    return Explanation(source, texts)


def _explain_fresh(
    workbook: Path, key: str, rules: RuleSet, decision, source: str, recorded=None, run_id=None
) -> Explanation:
    evaluation = evaluate(rules, bind(rules, read_register(workbook), str(workbook)))
    records = []
    for entity in evaluation.rows:
        if evaluation.for_entity(entity):
            records += [(entity, row) for row in audit.rows_with_key(audit.row_table(evaluation, entity), key)]
    if not records:
        keys = [k for rows in evaluation.rows.values() if rows.keys is not None for k in rows.keys if k is not None]
        raise _no_row(key, workbook, [str(k) for k in keys])
    _check_decision(decision, [row for _, row in records])
    annotations = audit.rule_annotations(rules)
    texts = []
    for entity, row in records:
        before = (recorded or {}).get((entity, row["key"]))
        texts.append(
            explain.explain_row(
                entity, row, annotations, decision, rules, (run_id, before) if before is not None else None
            )
        )
    return Explanation(source, texts)


def _rules_of(run: dict) -> RuleSet:
    """The rules where the run read them: its one rule file, or the folder of its files."""
    files = [Path(f["path"]) for f in run["rule_files"]]
    folders = {f.parent for f in files}
    path = files[0] if len(files) == 1 else folders.pop() if len(folders) == 1 else default_rules_path()
    try:
        return load_rules(path)
    except KadeError as exc:
        raise KadeError(
            f"cannot read the rules audited run {run['run_id']} used ({path}): {exc}; "
            f"kade explain --rules RULES explains with other rules"
        ) from exc


def _changes_since(run: dict, workbook: Path, rules: RuleSet) -> list[str]:
    """What differs from what the run recorded: the workbook, the rule files."""
    changed = []
    recorded = run.get("workbook_sha256")
    if not workbook.exists():
        pass  # a button run of a workbook that is not here: nothing to compare
    elif run.get("front_end", "cli") == "cli":
        if register_identity(workbook)[1] != recorded:
            changed.append(f"{workbook} has changed")
    else:
        try:
            now = _data_hash(_entities(bind(rules, read_register(workbook), str(workbook)), run["rows"]))
        except KadeError:
            now = None
        if now != recorded:
            changed.append(f"{workbook} holds other values than the Excel button evaluated")
    differing = _changed_rule_files(run, rules)
    if differing:
        changed.append(f"the rules have changed ({', '.join(differing)})")
    return changed


def _changed_rule_files(run: dict, rules: RuleSet) -> list[str]:
    then = {Path(f["path"]).name: f["sha256"] for f in run["rule_files"]}
    now = {Path(f).name: audit.sha256_file(f) for f in rules.sources}
    return sorted(name for name in then.keys() | now.keys() if then.get(name) != now.get(name))


def rules_of_run(run: dict) -> RuleSet | None:
    """The rules an audited run used, if their files are still as it recorded
    them (then its rows can be explained in full); else None."""
    try:
        rules = _rules_of(run)
    except KadeError:
        return None
    return None if _changed_rule_files(run, rules) else rules


def _entities(rows: dict, wanted) -> dict:
    return {entity: r for entity, r in rows.items() if entity in wanted}


def _no_row(key: str, workbook: Path, keys: list[str]) -> UsageError:
    hint = did_you_mean(key, keys) or "--row takes a row key or an Excel row number"
    return UsageError(f"no row with key {key!r} in {workbook}; {hint}")


def _check_decision(decision: str | None, rows: list[dict]) -> None:
    if decision is None:
        return
    held = list(dict.fromkeys(name for row in rows for name in explain.decisions_of(row)))
    if decision in held:
        return
    hint = did_you_mean(decision, held, n=2)
    raise UsageError(
        f"no decision {decision!r} for this row; {hint + ' ' if hint else ''}(its decisions: {', '.join(held)})"
    )


# ------------------------------------------------------------------ audit ------


@dataclass
class ExportRun:
    run_id: str
    rows: int
    output: Path


def export_run(run_id: str, output: str | Path, *, audit_location: str | None = None) -> ExportRun:
    """One audited run's rows to .xlsx (one sheet per entity, the run's header on
    the summary sheet) or .json."""
    import pandas as pd

    out = Path(output)
    if out.suffix.lower() not in (".xlsx", ".json"):
        raise OutputError("the export file must end in .xlsx or .json")
    with audit_store(AuditOptions(location=audit_location)) as store:
        assert store is not None
        run = store.run(run_id)
        entries = store.rows(run["run_id"])
    if out.suffix.lower() == ".json":
        doc = {"run": run, "rows": [{"entity": entity, **row} for entity, row in entries]}
        with writers.atomic_path(out) as tmp:
            tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    else:
        frames: dict[str, list] = {}
        for entity, row in entries:
            frames.setdefault(entity, []).append(row)
        sheets = {entity: pd.DataFrame(rows) for entity, rows in frames.items()}
        meta = [
            ["run", run["run_id"]],
            ["time", run["time"]],
            ["user", run["user"]],
            ["host", run["host"]],
            ["front end", run.get("front_end", "cli")],
            ["engine", run["engine"]],
            ["workbook", run["workbook"]],
            ["workbook sha256", run["workbook_sha256"]],
        ]
        meta += [["rules " + Path(f["path"]).name, f["sha256"]] for f in run["rule_files"]]
        writers.write_xlsx(sheets, out, meta)
    return ExportRun(run["run_id"], len(entries), out)


__all__ = [
    "NO_AUDIT",
    "AuditOptions",
    "CheckRun",
    "EvaluationRun",
    "Explanation",
    "ExportRun",
    "KadeError",
    "check_register",
    "evaluate_book",
    "evaluate_in_place",
    "evaluate_to_file",
    "explain_row",
    "export_run",
    "learn_rules",
]
