"""kade command line: a thin shell over the ``engine`` library API."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

import engine
from engine import report, writers
from engine.durable import availability as durable_availability
from engine.errors import DataError, KadeError, RuleError
from engine.evaluate import ENGINES

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
    Example:
      kade evaluate workbooks/key_accounts.xlsx
    """


@main.command()
@click.argument("workbook", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rules", "rules_path", type=click.Path(path_type=Path), default=None,
              help="Rules folder or one rule workbook. Default: $KADE_RULES, else ./rules.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Where to write. Default: <workbook>.kade.xlsx beside the input (a folder for csv).")
@click.option("--format", "fmt", type=click.Choice(writers.FORMATS), default=None,
              help="xlsx (default), csv (a folder, one file per sheet) or json. Guessed from -o's suffix.")
@click.option("--engine", "engine_name", type=click.Choice(ENGINES), default="vectorized", show_default=True,
              help="Which evaluator matches rows: the vectorized one, or durable-rules (slower; a cross-check).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on for 50,000+ rows in a terminal).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def evaluate(workbook: Path, rules_path: Path | None, output: Path | None, fmt: str | None, engine_name: str,
             progress: bool | None, quiet: bool):
    """Decide every row of WORKBOOK and write the results to a new file.

    \b
    Each decision gets three columns beside the data: its value(s), the rule
    that decided (<decision>.rule) and a one-line reason (<decision>.reason);
    kade.errors lists what was wrong with a row. The input is never modified.

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
    """
    if engine_name == "durable":
        why = durable_availability()
        if why:
            fail(f"--engine durable is unavailable: {why}")
    fmt = fmt or _format_from(output)
    output = output or _default_output(workbook, fmt)
    if output.resolve() == workbook.resolve():
        fail("the output would overwrite the input workbook; choose another -o")
    try:
        rules = engine.load_rules(rules_path or default_rules())
    except RuleError as exc:
        fail(exc)
    try:
        sheets = engine.read_workbook(workbook)
        rows = engine.data.bind(rules, sheets, str(workbook))
    except DataError as exc:
        fail(exc)
    total = sum(len(r) for r in rows.values())
    show = progress if progress is not None else (total >= PROGRESS_ROWS and sys.stderr.isatty())
    with click.progressbar(length=len(rules.decisions) + 1, label=f"deciding {total:,} rows", file=sys.stderr,
                           show_pos=True, hidden=not show or quiet) as bar:
        try:
            evaluation = engine.evaluate(rules, rows, progress=lambda _name: bar.update(1), engine=engine_name)
        except KadeError as exc:  # a table durable-rules cannot express, or its worker failed
            fail(exc)
        frames = {evaluation.rows[e].sheet: report.result_frame(evaluation, e) for e in evaluation.rows if evaluation.for_entity(e)}
        summary = report.summarize(evaluation)
        bar.label = f"writing {output}"
        _write(frames, output, fmt, summary)
        bar.update(1)
    errors = report.error_rows(evaluation)
    if not quiet:
        _print_summary(summary, evaluation.skipped, output, errors)
    sys.exit(1 if errors else 0)


def _format_from(output: Path | None) -> str:
    if output is not None and output.suffix.lower().lstrip(".") in writers.FORMATS:
        return output.suffix.lower().lstrip(".")
    return "csv" if output is not None and output.suffix == "" else "xlsx"


def _default_output(workbook: Path, fmt: str) -> Path:
    stem = workbook.with_name(f"{workbook.stem}.kade")
    return stem if fmt == "csv" else stem.with_suffix(f".kade.{fmt}")


def _summary_table(summary) -> list[list]:
    rows = [["decision", "rows over", "rows", "in error", "outcomes"]]
    for s in summary:
        outcomes = (f"{s.range[0]:,.6g} … {s.range[1]:,.6g}" if s.range else
                    ", ".join(f"{value}: {count}" for value, count in s.outcomes))
        rows.append([s.decision, s.entity, s.rows, s.errors, outcomes])
    return rows


def _write(frames, output: Path, fmt: str, summary):
    if fmt == "xlsx":
        writers.write_xlsx(frames, output, _summary_table(summary))
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


if __name__ == "__main__":
    main()
