"""kade command line: a thin shell over the ``engine`` library API."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

import click

import engine
from engine import audit
from engine.analysis import compliance, compliance_report, rules_diff, testsheets
from engine.analysis import rules_check as rule_check
from engine.errors import KadeError, RuleError
from engine.evaluation import results
from engine.evaluation.decisions import ENGINES
from engine.evaluation.durable import availability as durable_availability
from engine.io import writers
from engine.model import show

HERE = Path(__file__).resolve().parent
PROGRESS_ROWS = 50_000  # show a progress bar from this many rows on


def default_rules() -> Path:
    """--rules, else $KADE_RULES, else ./rules, else the rules shipped with kade."""
    env = os.environ.get("KADE_RULES")
    if env:
        return Path(env)
    local = Path("rules")
    return local if local.is_dir() else HERE / "rules"


def fail(error: KadeError | str, code: int = 2):
    click.secho(f"error: {error}", fg="red", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(engine.__version__, prog_name="kade")
def main():
    """kade - key-account decisions from rule tables managers edit in Excel.

    \b
    Decides client tier, contract authorization level, solution routing and
    SLA tier for every row of a workbook, with the rule that decided and why.

    \b
    Examples:
      kade evaluate workbooks/key_accounts.xlsx
    """


@main.command()
@click.argument("workbook", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Rules folder, one rule workbook, or a DMN model (.dmn). Default: $KADE_RULES, else ./rules.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write. Default: <workbook>.kade.xlsx beside the input (a folder for csv).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(writers.FORMATS),
    default=None,
    help="xlsx (default), csv (a folder, one file per sheet) or json. Guessed from -o's suffix.",
)
@click.option(
    "--engine",
    "engine_name",
    type=click.Choice(ENGINES),
    default="vectorized",
    show_default=True,
    help="Which evaluator matches rows: the vectorized one, or durable-rules (slower; a cross-check).",
)
@click.option(
    "--audit",
    "audit_location",
    default=None,
    metavar="PATH|URL",
    help="Audit database: a SQLite file or a postgresql:// URL. Default: $KADE_AUDIT, else ~/.local/share/kade/audit.sqlite.",
)
@click.option("--no-audit", is_flag=True, help="Do not record this run in the audit trail.")
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: on for 50,000+ rows in a terminal)."
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option(
    "--new-workbook",
    is_flag=True,
    help="Write a new workbook holding only the evaluated sheets, instead of a copy of an .xlsx "
    "WORKBOOK with the decision columns appended.",
)
@click.option(
    "--in-place",
    "in_place",
    is_flag=True,
    help="Write the decision columns into WORKBOOK itself (.xlsx): the original is kept as "
    "WORKBOOK.bak-<time>.xlsx; refused if the workbook holds parts that would be lost.",
)
def evaluate(
    workbook: Path,
    rules_path: Path | None,
    output: Path | None,
    fmt: str | None,
    engine_name: str,
    audit_location: str | None,
    no_audit: bool,
    progress: bool | None,
    quiet: bool,
    new_workbook: bool,
    in_place: bool,
):
    """Decide every row of WORKBOOK and write the results to a new file.

    \b
    Each decision gets three columns beside the data: its value(s), the rule
    that decided (<decision>.rule) and a one-line reason (<decision>.reason);
    kade.errors lists what was wrong with a row. The input is never modified.
    The run is recorded in the audit trail (see kade audit, kade explain).

    \b
    For an .xlsx WORKBOOK the results are a copy of it: every sheet, format,
    formula and width kept, the decision columns (green headers) appended to
    the right of each evaluated sheet's data, and a 'kade summary' sheet
    first. Other inputs (.xlsm, .xls, .ods), and the rare .xlsx kade cannot
    edit safely, give a new workbook of the evaluated sheets (as does
    --new-workbook).

    \b
    Exit status:
      0  every row decided
      1  some rows are in error (bad cell, no matching rule, missing client...);
         they are marked in the output, the other rows are decided
      2  bad rule tables, unreadable workbook, missing column, or usage error

    \b
    Examples:
      kade evaluate workbooks/key_accounts.xlsx
      kade evaluate register.xlsx --rules rules/ -o out/register-decided.xlsx
      kade evaluate register.xlsx --format json -o decisions.json
      kade evaluate register.xlsx --engine durable
      kade evaluate register.xlsx --new-workbook
      kade evaluate register.xlsx --in-place
      kade evaluate guests.csv --rules dinnerDecisions.dmn
    """
    if engine_name == "durable":
        why = durable_availability()
        if why:
            fail(f"--engine durable is unavailable: {why}")
    if in_place:
        if output is not None or fmt is not None or new_workbook:
            fail("--in-place writes into WORKBOOK itself; leave out -o/--format/--new-workbook")
        _evaluate_in_place(workbook, rules_path, engine_name, audit_location, no_audit, quiet)
    fmt = fmt or _format_from(output)
    output = output or _default_output(workbook, fmt)
    if output.resolve() == workbook.resolve():
        fail("the output would overwrite the input workbook; choose another -o")
    try:
        rules = engine.load_rules(rules_path or default_rules())
    except RuleError as exc:
        fail(exc)
    try:
        # the copy's source sheets are indexed in the background while the workbook is read and evaluated
        source = writers.source_for(workbook) if fmt == "xlsx" and not new_workbook and workbook.exists() else None
        sheets = engine.read_workbook(workbook)
        rows = engine.io.registers.bind(rules, sheets, str(workbook))
        store = None if no_audit else audit.open_store(audit_location)  # fail before any work is done
    except KadeError as exc:
        fail(exc)
    total = sum(len(r) for r in rows.values())
    show = progress if progress is not None else (total >= PROGRESS_ROWS and sys.stderr.isatty())
    with click.progressbar(
        length=len(rules.decisions) + 1,
        label=f"deciding {total:,} rows",
        file=sys.stderr,
        show_pos=True,
        hidden=not show or quiet,
    ) as bar:
        try:
            evaluation = engine.evaluate(
                rules, rows, progress=lambda _name: bar.update(1), engine=engine_name, trace=not no_audit
            )
        except KadeError as exc:  # a table durable-rules cannot express, or its worker failed
            fail(exc)
        frames = {
            evaluation.rows[e].sheet: results.result_frame(evaluation, e)
            for e in evaluation.rows
            if evaluation.for_entity(e)
        }
        summary = results.summarize(evaluation)
        bar.label = f"writing {output}"
        _write(frames, output, fmt, summary, source, {s.name: s.origin for s in sheets})
        bar.update(1)
    if source is not None and source.why_not and not quiet:
        click.echo(
            f"note: {output} is a new workbook of the evaluated sheets, not a copy of {workbook}: {source.why_not}",
            err=True,
        )
    run_id = None
    if store is not None:
        try:
            run_id = audit.record(
                store,
                evaluation,
                command="evaluate",
                engine=engine_name,
                workbook=str(workbook),
                version=engine.__version__,
            )
        except KadeError as exc:
            fail(exc)
        finally:
            store.close()
    errors = results.error_rows(evaluation)
    if not quiet:
        _print_summary(summary, evaluation.skipped, output, errors)
        if run_id:
            click.echo(f"audited as run {run_id}")
    sys.exit(1 if errors else 0)


def _format_from(output: Path | None) -> str:
    if output is not None and output.suffix.lower().lstrip(".") in writers.FORMATS:
        return output.suffix.lower().lstrip(".")
    return "csv" if output is not None and output.suffix == "" else "xlsx"


def _default_output(workbook: Path, fmt: str) -> Path:
    stem = workbook.with_name(f"{workbook.stem}.kade")
    return stem if fmt == "csv" else stem.with_suffix(f".kade.{fmt}")


def _write(frames, output: Path, fmt: str, summary, source=None, origins=None):
    if fmt == "xlsx":
        writers.write_xlsx(frames, output, results.summary_rows(summary), source, origins)
    elif fmt == "csv":
        writers.write_csv(frames, output)
    else:
        writers.write_json(frames, output, {"decisions": [s.__dict__ for s in summary]})


def _print_summary(summary, skipped: dict[str, str], output: Path, errors: int):
    for s in summary:
        if s.range:
            outcomes = f"values {s.range[0]:,.6g} … {s.range[1]:,.6g}"
        else:
            outcomes = ", ".join(f"{value} {count}" for value, count in s.outcomes[:8])
            if len(s.outcomes) > 8:
                outcomes += f", … ({len(s.outcomes) - 8} more)"
        line = f"{s.decision:<22} {s.rows:>8,} rows  {outcomes}"
        if s.errors:
            line += click.style(f"  [{s.errors:,} in error]", fg="yellow")
        click.echo(line)
    for name, why in skipped.items():
        click.echo(f"{name:<22} skipped: {why}")
    if errors:
        click.secho(f"{errors:,} row(s) in error: see the kade.errors column in {output}", fg="yellow")
    click.echo(f"wrote {output}")


# ------------------------------------------------------------------ check ------


@main.command()
@click.argument("workbook", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Rules folder or one rule workbook. Default: $KADE_RULES, else ./rules.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a report workbook (.xlsx): summary and charts, every violation, one sheet per decision.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for tools (every finding and every row not checked).",
)
@click.option(
    "--audit",
    "audit_location",
    default=None,
    metavar="PATH|URL",
    help="Audit database: a SQLite file or a postgresql:// URL. Default: $KADE_AUDIT, else ~/.local/share/kade/audit.sqlite.",
)
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: on for 50,000+ rows in a terminal)."
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors (--format json still prints the JSON).")
def check(
    workbook: Path,
    rules_path: Path | None,
    report_path: Path | None,
    fmt: str,
    audit_location: str | None,
    progress: bool | None,
    quiet: bool,
):
    """Check that the decisions recorded in WORKBOOK follow the rules.

    \b
    The glossary's 'records' column names the register columns that record a
    decision people took: 现有等级 records client_tier, 审批人级别
    required_approver, 实际设计单位 route, 销售等级 sla_tier. Each row's
    recorded value is compared with what the rules decide for that row:
      high    recorded below a minimum: a contract signed below the required
              approver (an approver above the required one is fine)
      medium  any other value that differs from the decision (an SLA sold
              above the decided tier, another design unit, another client
              tier); an approver left empty or not an allowed value
      low     any other recorded value left empty or not an allowed value
    Rows whose decision is in error are listed as not checked. The run is
    recorded in the audit trail (see kade audit, kade explain).

    \b
    Exit status:
      0  every recorded value follows the rules
      1  findings (violations, empty or unrecognised recorded values), or
         rows that could not be checked (bad cells; listed)
      2  a recorded column cannot be checked, bad rule tables, unreadable
         workbook, usage error

    \b
    Examples:
      kade check workbooks/key_accounts.xlsx
      kade check register.xlsx --report compliance.xlsx
      kade check register.xlsx --format json > findings.json
      kade check register.xlsx -q || echo "kade check: exit $?"    # cron, CI
    """
    if report_path is not None and report_path.resolve() == workbook.resolve():
        fail("the report would overwrite the register; choose another --report")
    try:
        rules = engine.load_rules(rules_path or default_rules())
        store = audit.open_store(audit_location)  # fail before any work is done
    except KadeError as exc:
        fail(exc)
    try:
        sheets = engine.read_workbook(workbook)
        total = sum(len(s.frame) for s in sheets)
        show = progress if progress is not None else (total >= PROGRESS_ROWS and sys.stderr.isatty())
        steps = compliance.progress_steps(rules) + (1 if report_path is not None else 0)
        with click.progressbar(
            length=steps, label=f"checking {total:,} rows", file=sys.stderr, show_pos=True, hidden=not show or quiet
        ) as bar:
            result = compliance.check_sheets(
                rules, sheets, source=str(workbook), trace=True, progress=lambda _step: bar.update(1)
            )
            if report_path is not None:
                bar.label = f"writing {report_path}"
                compliance_report.write_report(result, report_path)
                bar.update(1)
        run_id = audit.record(
            store,
            result.evaluation,
            command="check",
            engine="vectorized",
            workbook=str(workbook),
            version=engine.__version__,
        )
    except KadeError as exc:
        fail(exc)
    except OSError as exc:
        fail(f"cannot write {report_path}: {exc.strerror or exc}")
    finally:
        store.close()
    if fmt == "json":
        doc = {**result.to_dict(), "report": str(report_path) if report_path else None, "audit_run": run_id}
        click.echo(json.dumps(doc, ensure_ascii=False, indent=1, default=str))
    elif not quiet:
        click.echo(result.render_text(), nl=False)
        if report_path is not None:
            click.echo(f"wrote {report_path}")
        click.echo(f"audited as run {run_id}")
    sys.exit(result.exit_code)


# ------------------------------------------------------------------ rules ------


@main.group()
def rules():
    """Check, test, compare and show rule tables before publishing a change.

    Before you publish a rule change, run the three below (docs/publishing.md).

    \b
    Examples:
      kade rules check
      kade rules test --coverage
      kade rules diff HEAD:rules rules --against workbooks/key_accounts.xlsx
    """


@rules.command("check")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for tools (every finding, with cells and example row).",
)
def rules_check(path: Path | None, fmt: str):
    """Find gaps, overlaps, rules that never fire and other problems in PATH
    (a rules folder or one rule workbook; default: the rules folder).

    \b
    Every finding names its cells (file!sheet!cell) and gives an example row.
    Exit status: 0 clean (notes only), 1 errors or warnings, 2 rules unreadable.

    \b
    Examples:
      kade rules check
      kade rules check rules/contract_authorization.xlsx
      kade rules check rules --format json > findings.json
    """
    report = rule_check.check_path(path or default_rules())
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    elif report.unreadable:
        fail(report.unreadable)
    else:
        click.echo(report.render_text(), nl=False)
    sys.exit(report.exit_code)


@rules.command("test")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--engine",
    "engine_name",
    type=click.Choice(["vectorized", "durable", "all"]),
    default="vectorized",
    show_default=True,
    help="Which evaluator decides the test cases (all: every available one).",
)
@click.option("--coverage", is_flag=True, help="Also list the rules no test case hits.")
def rules_test(path: Path | None, engine_name: str, coverage: bool):
    """Run the Tests sheets of the rule workbooks in PATH (default: the rules
    folder) and compare every case with its expected results.

    \b
    Prints each failing case (expected vs actual, and why), then
    "N passed, M failed". Exit status: 0 all passed, 1 a case failed or a Tests
    sheet has a problem, 2 rules unreadable or engine not available.

    \b
    Examples:
      kade rules test
      kade rules test rules/client_tier.xlsx --coverage
      kade rules test --engine all
    """
    try:
        run = testsheets.run_tests(path or default_rules(), engines=(engine_name,))
    except KadeError as exc:
        fail(exc)
    except ValueError as exc:  # the engine asked for is not available
        fail(str(exc))
    click.echo(run.render_text(coverage=coverage), nl=False)
    sys.exit(run.exit_code)


@rules.command("diff")
@click.argument("old")
@click.argument("new")
@click.option(
    "--against",
    "workbook",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Also decide this workbook with both versions and list the rows whose decision changes.",
)
@click.option("--rows", "limit", type=int, default=20, show_default=True, help="Changed rows shown per decision.")
def rules_diff_command(old: str, new: str, workbook: Path | None, limit: int):
    """What changed from OLD to NEW: rules added, removed, moved, changed
    entries and thresholds, hit policies, glossary. OLD and NEW are folders,
    workbooks, or git revisions (REVISION:PATH).

    \b
    Examples:
      kade rules diff HEAD:rules rules
      kade rules diff HEAD~1:rules/client_tier.xlsx rules/client_tier.xlsx
      kade rules diff HEAD:rules rules --against workbooks/key_accounts.xlsx
    """
    try:
        before, after = rules_diff.load_rules_spec(old), rules_diff.load_rules_spec(new)
    except KadeError as exc:
        fail(exc)
    click.echo(rules_diff.diff_rulesets(before, after).render_text(), nl=False)
    if workbook is not None:
        try:
            impacts = rules_diff.decision_changes(before, after, workbook)
        except KadeError as exc:
            fail(exc)
        click.echo(f"\nrows of {workbook} whose decision changes:")
        click.echo(rules_diff.render_impact(impacts, limit), nl=False)


@rules.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--text", "as_text", is_flag=True, default=True, help="Plain text (the default; git's textconv line passes it)."
)
def rules_show(file: Path, as_text: bool):
    """A rule workbook as stable text: each decision table as an aligned grid,
    then the glossary and the Tests sheet. Made for reading and for git diff.

    \b
    Examples:
      kade rules show rules/client_tier.xlsx
      git config diff.kade-rules.textconv "kade rules show --text"   # with .gitattributes: rules/*.xlsx diff=kade-rules
    """
    try:
        click.echo(show.render_text(file), nl=False)
    except Exception as exc:
        fail(f"cannot read {file}: {exc}")


# -------------------------------------------------------------------- dmn ------


@main.group(name="dmn")
def dmn_group():
    """DMN standard conformance: run the DMN TCK.

    \b
    Examples:
      kade dmn tck tests/data/dmn-tck/compliance-level-2
    """


@dmn_group.command(name="tck")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--engine",
    "engine_name",
    type=click.Choice(ENGINES),
    default="vectorized",
    show_default=True,
    help="Which evaluator matches the decision-table rows.",
)
def dmn_tck(directory: Path, engine_name: str):
    """Run every *.dmn with its *-test-*.xml under DIRECTORY (the DMN TCK layout).

    \b
    Prints each failing case with expected vs actual, then 'N passed, M failed'.
    Exit status: 0 all passed · 1 some failed · 2 unreadable input.

    \b
    Examples:
      kade dmn tck tests/data/dmn-tck/compliance-level-2
      kade dmn tck tests/data/dmn-tck/compliance-level-2 --engine durable
    """
    from engine.dmn.tck import TckInputError, run_tck
    from engine.evaluation.decisions import matcher_for

    try:
        report = run_tck(directory, matcher=matcher_for(engine_name))
    except TckInputError as exc:
        fail(exc)
    for line in report.lines():
        click.echo(line)
    sys.exit(0 if report.failed == 0 else 1)


@rules.command(name="export")
@click.argument("rules_path", metavar="RULES", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The .dmn file to write."
)
@click.option("--name", default=None, help="Model name in the DMN (default: RULES' name).")
@click.option(
    "--dmn-version",
    type=click.Choice(["1.3", "1.4", "1.5"]),
    default="1.3",
    show_default=True,
    help="DMN version to write. 1.3 is what Camunda Modeler and dmn-js read today; kade's tables need nothing newer.",
)
def rules_export(rules_path: Path, output: Path, name: str | None, dmn_version: str):
    """Write the rule workbooks RULES (a folder or one .xlsx) as a DMN model.

    \b
    Examples:
      kade rules export rules -o key_accounts.dmn
      kade rules export rules -o key_accounts.dmn --dmn-version 1.5
    """
    from engine.dmn.export import write_dmn

    try:
        loaded = engine.load_rules(rules_path)
        write_dmn(loaded, output, name=name or rules_path.resolve().stem, dmn_version=dmn_version)
    except KadeError as exc:
        fail(exc)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    click.echo(
        f"wrote {output}: {len(loaded.decisions)} decisions, {len(loaded.variables)} glossary entries (DMN {dmn_version})"
    )


@rules.command(name="import")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="The rules folder to write (glossary.xlsx and a workbook of the decisions), or one .xlsx.",
)
def rules_import(model: Path, output: Path):
    """Write the DMN model MODEL (DMN 1.1-1.5) as rule workbooks in kade's layout.

    \b
    The folder holds glossary.xlsx (Glossary, Entities) and one sheet per decision
    table; kade evaluate --rules FOLDER then reads a register whose headers are the
    model's input names. Names keep their spaces (Monthly Salary); a model from
    another tool gets one entity, rows, read from whichever sheet has its columns.

    \b
    Examples:
      kade rules import camunda/dinnerDecisions.dmn -o rules-dinner
      kade evaluate guests.xlsx --rules rules-dinner
      kade rules import camunda/loan.dmn -o imported/loan.xlsx
    """
    from engine.dmn.workbook import import_dmn

    try:
        summary = import_dmn(model, output)
    except KadeError as exc:
        fail(exc)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    click.echo(
        f"wrote {summary.path}: {len(summary.decisions)} decision sheets, {summary.variables} glossary entries"
        + (f" ({', '.join(p.name for p in summary.files)})" if len(summary.files) > 1 else "")
    )
    for dmn_name, name in summary.renamed.items():
        click.echo(f"  {dmn_name!r} is {name} in the workbook")
    for note in summary.notes:
        click.echo(f"  note: {note}")


# ------------------------------------------------------------------ excel ------


@main.group(name="excel")
def excel_group():
    """Excel front end: a workbook with Evaluate / Why? / Check rules buttons
    (docs/excel.md).

    \b
    Examples:
      kade excel workbook register-buttons.xlsm --from register.xlsx
    """


@excel_group.command(name="workbook")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Your workbook (.xlsx/.xlsm): its sheets are copied and each data sheet gets the buttons. "
    "Default: empty data sheets with the glossary's headers.",
)
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Rules that name the data sheets. Default: $KADE_RULES, else ./rules.",
)
@click.option(
    "--python",
    "python",
    default=None,
    metavar="PATH",
    help="The Python the buttons start (written to the workbook's xlwings.conf sheet).",
)
def excel_workbook(out: Path, source: Path | None, rules_path: Path | None, python: str | None):
    """Build OUT (.xlsm): your data sheets with three buttons - Evaluate, Why?,
    Check rules - that run kade through xlwings' RunPython. The VBA is
    xlwings' own (BSD); users need Excel on Windows or macOS and Python with
    kade and the same xlwings version.

    \b
    Examples:
      kade excel workbook register-buttons.xlsm --from register.xlsx
      kade excel workbook blank.xlsm
      kade excel workbook team.xlsm --from register.xlsx --python "C:\\kade\\.venv\\Scripts\\pythonw.exe"
    """
    from engine.excel.build import build_workbook

    try:
        rules = engine.load_rules(rules_path or default_rules())
        result = build_workbook(out, rules, source, python=python)
    except KadeError as exc:
        fail(exc)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    click.echo(f"wrote {result.path}: buttons on {', '.join(result.data_sheets)}")
    for note in result.notes:
        click.echo(f"  note: {note}")


@main.command(name="serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback requires --token.",
)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option(
    "--token",
    default=None,
    envvar="KADE_SERVE_TOKEN",
    help="Required in each request's Authorization header (the clients' auth:=). Or $KADE_SERVE_TOKEN.",
)
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Rules folder or workbook. Default: $KADE_RULES, else ./rules. Re-read when a rule file changes.",
)
@click.option(
    "--max-request-mb",
    default=64,
    show_default=True,
    type=click.IntRange(1),
    help="Refuse larger requests (a 100,000-row sheet is about 30 MB).",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="A web origin allowed to call, for Office Scripts: 'https://*.officescripts.microsoftusercontent.com'.",
)
def serve_command(
    host: str, port: int, token: str | None, rules_path: Path | None, max_request_mb: int, cors_origins: tuple
):
    """Serve the Evaluate, Why? and Check rules buttons over HTTP for xlwings'
    clients: VBA RunRemotePython (xlwings add-in) and Office Scripts runPython.

    \b
    POST /xlwings/evaluate, /xlwings/why, /xlwings/check: the workbook as
    xlwings' JSON in, actions out. GET /health. Errors are plain text, which
    the clients show to the user. Stop with Ctrl+C.

    \b
    Examples:
      kade serve
      kade serve --host 0.0.0.0 --token "$KADE_TOKEN" --rules /srv/kade/rules
      kade serve --host 0.0.0.0 --token "$KADE_TOKEN" --cors-origin 'https://*.officescripts.microsoftusercontent.com'
    """
    from engine.excel.server import serve

    try:
        serve(
            host,
            port,
            token=token,
            rules_path=rules_path or default_rules(),
            max_request_mb=max_request_mb,
            cors_origins=cors_origins,
        )
    except KadeError as exc:
        fail(exc)


def _evaluate_in_place(
    workbook: Path, rules_path: Path | None, engine_name: str, audit_location: str | None, no_audit: bool, quiet: bool
):
    """kade evaluate --in-place: the decision columns into WORKBOOK itself (engine.excel.inplace)."""
    from engine.excel.inplace import evaluate_in_place

    store = None
    try:
        rules = engine.load_rules(rules_path or default_rules())
        store = None if no_audit else audit.open_store(audit_location)  # fail before any work is done
        result = evaluate_in_place(workbook, rules, trace=not no_audit, engine_name=engine_name)
        evaluation = result.outcome.evaluation
        run_id = (
            None
            if store is None
            else audit.record(
                store,
                evaluation,
                command="evaluate --in-place",
                engine=engine_name,
                workbook=str(workbook),
                version=engine.__version__,
            )
        )
    except KadeError as exc:
        fail(exc)
    finally:
        if store is not None:
            store.close()
    if not quiet:
        _print_summary(results.summarize(evaluation), evaluation.skipped, workbook, result.outcome.error_rows)
        click.echo(f"the original is kept as {result.backup}")
        for note in result.notes:
            click.echo(f"note: {note}")
        if run_id:
            click.echo(f"audited as run {run_id}")
    sys.exit(1 if result.outcome.error_rows else 0)


@contextlib.contextmanager
def _store(location: str | None):
    store = audit.open_store(location)
    try:
        yield store
    finally:
        store.close()


# ---------------------------------------------------------------- explain ------


@main.command()
@click.argument("workbook", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--row", "key", required=True, help="Row key (客户编号 C0001, 合同编号 HT2026-0008...) or Excel row number."
)
@click.option(
    "--decision", "decision_name", default=None, help="Only this decision (default: every decision of that row)."
)
@click.option(
    "--fresh", is_flag=True, help="Evaluate now with the current rules instead of reading the latest audited run."
)
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Rules for --fresh (default as for evaluate).",
)
@click.option(
    "--audit", "audit_location", default=None, metavar="PATH|URL", help="Audit database (default as for evaluate)."
)
def explain(
    workbook: Path,
    key: str,
    decision_name: str | None,
    fresh: bool,
    rules_path: Path | None,
    audit_location: str | None,
):
    """Explain in plain words why a row was decided as it was.

    \b
    Reads the latest audited run of WORKBOOK (or, with --fresh, evaluates it
    now): for each decision of the row, the value, the rule and its
    annotation, the inputs it used, and the near misses - the closest rules
    that did not fire and which condition failed.

    \b
    Examples:
      kade explain workbooks/key_accounts.xlsx --row C0007
      kade explain workbooks/key_accounts.xlsx --row HT2026-0008 --decision required_approver
      kade explain workbooks/key_accounts.xlsx --row C0001 --fresh
    """
    from engine.audit import explain as explaining

    try:
        if fresh:
            rules = engine.load_rules(rules_path or default_rules())
            evaluation = engine.evaluate_workbook(rules, workbook, trace=True)
            records = [
                (entity, row)
                for entity in evaluation.rows
                if evaluation.for_entity(entity)
                for row in audit.row_table(evaluation, entity).to_pylist()
                if key in (row["key"], str(row["row"]))
            ]
            notes = audit.rule_annotations(rules)
            source = "a fresh evaluation with the current rules"
        else:
            with _store(audit_location) as store:
                run = store.latest_run_for(str(workbook))
                if run is None:
                    fail(f"no audited run of {workbook}; run kade evaluate first, or use --fresh")
                records = store.rows(run["run_id"], key)
                notes = run.get("annotations", {})
                source = f"audited run {run['run_id']} of {run['time']} by {run['user']} (rules {', '.join(Path(f['path']).name for f in run['rule_files'])})"
    except KadeError as exc:
        fail(exc)
    if not records:
        fail(f"no row with key {key!r} in {workbook}", code=1)
    click.echo(f"From {source}:")
    for entity, row in records:
        click.echo(explaining.explain_row(entity, row, notes, decision_name))


# ------------------------------------------------------------------ audit ------


@main.group(name="audit")
def audit_group():
    """The audit trail: every kade evaluate run, every decided row, hash-chained.

    \b
    Examples:
      kade audit list
      kade audit show 20261125-150606-01e0db --row C0001
      kade audit export 20261125-150606-01e0db -o run.xlsx
      kade audit verify
    """


_audit_option = click.option(
    "--audit",
    "audit_location",
    default=None,
    metavar="PATH|URL",
    help="Audit database: SQLite file or postgresql:// URL (default: $KADE_AUDIT, else ~/.local/share/kade/audit.sqlite).",
)


@audit_group.command(name="list")
@_audit_option
def audit_list(audit_location):
    """List audited runs, oldest first.

    \b
    Examples:
      kade audit list
      kade audit list --audit postgresql://kade@db.example/kade
    """
    with _store(audit_location) as store:
        runs = store.runs()
    if not runs:
        click.echo("no audited runs")
    for run in runs:
        rows = ", ".join(f"{k} {v:,}" for k, v in run["rows"].items())
        errors = run.get("end_rows_with_errors")
        click.echo(
            f"{run['run_id']}  {run['time']}  {run['user']}@{run['host']}  {run['command']} ({run['engine']})  "
            f"{run['workbook']}  [{rows}]" + (f"  {errors} in error" if errors else "")
        )


@audit_group.command(name="show")
@click.argument("run_id")
@click.option("--row", "key", default=None, help="Only this row key.")
@_audit_option
def audit_show(run_id, key, audit_location):
    """Show one run: who, when, which rule files (SHA-256), and its rows.

    \b
    Examples:
      kade audit show 20261125-150606-01e0db
      kade audit show 20261125-150606-01e0db --row C0001
    """
    from engine.audit import explain as explaining

    try:
        with _store(audit_location) as store:
            run = store.run(run_id)
            entries = store.rows(run["run_id"], key)
    except KadeError as exc:
        fail(exc)
    click.echo(
        f"run {run['run_id']}  {run['time']}  {run['user']}@{run['host']}  kade {run['kade_version']}  engine {run['engine']}"
    )
    click.echo(f"workbook {run['workbook']}  sha256 {run['workbook_sha256']}")
    for f in run["rule_files"]:
        click.echo(f"rules    {f['path']}  sha256 {f['sha256']}")
    click.echo("rows     " + ", ".join(f"{k} {v:,}" for k, v in run["rows"].items()))
    if key is not None and not entries:
        fail(f"no row {key!r} in run {run['run_id']}", code=1)
    if key is not None:
        for entity, row in entries:
            click.echo(explaining.explain_row(entity, row, run.get("annotations", {})))


@audit_group.command(name="export")
@click.argument("run_id")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="OUT.xlsx or OUT.json"
)
@_audit_option
def audit_export(run_id, output, audit_location):
    """Export one run's rows to xlsx (one sheet per entity) or json.

    \b
    Examples:
      kade audit export 20261125-150606-01e0db -o run.xlsx
      kade audit export 20261125-150606-01e0db -o run.json
    """
    import json

    import pandas as pd

    try:
        with _store(audit_location) as store:
            run = store.run(run_id)
            entries = store.rows(run["run_id"])
    except KadeError as exc:
        fail(exc)
    if output.suffix.lower() == ".json":
        doc = {"run": run, "rows": [{"entity": entity, **row} for entity, row in entries]}
        with writers.atomic_path(output) as tmp:
            tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    elif output.suffix.lower() == ".xlsx":
        frames: dict[str, list] = {}
        for entity, row in entries:
            frames.setdefault(entity, []).append(row)
        sheets = {entity: pd.DataFrame(rows) for entity, rows in frames.items()}
        meta = [
            ["run", run["run_id"]],
            ["time", run["time"]],
            ["user", run["user"]],
            ["host", run["host"]],
            ["engine", run["engine"]],
            ["workbook", run["workbook"]],
            ["workbook sha256", run["workbook_sha256"]],
        ]
        meta += [["rules " + Path(f["path"]).name, f["sha256"]] for f in run["rule_files"]]
        writers.write_xlsx(sheets, output, meta)
    else:
        fail("the export file must end in .xlsx or .json")
    click.echo(f"wrote {len(entries):,} rows of run {run['run_id']} to {output}")


@audit_group.command(name="verify")
@_audit_option
def audit_verify(audit_location):
    """Check the whole hash chain; exit 1 naming the first bad record.

    \b
    Any record altered, deleted, inserted or reordered breaks the chain.
    Note the printed head hash: comparing it later also detects records
    removed from the end.

    \b
    Examples:
      kade audit verify
      kade audit verify --audit /srv/kade/audit.sqlite
    """
    try:
        with _store(audit_location) as store:
            result = store.verify()
    except KadeError as exc:
        fail(exc)
    if result.ok:
        click.echo(f"audit chain intact: {result.checked:,} records, head {result.head}")
        sys.exit(0)
    click.secho(f"audit chain broken at record {result.seq}: {result.problem}", fg="red", err=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
