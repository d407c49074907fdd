"""kade command line: a thin shell over the library. Each command collects its
options, calls one function (mostly of ``engine.pipeline``) and prints the result;
errors the user can fix come back as KadeError and leave with exit status 2."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

import engine
from engine.errors import KadeError
from engine.evaluation import ENGINES

if TYPE_CHECKING:
    from engine import pipeline

# engine.pipeline (pandas, pyarrow, the whole engine) is imported by the commands
# that evaluate, not at start-up: `kade --help` and `kade rules check` stay quick.

PROGRESS_ROWS = 50_000  # show a progress bar from this many rows on


class KadeFailure(click.ClickException):
    """Something the user can fix (bad rules, unreadable workbook, bad option):
    the message in red on stderr, exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.secho(f"error: {self.format_message()}", fg="red", err=True)


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Library errors (and files that cannot be written) as a KadeFailure."""
    try:
        yield
    except KadeError as exc:
        raise KadeFailure(str(exc)) from exc
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise KadeFailure(f"cannot write {where}{exc.strerror or exc}") from exc


def finish(code: int) -> None:
    """Leave with an exit status that is not an error of the command itself (1:
    some rows in error, findings)."""
    click.get_current_context().exit(code)


def load_rules(rules_path: Path | None):
    with reported():
        return engine.load_rules(rules_path or default_rules_path())


# ---------------------------------------------------------- shared options ------


def rules_option(help: str = "Rules folder or one rule workbook. Default: $KADE_RULES, else ./rules."):
    return click.option("--rules", "rules_path", type=click.Path(path_type=Path), default=None, help=help)


audit_option = click.option(
    "--audit",
    "audit_location",
    default=None,
    metavar="PATH|URL",
    help="Audit database: a SQLite file or a postgresql:// URL. "
    "Default: $KADE_AUDIT, else ~/.local/share/kade/audit.sqlite.",
)
no_audit_option = click.option("--no-audit", is_flag=True, help="Do not record this run in the audit trail.")
progress_option = click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: on for 50,000+ rows in a terminal)."
)


def text_or_json_option(json_holds: str):
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help=f"text for people, json for tools ({json_holds}).",
    )


engine_option = click.option(
    "--engine",
    "engine_name",
    type=click.Choice(ENGINES),
    default="vectorized",
    show_default=True,
    help="Which evaluator matches rows: the vectorized one, or durable-rules (slower; a cross-check).",
)


class ProgressBar:
    """The library's progress callbacks as a bar on stderr: shown when asked, by
    default for 50,000+ rows in a terminal; never with --quiet."""

    def __init__(self, verb: str, *, wanted: bool | None, quiet: bool):
        self.verb, self.wanted, self.quiet = verb, wanted, quiet
        self.bar: Any = None  # click's bar, made when the row count is known

    def start(self, steps: int, rows: int) -> None:
        show = self.wanted if self.wanted is not None else (rows >= PROGRESS_ROWS and sys.stderr.isatty())
        self.bar = click.progressbar(
            length=steps,
            label=f"{self.verb} {rows:,} rows",
            file=sys.stderr,
            show_pos=True,
            hidden=not show or self.quiet,
        )
        self.bar.__enter__()

    def step(self, what: str) -> None:
        if self.bar is not None:
            if what.startswith("writing"):
                self.bar.label = what
            self.bar.update(1)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def default_rules_path() -> Path:
    from engine.model.rulebook import default_rules_path

    return default_rules_path()


def audit_options(audit_location: str | None, no_audit: bool) -> pipeline.AuditOptions:
    from engine import pipeline

    return pipeline.AuditOptions(enabled=not no_audit, location=audit_location, front_end="cli")


# ------------------------------------------------------------------- main ------


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
@click.argument("workbook", type=click.Path(path_type=str))
@rules_option("Rules folder, one rule workbook, or a DMN model (.dmn). Default: $KADE_RULES, else ./rules.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=str),
    default=None,
    help="Where to write. Default: <workbook>.kade.xlsx beside the input (a folder <name>.kade for csv and parquet).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["xlsx", "csv", "json", "parquet"]),
    default=None,
    help="xlsx (default for a workbook), csv or parquet (a folder, one file per sheet; the default "
    "for tables is their own format) or json. Guessed from -o's suffix.",
)
@click.option(
    "--spark",
    "spark_master",
    default=None,
    metavar="MASTER",
    help="Decide on Apache Spark (the kade[spark] extra): local[2], spark://host:7077, yarn... "
    "WORKBOOK is then Parquet/CSV tables on any filesystem Spark reads; the results are a folder "
    "per sheet (parquet, csv or json).",
)
@engine_option
@audit_option
@no_audit_option
@progress_option
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
    workbook: str,
    rules_path: Path | None,
    output: str | None,
    fmt: str | None,
    engine_name: str,
    audit_location: str | None,
    no_audit: bool,
    progress: bool | None,
    quiet: bool,
    new_workbook: bool,
    in_place: bool,
    spark_master: str | None,
):
    """Decide every row of WORKBOOK and write the results to a new file.

    \b
    WORKBOOK is an Excel file, or Parquet/CSV tables: a file per entity
    named like its sheet (客户.parquet, 合同.csv), or a folder of them.
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
         they are marked in the output, the other rows are decided; or a
         decision the chosen --engine cannot evaluate was skipped (the reason
         and its cell are printed), the other decisions are decided
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
      kade evaluate registers/ -o decided/ --format parquet
      kade evaluate registers/ --spark "local[2]" -o decided/
      kade evaluate hdfs:///warehouse/key_accounts --spark yarn -o hdfs:///warehouse/decided
    """
    if engine_name == "durable":
        from engine.evaluation.durable import availability

        why = availability()
        if why:
            raise KadeFailure(f"--engine durable is unavailable: {why}")
    if spark_master is not None and (in_place or new_workbook or engine_name != "vectorized"):
        raise KadeFailure(
            "--spark writes new result folders with the vectorized evaluator; leave out "
            "--in-place/--new-workbook/--engine"
        )
    from engine import pipeline

    if in_place and (output is not None or fmt is not None or new_workbook):
        raise KadeFailure("--in-place writes into WORKBOOK itself; leave out -o/--format/--new-workbook")
    rules = load_rules(rules_path)
    options = audit_options(audit_location, no_audit)
    run: Any
    with reported():
        if spark_master is not None:
            from engine.spark.job import evaluate_to_files

            run = evaluate_to_files(workbook, rules, master=spark_master, output=output, fmt=fmt, audit_options=options)
        elif in_place:
            run = pipeline.evaluate_in_place(workbook, rules, engine=engine_name, audit_options=options)
        else:
            with ProgressBar("deciding", wanted=progress, quiet=quiet) as bar:
                run = pipeline.evaluate_to_file(
                    workbook,
                    rules,
                    output=output,
                    fmt=fmt,
                    engine=engine_name,
                    new_workbook=new_workbook,
                    audit_options=options,
                    progress=bar,
                )
    if not quiet:
        _print_run(run)
    finish(run.exit_code)


def _print_run(run) -> None:
    for note in run.notes:
        click.echo(f"note: {note}", err=True)
    for line in run.summary_lines():
        click.secho(line, fg="yellow" if "in error" in line else None)
    if getattr(run, "backup", None) is not None:
        click.echo(f"the original is kept as {run.backup}")
    elif run.output is not None:
        click.echo(f"wrote {run.output}")
    if run.run_id:
        click.echo(f"audited as run {run.run_id}; audit chain head {run.audit_head}")


# ------------------------------------------------------------------ check ------


@main.command()
@click.argument("workbook", type=click.Path(path_type=Path))
@rules_option()
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a report workbook (.xlsx): summary and charts, every violation, one sheet per decision.",
)
@text_or_json_option("every finding and every row not checked")
@audit_option
@no_audit_option
@progress_option
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors (--format json still prints the JSON).")
def check(
    workbook: Path,
    rules_path: Path | None,
    report_path: Path | None,
    fmt: str,
    audit_location: str | None,
    no_audit: bool,
    progress: bool | None,
    quiet: bool,
):
    """Check that the decisions recorded in WORKBOOK follow the rules.

    \b
    The glossary's 'records' column names the register columns that record a
    decision people took: 现有等级 records client_tier, 审批人级别
    required_approver, 实际设计单位 route, 销售等级 sla_tier. Each row's
    recorded value is compared with what the rules decide for that row:
      error    recorded below a minimum: a contract signed below the required
               approver (an approver above the required one is fine)
      warning  any other value that differs from the decision (an SLA sold
               above the decided tier, another design unit, another client
               tier); an approver left empty or not an allowed value
      info     any other recorded value left empty or not an allowed value
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
    from engine import pipeline

    rules = load_rules(rules_path)
    with reported(), ProgressBar("checking", wanted=progress, quiet=quiet) as bar:
        run = pipeline.check_register(
            workbook, rules, report=report_path, audit_options=audit_options(audit_location, no_audit), progress=bar
        )
    if fmt == "json":
        click.echo(json.dumps(run.to_dict(), ensure_ascii=False, indent=1, default=str))
    elif not quiet:
        click.echo(run.compliance.render_text(), nl=False)  # type: ignore[attr-defined]
        if run.report is not None:
            click.echo(f"wrote {run.report}")
        if run.run_id:
            click.echo(f"audited as run {run.run_id}; audit chain head {run.audit_head}")
    finish(run.exit_code)


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
@text_or_json_option("every finding, with cells and example row")
def rules_check(path: Path | None, fmt: str):
    """Find gaps, overlaps, rules that never fire and other problems in PATH
    (a rules folder or one rule workbook; default: the rules folder).

    \b
    Every finding names its cells (file!sheet!cell) and gives an example row.
    Exit status: 0 clean (notes only), 1 errors or warnings, 2 rules unreadable
    or not loadable (every cell that stops them loading is listed).

    \b
    Examples:
      kade rules check
      kade rules check rules/contract_authorization.xlsx
      kade rules check rules --format json > findings.json
    """
    from engine.analysis.rules_check import check_path

    report = check_path(path or default_rules_path())
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    elif report.unreadable:
        raise KadeFailure(report.unreadable)
    else:
        click.echo(report.render_text(), nl=False)
    finish(report.exit_code)


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
    from engine.analysis.testsheets import run_tests

    with reported():
        try:
            run = run_tests(path or default_rules_path(), engines=(engine_name,))
        except ValueError as exc:  # the engine asked for is not available
            raise KadeFailure(str(exc)) from exc
    click.echo(run.render_text(coverage=coverage), nl=False)
    finish(run.exit_code)


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
def rules_diff(old: str, new: str, workbook: Path | None, limit: int):
    """What changed from OLD to NEW: rules added, removed, moved, changed
    entries and thresholds, hit policies, glossary. OLD and NEW are folders,
    workbooks, or git revisions (REVISION:PATH). When NEW is a table kade rules
    learn wrote, it lists where practice departs from the policy instead: the
    thresholds that moved, the rules only practice has, and with --against the
    rows each departure covers.

    \b
    Exit status:
      0  no difference (and, with --against, no row decided differently)
      1  the rules differ, or with --against some row decisions change (for a
         learned table: practice departs from the policy)
      2  OLD or NEW cannot be read, or the workbook cannot be decided

    \b
    Examples:
      kade rules diff HEAD:rules rules
      kade rules diff HEAD~1:rules/client_tier.xlsx rules/client_tier.xlsx
      kade rules diff HEAD:rules rules --against workbooks/key_accounts.xlsx
    """
    from engine.analysis import learn
    from engine.analysis import rules_diff as diffing

    with reported():
        before, after = diffing.load_rules_spec(old), diffing.load_rules_spec(new)
        if any(learn.is_learned(t) for t in after.decisions):  # practice (kade rules learn) against policy
            lines, changed = learn.practice_vs_policy(before, after, workbook)
            click.echo("\n".join(lines))
            finish(1 if changed else 0)
        changes = diffing.diff_rulesets(before, after)
        click.echo(changes.render_text(), nl=False)
        changed_rows = 0
        if workbook is not None:
            impacts = diffing.decision_changes(before, after, workbook)
            click.echo(f"\nrows of {workbook} whose decision changes:")
            click.echo(diffing.render_impact(impacts, limit), nl=False)
            changed_rows = sum(len(i.changed) for i in impacts)
    finish(1 if changes or changed_rows else 0)


@rules.command("learn")
@click.argument("workbook", type=click.Path(exists=True, path_type=Path))
@click.option("--decision", "decision", required=True, help="The decision to learn (its name in the rules).")
@click.option(
    "--from-column",
    "from_column",
    default=None,
    help="The register column that records it. Default: the glossary variable whose 'records' names it.",
)
@click.option(
    "--inputs",
    default=None,
    metavar="NAME,NAME",
    help="Learn from these glossary inputs only. Default: the decision's inputs read from the register.",
)
@click.option(
    "--max-depth", type=click.IntRange(1, 12), default=None, help="At most this many conditions per rule (6)."
)
@click.option("--min-leaf", type=click.IntRange(1), default=None, help="At least this many rows behind each rule (10).")
@rules_option()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The learned rule workbook (.xlsx).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a report workbook: fit, departures from the policy, agreement charts.",
)
def rules_learn(
    workbook: Path,
    decision: str,
    from_column: str | None,
    inputs: str | None,
    max_depth: int | None,
    min_leaf: int | None,
    rules_path: Path | None,
    output: Path,
    report_path: Path | None,
):
    """Learn the decision table people actually follow from what WORKBOOK records,
    and show where it departs from the written policy.

    \b
    Each rule of the learned table (hit policy U) says how many rows it covers and
    how many of them were recorded so; hold-out accuracy (5-fold cross-validated)
    is printed beside the accuracy on the rows learned from. Rows whose recorded
    value is empty or not an allowed value are left out and counted. Compare the
    learned table with the policy: kade rules diff POLICY.xlsx LEARNED.xlsx --against WORKBOOK.

    \b
    Examples:
      kade rules learn workbooks/key_accounts.xlsx --decision required_approver -o learned/approval.xlsx
      kade rules learn register.xlsx --decision sla_tier --report practice.xlsx -o learned/sla.xlsx
      kade rules learn register.xlsx --decision required_approver --inputs amount,discount -o learned/a.xlsx
    """
    from engine import pipeline

    rules = load_rules(rules_path)
    names = [n.strip() for n in inputs.split(",") if n.strip()] if inputs else None
    with reported():
        run = pipeline.learn_rules(
            workbook,
            rules,
            decision,
            output=output,
            from_column=from_column,
            inputs=names,
            max_depth=max_depth,
            min_leaf=min_leaf,
            report=report_path,
        )
    click.echo("\n".join(run.table.lines()))
    click.echo("\n".join(f"  {line}" for line in run.table.rule_lines()))
    click.echo("where practice departs from the policy:" if run.departures else "practice follows the policy")
    for departure in run.departures:
        click.echo(f"  {departure.text()}")
    click.echo(f"wrote {run.output}" + (f" and {run.report}" if run.report else ""))


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
    from engine.model.show import render_text

    try:
        click.echo(render_text(file), nl=False)
    except Exception as exc:
        raise KadeFailure(f"cannot read {file}: {exc}") from exc


@rules.command(name="export")
@click.argument("rules_path", metavar="RULES", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The .dmn file to write (missing folders are made).",
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

    loaded = load_rules(rules_path)
    with reported():
        write_dmn(loaded, output, name=name or rules_path.resolve().stem, dmn_version=dmn_version)
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
    help="The rules folder to write (glossary.xlsx and a workbook of the decisions), or one .xlsx; missing folders are made.",
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

    with reported():
        summary = import_dmn(model, output)
    click.echo(
        f"wrote {summary.path}: {len(summary.decisions)} decision sheets, {summary.variables} glossary entries"
        + (f" ({', '.join(p.name for p in summary.files)})" if len(summary.files) > 1 else "")
    )
    for dmn_name, name in summary.renamed.items():
        click.echo(f"  {dmn_name!r} is {name} in the workbook")
    for note in summary.notes:
        click.echo(f"  note: {note}")


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
@engine_option
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
    from engine.dmn.tck import run_tck
    from engine.evaluation.decisions import matcher_for

    with reported():
        report = run_tck(directory, matcher=matcher_for(engine_name))
    for line in report.lines():
        click.echo(line)
    finish(0 if report.failed == 0 else 1)


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
@rules_option("Rules that name the data sheets. Default: $KADE_RULES, else ./rules.")
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

    rules = load_rules(rules_path)
    with reported():
        result = build_workbook(out, rules, source, python=python)
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
    "tokens",
    multiple=True,
    metavar="[NAME=]TOKEN",
    help="A token each request must send in its Authorization header (the clients' auth:=); give one per "
    "user as NAME=TOKEN and the audit trail records the NAME. Repeatable. Or $KADE_SERVE_TOKEN.",
)
@rules_option("Rules folder or workbook. Default: $KADE_RULES, else ./rules. Re-read when a rule file changes.")
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
@audit_option
@click.option("--no-audit", is_flag=True, help="Do not record button evaluations in the audit trail.")
def serve_command(
    host: str,
    port: int,
    tokens: tuple[str, ...],
    rules_path: Path | None,
    max_request_mb: int,
    cors_origins: tuple,
    audit_location: str | None,
    no_audit: bool,
):
    """Serve the Evaluate, Why? and Check rules buttons over HTTP for xlwings'
    clients: VBA RunRemotePython (xlwings add-in) and Office Scripts runPython.

    \b
    POST /xlwings/evaluate, /xlwings/why, /xlwings/check: the workbook as
    xlwings' JSON in, actions out (Why?: add ?worksheet=N, the active sheet's
    position among the worksheets, as the VBA macros in docs/excel.md do).
    GET /health: "ok", or what is wrong with rule files that changed and do not
    load (the last rules that loaded stay in use meanwhile). Errors are plain
    text, which the clients show to the user. Every Evaluate is recorded in the
    audit trail with the token's name (or the caller's address) as its user,
    and fills the sheet 'kade summary' with the run's id. Stop with Ctrl+C.

    \b
    Examples:
      kade serve
      kade serve --host 0.0.0.0 --token "$KADE_TOKEN" --rules /srv/kade/rules
      kade serve --host 0.0.0.0 --token "wang=$WANG_TOKEN" --token "li=$LI_TOKEN" --audit /srv/kade/audit.sqlite
      kade serve --host 0.0.0.0 --token "$KADE_TOKEN" --cors-origin 'https://*.officescripts.microsoftusercontent.com'
    """
    import os

    from engine import pipeline
    from engine.excel.server import parse_tokens, serve

    with reported():
        named = parse_tokens(
            tokens or ((os.environ["KADE_SERVE_TOKEN"],) if os.environ.get("KADE_SERVE_TOKEN") else ())
        )
        serve(
            host,
            port,
            tokens=named,
            rules_path=rules_path or default_rules_path(),
            max_request_mb=max_request_mb,
            cors_origins=cors_origins,
            audit_options=pipeline.AuditOptions(enabled=not no_audit, location=audit_location, front_end="serve"),
        )


# ---------------------------------------------------------------- explain ------


@main.command()
@click.argument("workbook", type=click.Path(path_type=Path))
@click.option(
    "--row", "key", required=True, help="Row key (客户编号 C0001, 合同编号 HT2026-0008...) or Excel row number."
)
@click.option(
    "--decision", "decision_name", default=None, help="Only this decision (default: every decision of that row)."
)
@click.option(
    "--fresh",
    is_flag=True,
    help="Evaluate now with the current rules instead of reading the latest audited run (nothing is recorded).",
)
@rules_option("Rules to explain with; implies --fresh. Default: the rules the audited run used.")
@audit_option
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
    Reads the latest audited run of WORKBOOK - from kade evaluate, kade check
    or an Evaluate button (a button run is found by the workbook's name). For
    each decision of the row: the outcome, the rule and its annotation, the
    reason with the row's values, and what would change it - the closest rules
    that give another outcome ("would be platinum if client score were >= 500
    (it is 462)"), nearest first.

    \b
    If WORKBOOK or the run's rule files have changed since the run, kade says
    so and explains from a fresh evaluation of both as they are now, showing
    the audited outcome where it differs. --fresh (or --rules) evaluates now.
    A --decision or --row that is not there exits 2 with the closest names.

    \b
    Examples:
      kade explain workbooks/key_accounts.xlsx --row C0007
      kade explain workbooks/key_accounts.xlsx --row HT2026-0008 --decision required_approver
      kade explain workbooks/key_accounts.xlsx --row C0001 --fresh
    """
    from engine import pipeline

    with reported():
        explanation = pipeline.explain_row(
            workbook, key, decision=decision_name, fresh=fresh, rules_path=rules_path, audit_location=audit_location
        )
    for note in explanation.notes:
        click.secho(f"warning: {note}", fg="yellow", err=True)
    click.echo(f"From {explanation.source}:")
    for text in explanation.texts:
        click.echo(text)


# ------------------------------------------------------------------ audit ------


@main.group(name="audit")
def audit_group():
    """The audit trail: every run and every decided row, hash-chained - from
    the command line and the Excel buttons alike.

    \b
    Examples:
      kade audit list
      kade audit show 20261125-150606-01e0db --row C0001
      kade audit export 20261125-150606-01e0db -o run.xlsx
      kade audit verify
    """


@contextlib.contextmanager
def _store(location: str | None):
    from engine import pipeline

    with reported(), pipeline.audit_store(pipeline.AuditOptions(location=location)) as store:
        yield store


@audit_group.command(name="list")
@audit_option
def audit_list(audit_location):
    """List audited runs, oldest first, with who ran them and from where (cli,
    excel-desktop, serve).

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
            f"{run['run_id']}  {run['time']}  {run['user']}@{run['host']}  {run.get('front_end', 'cli')}: "
            f"{run['command']} ({run['engine']})  {run['workbook']}  [{rows}]"
            + (f"  {errors} in error" if errors else "")
        )


@audit_group.command(name="show")
@click.argument("run_id")
@click.option("--row", "key", default=None, help="Only this row key.")
@audit_option
def audit_show(run_id, key, audit_location):
    """Show one run: who, when, from where, which rule files (SHA-256), and its rows.

    \b
    Examples:
      kade audit show 20261125-150606-01e0db
      kade audit show 20261125-150606-01e0db --row C0001
    """
    from engine import pipeline
    from engine.audit.explain import explain_row

    with _store(audit_location) as store:
        run = store.run(run_id)
        entries = store.rows(run["run_id"], key)
    click.echo(
        f"run {run['run_id']}  {run['time']}  {run['user']}@{run['host']}  {run.get('front_end', 'cli')}  "
        f"kade {run['kade_version']}  engine {run['engine']}"
    )
    click.echo(f"workbook {run['workbook']}  sha256 {run['workbook_sha256']}")
    for f in run["rule_files"]:
        click.echo(f"rules    {f['path']}  sha256 {f['sha256']}")
    click.echo("rows     " + ", ".join(f"{k} {v:,}" for k, v in run["rows"].items()))
    if key is not None and not entries:
        click.secho(f"error: no row {key!r} in run {run['run_id']}", fg="red", err=True)
        finish(1)
    if key is not None:
        rules = pipeline.rules_of_run(run)  # the reason and what would change it need the same rules
        for entity, row in entries:
            click.echo(explain_row(entity, row, run.get("annotations", {}), rules=rules))


@audit_group.command(name="export")
@click.argument("run_id")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="OUT.xlsx or OUT.json"
)
@audit_option
def audit_export(run_id, output, audit_location):
    """Export one run's rows to xlsx (one sheet per entity) or json.

    \b
    Examples:
      kade audit export 20261125-150606-01e0db -o run.xlsx
      kade audit export 20261125-150606-01e0db -o run.json
    """
    from engine import pipeline

    with reported():
        done = pipeline.export_run(run_id, output, audit_location=audit_location)
    click.echo(f"wrote {done.rows:,} rows of run {done.run_id} to {done.output}")


@audit_group.command(name="verify")
@audit_option
@click.option(
    "--head",
    "head",
    default=None,
    metavar="HASH",
    help="A head hash noted earlier (each run and each verify prints it): the chain must still hold it, "
    "so runs removed from the end are found too.",
)
def audit_verify(audit_location, head):
    """Check the whole hash chain and the database itself; exit 1 naming the
    first bad record.

    \b
    Any record altered, deleted, inserted or reordered breaks the chain; so
    does a damaged database file, a missing table or an empty chain. Nothing
    is created: a mistyped path is an error (exit 2). Runs removed from the
    end leave a shorter chain that is intact in itself: keep the head hash a
    run or verify prints somewhere else, and pass it with --head.

    \b
    Examples:
      kade audit verify
      kade audit verify --audit /srv/kade/audit.sqlite
      kade audit verify --head 5f0c3e…   # the head noted after last month's runs
    """
    if head is not None and not re.fullmatch(r"[0-9a-fA-F]{12,64}", head):
        raise KadeFailure("--head takes a head hash as printed (64 hex digits; the first 12 or more will do)")
    from engine import audit

    with reported():
        store = audit.open_store(audit_location, create=False)
    try:
        with reported():
            result = store.verify(head)
    finally:
        store.close()
    if result.ok:
        click.echo(f"audit chain intact: {result.checked:,} records, head {result.head}")
        finish(0)
    where = f"at record {result.seq}" if result.seq else "in " + store.location
    click.secho(f"audit chain not intact {where}: {result.problem}", fg="red", err=True)
    finish(1)


if __name__ == "__main__":
    main()
